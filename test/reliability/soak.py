#!/usr/bin/env python3
# antifraud soak: kamailio with the module in cluster mode on its own
# redis-server, every check on, for SOAK_MINUTES (default 20) on loopback:
#   - legitimate calls: an authenticated phone (sipp, 127.0.0.2) calling
#     abroad at a steady rate, and registering every 30 s;
#   - scanners: svmap, svwar and raw OPTIONS/INVITE scans, each from a new
#     address every few seconds;
#   - password guessing: sipp REGISTERs with wrong passwords from new
#     addresses, svcrack over a password range;
#   - toll fraud: bursts of authenticated calls with stolen accounts from
#     many addresses to international and satellite numbers;
#   - antifraud.reload every 10 s, with reload_min_interval 0;
#   - the redis-server killed (SIGKILL) at half time and started again
#     5 s later;
#   - memory sampled every 10 s: the module's shm (mod.stats), kamailio's
#     shm in use (core.shmmem), each process's pkg real_used (pkg.stats)
#     and RssAnon/VmRSS (/proc).
# At the end: no crash (every process of the start still there, no crash
# in the log), the module's shm and each process's memory flat after
# warm-up (tolerances in common.py), the concurrency count back to 0 and
# no caller left, every Redis key with a TTL. The figures go to
# build/soak-report.txt (and the samples to build/soak-samples.tsv).
# SPDX-License-Identifier: GPL-2.0-or-later
import os
import random
import re
import shutil
import subprocess
import sys
import threading
import time

from common import (ACCOUNTS, BUILD, crash_lines, h, log, memory_verdict,
                    redis_keys_without_ttl, sample, start_kamailio)

LEGIT_NUMBER = "+33123456789"
FRAUD_NUMBERS = ["+33123456789", "+4420794600", "+881612345678",
                 "+35312345678", "+4930123456"]


class Counter:
    def __init__(self):
        self.lock = threading.Lock()
        self.c = {}

    def add(self, key, n=1):
        with self.lock:
            self.c[key] = self.c.get(key, 0) + n


def sipp_counts(p):
    """(successful, failed) calls of a finished sipp run."""
    ok = re.findall(r"Successful call\s*\|\s*\d+\s*\|\s*(\d+)", p.stdout)
    bad = re.findall(r"Failed call\s*\|\s*\d+\s*\|\s*(\d+)", p.stdout)
    return (int(ok[-1]) if ok else 0), (int(bad[-1]) if bad else 0)


