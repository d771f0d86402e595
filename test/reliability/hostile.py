#!/usr/bin/env python3
# antifraud hostile run (make hostile): what the Internet and tired
# operators do to a proxy, at volume, with figures.
#   1. traffic: HOSTILE_REQUESTS (default 100,000) requests mutated with a
#      fixed seed from the legitimate and attack corpora (test/data/corpus)
#      and the sipp scenarios, sent over UDP (and some over TCP) from
#      thousands of loopback addresses to kamailio with the module (every
#      check on, test/data/rules-soak.yaml.in), HOSTILE_RATE (2,000) a
#      second spread evenly, while a clean source sends OPTIONS every
#      20 ms: no worker may crash, every probe must be answered within
#      50 ms (median, p99 and max reported). The same run without the
#      module first, as a control. Kamailio as the sample cfg runs it (4
#      UDP and 4 TCP workers), logging every parse error to a file (-E);
#      kamailio and the prober scheduled ahead of other work on the
#      machine (HOSTILE_SCHED);
#   2. operators: 1,000 antifraud.reload (reload_min_interval 0) under
#      traffic (sipp calls, OPTIONS probes), with 100 reloads of a broken
#      rule file among them (refused, the rules stay): no crash, the
#      module's shm and each process's memory flat (tolerances of
#      common.py; warm-up: the first 100 reloads);
#   3. 10,000 mutated rule files through the core loader (rules_mutate.py).
# Figures in build/hostile-report.txt. Exit status 0 when all passed.
# SPDX-License-Identifier: GPL-2.0-or-later
import glob
import multiprocessing
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import threading
import time

from common import (ACCOUNTS, BUILD, HERE, crash_lines, h, log,
                    memory_verdict, percentile, sample, start_kamailio)

SEED = 17
PROBE_INTERVAL = 0.02
PROBE_DEADLINE = 0.050


# ---- the corpus and the mutator

def scenario_requests():
    """The requests of the sipp scenarios, their [keywords] filled."""
    out = []
    fill = {"remote_ip": "127.0.0.1", "local_ip": "127.0.8.1",
            "remote_port": "5060", "local_port": "5070", "transport": "UDP",
            "local_ip_type": "4", "media_ip_type": "4",
            "media_ip": "127.0.8.1", "media_port": "4000",
            "service": "alice", "caller": "alice", "callee": "+33123456789"}
    for path in glob.glob(os.path.join(h.SCENARIOS, "*.xml")):
        with open(path) as f:
            text = f.read()
        for m in re.finditer(r"<send[^>]*>\s*<!\[CDATA\[\s*(.*?)\]\]>", text,
                             re.S):
            msg = m.group(1).strip("\n")
            if re.match(r"SIP/2\.0", msg):
                continue  # a reply
            msg = re.sub(r"\[(\w+)(?::[^\]]*)?\]",
                         lambda x: fill.get(x.group(1), "x" + x.group(1)), msg)
            head, _, body = msg.partition("\n\n")
            body = body.replace("\n", "\r\n")
            head = head.replace("\n", "\r\n")
            head = re.sub(r"Content-Length: \S+",
                          "Content-Length: %d" % len(body), head)
            out.append((head + "\r\n\r\n" + body).encode())
    return out


def corpus():
    msgs = []
    for d in ("legit", "tools", "tools-reconstructed"):
        for path in sorted(glob.glob(os.path.join(h.DATA, "corpus", d,
                                                  "*.sip"))):
            with open(path, "rb") as f:
                msgs.append(f.read())
    return msgs + scenario_requests()


HOSTILE_VALUES = [b"", b" ", b"\x00", b"\xff\xfe\xfd", b"%s%n%x%p",
                  b"-1", b"4294967296", b"18446744073709551617", b"0",
                  b"A" * 8192, b"<sip:" + b"a" * 4000 + b"@x>", b'"unterminated',
                  b"<sip:alice@127.0.0.1>;tag=", b"sip:@", b"<>", b";;;;;;",
                  b"SIP/2.0/UDP [::1", b"Digest username=\"\"", b"\r\n\r\n",
                  b"Digest username=\"" + b"u" * 1000 + b"\", realm=\"127.0.0.1\", "
                  b"nonce=\"x\", uri=\"sip:x\", response=\"0\"",
                  "ünïcödé".encode(), b"\t\t\t", b"127.0.0.1:99999"]
HEADERS = [b"Via", b"From", b"To", b"Call-ID", b"CSeq", b"Contact",
           b"Max-Forwards", b"Content-Length", b"Content-Type", b"User-Agent",
           b"Authorization", b"Proxy-Authorization", b"Route",
           b"Record-Route", b"Expires", b"i", b"f", b"t", b"v", b"m", b"l"]
METHODS = [b"INVITE", b"REGISTER", b"OPTIONS", b"ACK", b"BYE", b"CANCEL",
           b"SUBSCRIBE", b"NOTIFY", b"MESSAGE", b"INFO", b"PRACK", b"UPDATE",
           b"PUBLISH", b"REFER", b"FOO", b"INVITE" * 50, b"", b"\x00"]


def mutate_sip(rng, msg, kam_host):
    """One mutated request from msg (bytes)."""
    head, sep, body = msg.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    for _ in range(rng.randint(1, 4)):
        k = rng.randrange(14)
        if k == 0 and len(lines) > 1:  # a header dropped
            del lines[rng.randrange(1, len(lines))]
        elif k == 1 and len(lines) > 1:  # a header repeated
            i = rng.randrange(1, len(lines))
            lines[i:i] = [lines[i]] * rng.choice([1, 2, 10, 70])
        elif k == 2:  # a header with a hostile value
            lines.insert(rng.randrange(1, len(lines) + 1),
                         rng.choice(HEADERS) + b": " + rng.choice(HOSTILE_VALUES))
        elif k == 3 and len(lines) > 1:  # an existing header's value
            i = rng.randrange(1, len(lines))
            name = lines[i].split(b":", 1)[0]
            lines[i] = name + b": " + rng.choice(HOSTILE_VALUES)
        elif k == 4:  # the request line
            parts = lines[0].split(b" ")
            j = rng.randrange(3)
            if j == 0:
                parts[0] = rng.choice(METHODS)
            elif j == 1 and len(parts) > 1:
                parts[1] = rng.choice([
                    b"sip:%s@%s" % (rng.choice([b"+33123456789", b"100",
                                                b"alice", b"+881612345678",
                                                b"0049301234", b"*31#+4930"]),
                                    kam_host),
                    b"sip:" + b"9" * rng.choice([30, 300, 3000]) + b"@" + kam_host,
                    b"tel:+33123456789", b"sip:", b"sip:@", b"sips:[::1]:0",
                    b"sip:%00@" + kam_host, rng.choice(HOSTILE_VALUES)])
            else:
                parts.append(rng.choice([b"SIP/3.0", b"SIP/2.0 extra", b""]))
            lines[0] = b" ".join(parts)
        elif k == 5:  # the body: SDP garbage
            body = rng.choice([
                b"v=0\r\no=- 1 1 IN IP4 999.1.1.1\r\nc=IN IP4 1.2.3\r\n",
                b"v=0\r\nc=IN IP6 ::::::\r\nc=IN IP4 127.0.1.5\r\n",
                b"c=IN IP4 " + b"1" * 500 + b"\r\n", b"\x00" * 100,
                body * rng.randint(2, 5), body[:rng.randrange(len(body) + 1)]])
        elif k == 6:  # Content-Length lies
            lines = [ln for ln in lines if not ln.lower().startswith(
                (b"content-length:", b"l:"))]
            lines.append(b"Content-Length: " + rng.choice(
                [b"0", b"-5", b"99999", b"abc", b"%d" % (len(body) + 7),
                 b"4294967297"]))
        elif k == 7:  # line ends
            joined = b"\r\n".join(lines)
            joined = joined.replace(b"\r\n", rng.choice([b"\n", b"\r", b"\r\r\n"]))
            lines = [joined]
        elif k == 8:  # compact forms and case
            lines = [re.sub(rb"^(From|To|Via|Call-ID|Contact):",
                            lambda m: {b"From": b"f:", b"To": b"t:", b"Via": b"v:",
                                       b"Call-ID": b"i:", b"Contact": b"m:"}
                            [m.group(1)], ln) if rng.random() < 0.5 else ln.upper()
                     for ln in lines]
        elif k == 9:  # many Vias
            lines.insert(1, b"Via: SIP/2.0/UDP 127.0.0.9;branch=z9hG4bK" +
                         b",SIP/2.0/UDP x;branch=y" * rng.choice([10, 200]))
        else:  # bytes
            data = bytearray(b"\r\n".join(lines))
            for _ in range(rng.randint(1, 10)):
                op = rng.randrange(3)
                i = rng.randrange(len(data) + 1)
                if op == 0 and data:
                    data[min(i, len(data) - 1)] ^= 1 << rng.randrange(8)
                elif op == 1:
                    data[i:i] = bytes(rng.randrange(256)
                                      for _ in range(rng.randint(1, 8)))
                else:
                    del data[i:i + rng.randint(1, 30)]
            lines = bytes(data).split(b"\r\n") or [b""]
    out = b"\r\n".join(lines) + sep + body
    if rng.random() < 0.05:
        out = out[:rng.randrange(len(out) + 1)]  # truncated
    return out[:65000]