class Soak:
    def __init__(self, minutes, workdir):
        self.minutes = minutes
        self.workdir = workdir
        self.stop = threading.Event()
        self.n = Counter()
        self.samples = []
        self.errors = []
        self.redis = None
        self.k = None

    def target(self):
        return "%s:%d" % (self.k.ip, self.k.port)

    def run_bounded(self, args, timeout=60):
        try:
            return subprocess.run(args, capture_output=True, text=True,
                                  cwd=self.workdir, timeout=timeout)
        except subprocess.TimeoutExpired:
            self.n.add("timeouts")
            return None

    # ---- traffic

    def legit_calls(self):
        while not self.stop.is_set():
            p = h.Sipp.uac(self.workdir, self.target(), scenario="uac-auth.xml",
                           src_ip="127.0.0.2", caller="alice",
                           callee=LEGIT_NUMBER, calls=150, rate=5, timeout=60,
                           extra=["-s", "alice", "-au", "alice", "-ap",
                                  ACCOUNTS["alice"]])
            ok, bad = sipp_counts(p)
            self.n.add("legit_calls_ok", ok)
            self.n.add("legit_calls_failed", bad)

    def legit_register(self):
        while not self.stop.wait(30):
            p = h.Sipp.uac(self.workdir, self.target(), scenario="reg-auth.xml",
                           src_ip="127.0.0.2", calls=1, rate=1,
                           extra=["-s", "alice", "-au", "alice", "-ap",
                                  ACCOUNTS["alice"]])
            self.n.add("legit_register_ok" if p.returncode == 0
                       else "legit_register_failed")

    def scanners(self):
        i = 0
        while not self.stop.wait(4):
            i += 1
            src = "127.0.3.%d" % (i % 250 + 1)
            kind = i % 3
            if kind == 0:
                self.run_bounded(["svmap", "-b", src, "-p", str(self.k.port),
                                  self.k.ip], timeout=30)
                self.n.add("svmap_runs")
            elif kind == 1:
                self.run_bounded(["svwar", "-b", src, "-p", str(self.k.port),
                                  "-e", "100-160", "-m", "INVITE",
                                  "--maximumtime", "3", self.k.ip], timeout=40)
                self.n.add("svwar_runs")
            else:
                c = h.SipClient("127.0.6.%d" % (i % 250 + 1))
                try:
                    for u in range(20):
                        c.request(random.choice(["INVITE", "OPTIONS",
                                                 "REGISTER"]),
                                  "sip:%d@%s:%d" % (100 + u, self.k.ip,
                                                    self.k.port),
                                  (self.k.ip, self.k.port),
                                  user_agent="friendly-scanner",
                                  body=h.sdp("127.0.6.1"))
                        self.n.add("raw_scan_requests")
                finally:
                    c.close()

    def guessers(self):
        i = 0
        while not self.stop.wait(5):
            i += 1
            if i % 6 == 0:
                self.run_bounded(["svcrack", "-b", "127.0.4.%d" % (i % 250 + 1),
                                  "-u", "dave", "-r", "1000-1019",
                                  "--maximumtime", "2", "-p", str(self.k.port),
                                  self.k.ip], timeout=60)
                self.n.add("svcrack_runs")
                continue
            src = "127.0.5.%d" % (i % 250 + 1)
            user = random.choice(["bob", "carol"])
            h.Sipp.uac(self.workdir, self.target(), scenario="reg-guess.xml",
                       src_ip=src, calls=8, rate=10,
                       extra=["-s", user, "-au", user, "-ap",
                              "guess%d" % random.randrange(10 ** 6)])
            self.n.add("guess_runs")

    def toll_fraud(self):
        i = 0
        while not self.stop.wait(6):
            i += 1
            acct = "fraud%02d" % (i % 20 + 1)
            p = h.Sipp.uac(self.workdir, self.target(), scenario="uac-auth.xml",
                           src_ip="127.0.2.%d" % (i % 200 + 1), caller=acct,
                           callee=random.choice(FRAUD_NUMBERS), calls=40,
                           rate=20, timeout=60,
                           extra=["-s", acct, "-au", acct, "-ap",
                                  ACCOUNTS[acct]])
            ok, bad = sipp_counts(p)
            self.n.add("fraud_calls_through", ok)
            self.n.add("fraud_calls_refused", bad)

    def reloads(self):
        while not self.stop.wait(10):
            p = self.k.rpc("antifraud.reload", check=False)
            self.n.add("reloads_ok" if p.returncode == 0 else "reloads_failed")
            if p.returncode != 0:
                self.errors.append("reload: %s %s" % (p.stdout, p.stderr))

    def sampler(self):
        while True:
            try:
                self.samples.append(sample(self.k))
            except Exception as e:  # noqa: BLE001 - recorded, run goes on
                self.errors.append("sample: %r" % e)
            if self.stop.wait(10):
                return

    def redis_restart(self, at):
        if self.stop.wait(at):
            return
        log("soak: killing redis-server (SIGKILL), restarting in 5 s")
        port = self.redis.port
        self.redis.kill()
        time.sleep(5)
        self.redis = h.Redis(self.workdir, port=port).start()
        self.n.add("redis_restarts")
        log("soak: redis-server back on %d", port)

    # ---- the run

    def run(self):
        duration = self.minutes * 60
        self.redis = h.Redis(self.workdir).start()
        self.k, uas = start_kamailio(
            self.workdir, "redis://127.0.0.1:%d/0" % self.redis.port)
        # core.psx: Kamailio's process table (pkg.stats lists a process
        # only once it has reported: the cluster events process as pid 0
        # until then)
        pids0 = set(self.k.pids())
        log("soak: kamailio on %s (%d processes), redis on %d, %d min",
            self.target(), len(pids0), self.redis.port, self.minutes)
        workers = [threading.Thread(target=f, daemon=True) for f in (
            self.legit_calls, self.legit_register, self.scanners,
            self.guessers, self.toll_fraud, self.reloads, self.sampler)]
        workers.append(threading.Thread(target=self.redis_restart,
                                        args=(duration / 2,), daemon=True))
        t0 = time.time()
        for w in workers:
            w.start()
        while time.time() - t0 < duration:
            time.sleep(min(60, duration - (time.time() - t0)))
            log("soak: %.0f s, %s", time.time() - t0,
                {k: v for k, v in sorted(self.n.c.items())})
            if not self.k.alive():
                break
        self.stop.set()
        for w in workers:
            w.join(timeout=120)
        # calls in progress end (BYE), the dialogs and their slots go
        time.sleep(10)
        fails = []
        final = None
        if self.k.alive():
            final = sample(self.k)
            self.samples.append(final)
        else:
            fails.append("kamailio is not running")
        crashed = crash_lines(self.k)
        if crashed:
            fails.append("crash in the log: %s" % crashed[:3])
        gone = {p for p in pids0 if not os.path.exists("/proc/%d" % p)}
        if gone:
            fails.append("processes gone: %s" % sorted(gone))
        # every call has ended: every slot is back within seconds (the
        # releases that went to the fallback while Redis was unavailable
        # are replayed there once it answers: redis_release_queue)
        conc = h.parse_kamcmd(self.k.rpc("antifraud.concurrency").stdout) \
            if self.k.alive() else {}
        left_at_end = conc.get("total")
        deadline = time.time() + 15
        while self.k.alive() and time.time() < deadline and (
                conc.get("total") or conc.get("callers")):
            time.sleep(1)
            conc = h.parse_kamcmd(
                self.k.rpc("antifraud.concurrency").stdout)
        callers = conc.get("callers") or {}
        if conc.get("total") != 0 or callers:
            fails.append("concurrency not back to 0 within 15 s of the"
                         " traffic's end: %s" % conc)
        stats = h.parse_kamcmd(self.k.rpc("antifraud.stats").stdout) \
            if self.k.alive() else {}
        nkeys, no_ttl = redis_keys_without_ttl(self.redis)
        if no_ttl:
            fails.append("%d Redis keys without a TTL: %s" % (
                len(no_ttl), no_ttl[:10]))
        mem_lines, mem_fails = memory_verdict(self.samples)
        fails += mem_fails
        fails += ["errors during the run: %s" % e for e in self.errors[:5]]
        n = self.n.c
        legit = n.get("legit_calls_ok", 0) + n.get("legit_calls_failed", 0)
        if legit == 0 or n.get("legit_calls_ok", 0) < 0.95 * legit:
            fails.append("legitimate calls: %d of %d succeeded" % (
                n.get("legit_calls_ok", 0), legit))
        report = [
            "== antifraud soak (%s, %d min, %d samples)" % (
                time.strftime("%Y-%m-%d %H:%M"), self.minutes,
                len(self.samples)),
            "traffic: %s" % ", ".join("%s %d" % kv for kv in sorted(n.items())),
            "legitimate calls: %d of %d succeeded (%.2f %%)" % (
                n.get("legit_calls_ok", 0), legit,
                100.0 * n.get("legit_calls_ok", 0) / max(1, legit)),
            "module: %s; store entries %s; redis %s" % (
                ", ".join("%s %s" % (key, stats.get(key)) for key in (
                    "checks", "allowed", "alerts", "blocked", "errors", "bans",
                    "ban_refused", "reloads", "reload_errors",
                    "store_errors", "auth_failed", "auth_ok")),
                stats.get("store", {}).get("entries", "?"),
                stats.get("redis", {})),
            "concurrency when the traffic stopped: %s; 15 s later: total"
            " %s, callers %s" % (
                left_at_end, conc.get("total"), callers or "none"),
            "redis keys at the end: %d, without TTL: %d" % (nkeys, len(no_ttl)),
            "memory (warm-up: first quarter of the run):",
        ] + ["  " + x for x in mem_lines] + [
            "result: %s" % ("PASS" if not fails else "FAIL")]
        report += ["  " + f for f in fails]
        self.k.stop()
        h.Sipp.stop(uas)
        self.redis.kill()
        return report, fails

    def write_samples(self, path):
        with open(path, "w") as f:
            f.write("t\tmod_shm\tshm_used\tstore_entries\tpid\tdesc\tpkg\t"
                    "rss\tanon\n")
            t0 = self.samples[0]["t"] if self.samples else 0
            for s in self.samples:
                for pid, p in sorted(s["procs"].items()):
                    f.write("%.0f\t%d\t%d\t%d\t%d\t%s\t%d\t%d\t%d\n" % (
                        s["t"] - t0, s["mod_shm"], s["shm_used"],
                        s["store_entries"], pid, p["desc"], p["pkg"],
                        p["rss"], p["anon"]))


def main():
    minutes = float(os.environ.get("SOAK_MINUTES", "20"))
    workdir = os.path.join(BUILD, "soak")
    shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(workdir)
    s = Soak(minutes, workdir)
    report, fails = s.run()
    s.write_samples(os.path.join(BUILD, "soak-samples.tsv"))
    with open(os.path.join(BUILD, "soak-report.txt"), "w") as f:
        f.write("\n".join(report) + "\n")
    print("\n".join(report))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