# ---- probes: OPTIONS from a clean source, latency of each

def isolate(pids, sched):
    """Gives the processes pids (every thread) their place on the CPUs by
    sched: "rr" real-time round robin at priority 1 (ahead of every
    ordinary process; the kernel's real-time throttling still leaves 5 %
    to the others), "nice" the scheduling group of their session
    (autogroup: sessions share the CPUs equally whatever the nice of their
    processes) at nice -10, "none" as they are. Returns sched, or what
    was refused."""
    try:
        for pid in pids:
            if sched == "rr":
                for tid in os.listdir("/proc/%d/task" % pid):
                    os.sched_setscheduler(int(tid), os.SCHED_RR,
                                          os.sched_param(1))
            elif sched == "nice":
                with open("/proc/%d/autogroup" % pid, "w") as f:
                    f.write("-10")
    except OSError as e:
        return "%s refused (%s)" % (sched, e.strerror)
    return sched


class Prober:
    """OPTIONS from a clean source every PROBE_INTERVAL and the latency of
    each answer, in a process of its own: the sender's interpreter lock,
    garbage collector and scheduling do not delay its timestamps."""

    def __init__(self, k, sched="none"):
        self.k = k
        self.sched = sched

    def start(self):
        ctx = multiprocessing.get_context("fork")
        self.stop = ctx.Event()
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=self.run, args=(child,), daemon=True)
        self.proc.start()

    def run(self, conn):
        os.setsid()  # a session, and so a scheduling group, of its own
        isolate([os.getpid()], self.sched)  # the threads below inherit it
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.2", 0))
        self.sock.settimeout(0.2)
        self.sent = {}
        self.rtt = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.sender, daemon=True),
                        threading.Thread(target=self.receiver, daemon=True)]
        for t in self.threads:
            t.start()
        self.stop.wait()
        time.sleep(1.0)
        for t in self.threads:
            t.join(timeout=5)
        self.lost = len(self.sent)
        self.sock.close()
        conn.send(self.figures())

    def sender(self):
        n = 0
        ip, port = self.k.ip, self.k.port
        lport = self.sock.getsockname()[1]
        while not self.stop.is_set():
            n += 1
            cid = "probe-%d" % n
            msg = ("OPTIONS sip:%s:%d SIP/2.0\r\n"
                   "Via: SIP/2.0/UDP 127.0.0.2:%d;branch=z9hG4bKp%d;rport\r\n"
                   "Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.2>;tag=p%d\r\n"
                   "To: <sip:%s>\r\nCall-ID: %s\r\nCSeq: 1 OPTIONS\r\n"
                   "Content-Length: 0\r\n\r\n" % (ip, port, lport, n, n, ip,
                                                   cid)).encode()
            with self.lock:
                self.sent[cid] = time.monotonic()
            self.sock.sendto(msg, (ip, port))
            time.sleep(PROBE_INTERVAL)

    def receiver(self):
        while not self.stop.is_set() or self.sent:
            try:
                data = self.sock.recv(65535)
            except socket.timeout:
                if self.stop.is_set():
                    break
                continue
            now = time.monotonic()
            m = re.search(rb"Call-ID: (probe-\d+)", data)
            if m:
                with self.lock:
                    t = self.sent.pop(m.group(1).decode(), None)
                if t is not None:
                    self.rtt.append(now - t)

    def finish(self):
        self.stop.set()
        fig = self.conn.recv() if self.conn.poll(30) else None
        self.proc.join(timeout=10)
        if fig is None:
            raise AssertionError("the prober gave no figures")
        return fig

    def figures(self):
        r = sorted(self.rtt)
        return {"probes": len(r) + self.lost, "lost": self.lost,
                "max_ms": 1000 * (r[-1] if r else 0),
                "p99_ms": 1000 * percentile(r, 99),
                "median_ms": 1000 * percentile(r, 50),
                "over_50ms": sum(1 for x in r if x > PROBE_DEADLINE)}


# ---- phases

def pids_of(k):
    """Kamailio's processes (core.psx: its process table, filled at fork;
    pkg.stats lists a process only once it has reported, which a loaded
    machine may delay past the start)."""
    return set(k.pids())


def udp_drops(port):
    """Datagrams the kernel dropped on the UDP sockets bound to port (a
    receive buffer full), from /proc/net/udp's drops column."""
    n = 0
    with open("/proc/net/udp") as f:
        next(f)
        for ln in f:
            x = ln.split()
            if int(x[1].split(":")[1], 16) == port:
                n += int(x[-1])
    return n


def cpu_and_wait(pids):
    """Seconds on a CPU and waiting for one (run queue) of pids, from
    /proc/PID/schedstat."""
    run = wait = 0
    for p in pids:
        try:
            with open("/proc/%s/schedstat" % p) as f:
                x = f.read().split()
        except OSError:
            continue
        run += int(x[0])
        wait += int(x[1])
    return run / 1e9, wait / 1e9


def phase_traffic(k, count, report, rate, sched, control=False):
    """count mutated requests at rate a second, spread evenly (the
    schedule is kept to the millisecond: a burst of requests queued on
    Kamailio's socket would measure the queue, not Kamailio)."""
    rng = random.Random(SEED)
    msgs = corpus()
    kam_host = ("%s:%d" % (k.ip, k.port)).encode()
    socks = []
    for i in range(1024):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # one in 16 from the trusted trunk (127.0.0.1): its requests reach
        # af_check_dest; the others from addresses nobody trusts
        s.bind(("127.0.0.1" if i % 16 == 0 else
                "127.8.%d.%d" % (i // 250, i % 250 + 1), 0))
        s.setblocking(False)
        socks.append(s)
    prober = Prober(k, sched)
    prober.start()
    before = sample(k)
    drops0 = udp_drops(k.port)
    pids = pids_of(k)
    cpu0 = cpu_and_wait(pids)
    load0 = os.getloadavg()[0]
    t0 = time.time()
    sent = tcp = 0
    dst = (k.ip, k.port)
    late = 0
    for n in range(count):
        ahead = t0 + n / rate - time.time()
        if ahead > 0.001:
            time.sleep(ahead)
        elif ahead < -0.05:
            # the sender was held up: the schedule moves on rather than
            # sending what is late in one burst
            t0 -= ahead
            late += 1
        data = mutate_sip(rng, rng.choice(msgs), kam_host)
        if rng.random() < 0.03:  # over TCP, its own connection
            try:
                with socket.create_connection(dst, timeout=1) as c:
                    c.sendall(data)
                tcp += 1
            except OSError:
                pass
        else:
            s = socks[rng.randrange(len(socks))]
            try:
                s.sendto(data, dst)
            except OSError:
                pass
        sent += 1
        if n % 200 == 0:
            for s in socks[:64]:  # drain replies now and then
                try:
                    while True:
                        s.recv(65535)
                except OSError:
                    pass
            if n % 20000 == 0:
                log("hostile: %d requests sent", n)
                if not k.alive():
                    break
    elapsed = time.time() - t0
    time.sleep(2)
    fig = prober.finish()
    drops = udp_drops(k.port) - drops0
    cpu1 = cpu_and_wait(pids)
    load1 = os.getloadavg()[0]
    after = sample(k)
    for s in socks:
        s.close()
    fails = []
    if not k.alive():
        fails.append("kamailio died")
    report.append("== 1%s. %d mutated requests (%d over TCP) in %.0f s "
                  "(%.0f/s), seed %d, %d base requests%s" % (
                      "a" if control else "", sent, tcp, elapsed,
                      sent / elapsed, SEED, len(msgs),
                      " -- control: the same run without the module"
                      " (-A AF_WITHOUT)" if control else ""))
    if late:
        report.append("the sender fell more than 50 ms behind its schedule "
                      "%d times (held up; not caught up in bursts)" % late)
    report.append("OPTIONS probes from a clean source every %d ms: %d sent, "
                  "%d unanswered, median %.2f ms, p99 %.2f ms, max %.2f ms, "
                  "%d over 50 ms" % (PROBE_INTERVAL * 1000, fig["probes"],
                                      fig["lost"], fig["median_ms"],
                                      fig["p99_ms"], fig["max_ms"],
                                      fig["over_50ms"]))
    report.append("UDP datagrams the kernel dropped on kamailio's socket "
                  "meanwhile (its receive buffer full): %d" % drops)
    report.append("kamailio's %d processes: %.1f s on a CPU, %.1f s waiting "
                  "for one (run queue); load average %.1f before, %.1f "
                  "after" % (len(pids), cpu1[0] - cpu0[0], cpu1[1] - cpu0[1],
                             load0, load1))
    if fig["lost"]:
        fails.append("%d probes unanswered" % fig["lost"])
    if fig["max_ms"] > PROBE_DEADLINE * 1000:
        fails.append("a probe took %.1f ms (> 50 ms)" % fig["max_ms"])
    log_lines = sum(1 for _ in open(k.log_path, "rb"))
    report.append("kamailio log lines written: %d" % log_lines)
    if control:
        return []
    stats = h.parse_kamcmd(k.rpc("antifraud.stats").stdout)
    report.append("module: " + ", ".join("%s %s" % (x, stats.get(x)) for x in (
        "checks", "allowed", "alerts", "blocked", "errors", "bans",
        "ban_refused", "auth_failed")) + "; module shm %d -> %d, shm in use "
        "%d -> %d" % (before["mod_shm"], after["mod_shm"], before["shm_used"],
                      after["shm_used"]))
    return fails


def phase_reloads(k, workdir, report, sched, count=1000, bad_every=10):
    prober = Prober(k, sched)
    prober.start()
    calls = h.Sipp.uac_bg(workdir, "%s:%d" % (k.ip, k.port),
                          scenario="uac-auth.xml", src_ip="127.0.0.2",
                          caller="alice", callee="+33123456789",
                          calls=100000, rate=5, timeout=3600,
                          extra=["-s", "alice", "-au", "alice", "-ap",
                                 ACCOUNTS["alice"]])
    with open(k.rules) as f:
        good = f.read()
    bad_path = k.rules + ".bad"
    samples = [sample(k)]
    ok = refused = unexpected = 0
    t0 = time.time()
    times = []
    for i in range(1, count + 1):
        t = time.time()
        p = k.rpc("antifraud.reload", check=False)
        times.append(time.time() - t)
        if p.returncode == 0:
            ok += 1
        else:
            unexpected += 1
        if i % bad_every == 0:
            # a broken rule file: refused, the rules in force stay
            with open(bad_path, "w") as f:
                f.write(good.replace("threshold: 5", "threshold: [5"))
            os.replace(bad_path, k.rules)
            p = k.rpc("antifraud.reload", check=False)
            refused += p.returncode != 0
            with open(bad_path, "w") as f:
                f.write(good)
            os.replace(bad_path, k.rules)
        if i % 20 == 0:
            samples.append(sample(k))
        if not k.alive():
            break
    elapsed = time.time() - t0
    fig = prober.finish()
    h.Sipp.stop(calls)
    time.sleep(2)
    samples.append(sample(k))
    # warm-up: the first tenth of the reloads
    mem_lines, mem_fails = memory_verdict(samples, warm_fraction=0.1)
    fails = list(mem_fails)
    if unexpected:
        fails.append("%d good reloads refused" % unexpected)
    if refused != count // bad_every:
        fails.append("broken rule files accepted: %d of %d refused" % (
            refused, count // bad_every))
    report.append("== 2. %d reloads under traffic in %.0f s (median %.1f ms, "
                  "max %.1f ms each), %d broken rule files refused" % (
                      ok, elapsed, 1000 * percentile(times, 50),
                      1000 * max(times), refused))
    report.append("OPTIONS probes meanwhile: %d, %d unanswered, p99 %.2f ms, "
                  "max %.2f ms" % (fig["probes"], fig["lost"], fig["p99_ms"],
                                   fig["max_ms"]))
    report += ["  " + x for x in mem_lines]
    return fails


def phase_rule_files(report, count):
    p = subprocess.run([sys.executable, os.path.join(HERE, "rules_mutate.py"),
                        "--count", str(count), "--keep",
                        os.path.join(BUILD, "rules-mutate-failures")],
                       capture_output=True, text=True, timeout=3600)
    lines = (p.stdout + p.stderr).strip().splitlines()
    report.append("== 3. " + (lines[-1] if lines else "rules_mutate: no output"))
    report += ["  " + x for x in lines[:-1][:20]]
    return [] if p.returncode == 0 else ["mutated rule files: see above"]


def main():
    count = int(os.environ.get("HOSTILE_REQUESTS", "100000"))
    rate = float(os.environ.get("HOSTILE_RATE", "2000"))
    reloads = int(os.environ.get("HOSTILE_RELOADS", "1000"))
    rule_files = int(os.environ.get("HOSTILE_RULE_FILES", "10000"))
    # HOSTILE_SYSLOG=1: kamailio logs through syslog (the sample cfg's
    # setting) instead of -E to a file: the probes' latency without the
    # synchronous writes of Kamailio's parse errors (crashes are then
    # seen only as processes gone)
    syslog = os.environ.get("HOSTILE_SYSLOG") == "1"
    # HOSTILE_SCHED (rr, nice or none; see isolate()): kamailio and the
    # prober ahead of unrelated work on the machine (builds, other tests),
    # so that what is measured is kamailio, not its neighbours
    sched = os.environ.get("HOSTILE_SCHED", "rr")
    workdir = os.path.join(BUILD, "hostile")
    shutil.rmtree(workdir, ignore_errors=True)
    report = ["== antifraud hostile run (%s)%s, %d requests/s, "
              "HOSTILE_SCHED %s" % (
                  time.strftime("%Y-%m-%d %H:%M"),
                  ", kamailio logging through syslog" if syslog else "",
                  rate, sched)]
    fails = []
    if count:
        # control: the same requests to the same cfg without the module
        k, uas = start_kamailio(os.path.join(workdir, "control"),
                                extra_defines={"AF_WITHOUT": None},
                                log_stderr=not syslog)
        report.append("kamailio's scheduling: " + isolate(k.pids(), sched))
        try:
            phase_traffic(k, count, report, rate, sched, control=True)
        finally:
            k.stop()
            h.Sipp.stop(uas)
    k, uas = start_kamailio(workdir, log_stderr=not syslog)
    report.append("kamailio's scheduling: " + isolate(k.pids(), sched))
    try:
        pids0 = pids_of(k)
        log("hostile: kamailio on %s:%d, %d processes", k.ip, k.port,
            len(pids0))
        if count:
            fails += phase_traffic(k, count, report, rate, sched)
        log("hostile: traffic done; reloads")
        if k.alive() and reloads:
            fails += phase_reloads(k, workdir, report, sched, reloads)
        crashed = crash_lines(k)
        if crashed:
            fails.append("crash in the log: %s" % crashed[:3])
        if not k.alive() or pids_of(k) != pids0:
            fails.append("kamailio processes changed or died")
    finally:
        k.stop()
        h.Sipp.stop(uas)
    log("hostile: mutated rule files")
    fails += phase_rule_files(report, rule_files)
    report.append("result: %s" % ("PASS" if not fails else "FAIL"))
    report += ["  " + f for f in fails]
    with open(os.path.join(BUILD, "hostile-report%s.txt" % (
            "-syslog" if syslog else "")), "w") as f:
        f.write("\n".join(report) + "\n")
    print("\n".join(report))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
