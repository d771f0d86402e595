#!/usr/bin/env python3
# antifraud - `make bench`, Kamailio section: what the module costs per call
# against the same configuration without it (-A AF_WITHOUT), in CPU time
# (one Kamailio per mode, pinned and at real-time priority, interleaved
# rounds, paired ratios with a bootstrap interval, an A/A control for the
# noise) and in instructions counted by callgrind (exact), side by side.
# Called by utils/bench.py; alone: utils/bench_kam.py [cpu] [cg].
# SPDX-License-Identifier: GPL-2.0-or-later
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "test", "integration"))
import afharness as h  # noqa: E402

# the number the bench calls: international (France) from the sample
# profile's Germany, so that af_check_dest runs every counter and limit
CALLEE = "0033123456789"
LABELS = {"none": "without module", "shm": "module, shm",
          "redis": "module, Redis", "ctl": "loaded, no check",
          "none2": "without module (A/A)",
          "redis_all": "Redis + redis-server",
          "floor": "no module, 1 PING",
          "floor_all": "1 PING + redis-server"}
# the CPU-time modes: "none2" is a second Kamailio without the module,
# the A/A control that shows the method's own noise
CPU_MODES = ("none", "none2", "shm", "redis", "floor")
CPU_DEFINES = {"none2": "none", "floor": "none"}
# the modes whose redis-server's CPU is counted too (mode + "_all")
REDIS_MODES = ("redis", "floor")
# seconds for Kamailio's timers to free what a round of calls left (tm's
# wait timer is 5 s)
SETTLE = 6
# the CPU-time target of issue 16 for shm mode, in % per call
TARGET = 5.0
# and for Redis mode, Kamailio's processes and redis-server's counted
TARGET_REDIS = 20.0
# the memory managers' own functions (their shm wrappers call these)
ALLOC_FUNCS = ("qm_malloc", "qm_free", "qm_realloc", "tlsf_malloc",
               "tlsf_free", "tlsf_realloc")
CHECK_FUNCS = ("w_af_check_source", "w_af_check_fingerprint",
               "w_af_check_dest")


def proc_cpu(pgid):
    """utime+stime in seconds of every process in the process group."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            total += int(fields[11]) + int(fields[12])
    return total / tick


def defines(mode, redis_url):
    if mode == "none":
        return {"AF_WITHOUT": "1"}
    if mode == "redis":
        return {"AF_REDIS": '"%s"' % redis_url}
    return {}


def failed_calls(p):
    """the calls sipp counted as failed (a failed call leaves part of
    its messages unsent: its round is cheaper than it should be)"""
    m = re.findall(r"Failed call\s*\|\s*\d+\s*\|\s*(\d+)", p.stdout or "")
    if m:
        return int(m[-1])
    return 0 if p.returncode == 0 else -1


def retransmissions(p):
    """the retransmissions on sipp's final screen (rows "NAME --->" and
    "NAME <---": messages, then retransmissions)"""
    n = 0
    for m in re.finditer(r"^\s*\S+\s+(?:-+>|<-+)\s+(\d+)\s+(\d+)",
                         p.stdout or "", re.M):
        n += int(m.group(2))
    return n


def kamailio_cpu(d, rules, calls, rate, mode, redis_url=None):
    """Kamailio's CPU seconds per call (all of its processes) over one
    run of calls, after a warm-up, and the calls that failed."""
    uas_port = h.free_port()
    uas = h.Sipp.uas(d, uas_port)
    k = h.Kamailio(d, rules, next_hop_port=uas_port, children=2,
                   defines=defines(mode, redis_url)).start()
    try:
        h.Sipp.uac(d, "127.0.0.1:%d" % k.port, calls=50, rate=100,
                   caller="alice", callee=CALLEE, timeout=30)
        c0 = proc_cpu(k.proc.pid)
        p = h.Sipp.uac(d, "127.0.0.1:%d" % k.port, calls=calls, rate=rate,
                       caller="alice", callee=CALLEE,
                       timeout=60 + 2 * calls // rate, extra=["-l", "400"])
        c1 = proc_cpu(k.proc.pid)
        return (c1 - c0) / calls, failed_calls(p)
    finally:
        k.stop()
        h.Sipp.stop(uas)


def inclusive(cg_file, functions):
    """Inclusive instruction counts of the named functions in one
    callgrind output file."""
    out = subprocess.run(["callgrind_annotate", "--inclusive=yes",
                          "--threshold=100", cg_file],
                         capture_output=True, text=True).stdout
    res = dict.fromkeys(functions, 0)
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+) .*?:(\w+) \[", line)
        if m and m.group(2) in res and not res[m.group(2)]:
            res[m.group(2)] = int(m.group(1).replace(",", ""))
    return res


def drop_block(lines, first):
    """lines without the preprocessor block that starts at line index
    first (an #!ifdef/#!ifndef) and ends at its matching #!endif"""
    depth = 0
    for i in range(first, len(lines)):
        if lines[i].startswith(("#!ifdef", "#!ifndef")):
            depth += 1
        elif lines[i].startswith("#!endif"):
            depth -= 1
            if depth == 0:
                return lines[:first] + lines[i + 1:]
    raise AssertionError("no #!endif for line %d" % first)


def floor_cfg(d, redis_url):
    """The configuration without the module (run with -A AF_WITHOUT) plus
    one Redis round trip per call: a PING to redis_url's server with
    Kamailio's own ndb_redis (blocking hiredis, like the module) when
    an initial INVITE is routed, where the module runs af_check_dest.
    What any design that asks Redis once per call costs at least, in
    Kamailio and in redis-server; None without ndb_redis (Debian's
    kamailio-redis-modules)."""
    if not os.path.exists(os.path.join(h.kamailio_mpath(), "ndb_redis.so")):
        return None
    m = re.match(r"redis://([^:/]+):(\d+)", redis_url or "")
    if not m:
        return None
    with open(h.SAMPLE_CFG) as f:
        lines = f.read().split("\n")
    at = lines.index('loadmodule "dialog.so"') + 1
    lines[at:at] = ['loadmodule "ndb_redis.so"',
                    'modparam("ndb_redis", "server", "name=floor;addr=%s;'
                    'port=%s")' % (m.group(1), m.group(2))]
    # in the INVITE branch that holds af_check_dest, before it
    call = lines.index("\t\taf_check_dest();")
    at = max(i for i in range(call)
             if lines[i] == "\tif (is_method(\"INVITE\")) {") + 1
    lines[at:at] = ['\t\tredis_cmd("floor", "PING", "r");',
                    '\t\tredis_free("r");']
    path = os.path.join(d, "kamailio-floor.cfg")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    return path


def loaded_only_cfg(d):
    """The sample configuration with the module loaded but its checks
    not called: what loading alone costs. The routing is that of the run
    without the module (-A AF_WITHOUT): the blocks of request_route that
    call a check, and test its $rc, are left out whole."""
    with open(h.SAMPLE_CFG) as f:
        lines = f.read().split("\n")
    for call in ("\taf_check_source();", "\t\taf_check_dest();"):
        at = lines.index(call)
        first = max(i for i in range(at) if lines[i] == "#!ifndef AF_WITHOUT")
        lines = drop_block(lines, first)
    text = "\n".join(lines)
    for call in ("af_check_source(", "af_check_fingerprint(",
                 "af_check_dest("):
        assert call not in text, call
    path = os.path.join(d, "kamailio-loaded-only.cfg")
    with open(path, "w") as f:
        f.write(text)
    return path


def kamailio_instructions(d, rules, calls, mode, alloc=None, redis_url=None,
                          rate=4):
    """Instructions Kamailio executes per call in its SIP workers: only
    what runs inside receive_msg is collected (parsing, routing, relaying,
    the module's checks and its tm/dialog callbacks; not the timers).
    Deterministic, unlike CPU time. {"call", "checks", "alloc"} per
    call ("alloc": the memory manager's share), and "failed": the calls
    sipp counted as failed and "retrans": the messages sipp retransmitted
    (each retransmission is counted as the call's cost)."""
    cg = tempfile.mkdtemp(prefix="cg-", dir=d)
    uas_port = h.free_port()
    uas = h.Sipp.uas(d, uas_port)
    k = h.Kamailio(cg, rules, next_hop_port=uas_port, children=2,
                   defines=defines("shm" if mode == "ctl" else mode,
                                   redis_url))
    if mode == "ctl":
        k.cfg = loaded_only_cfg(d)
    if alloc:
        k.extra_args = ["-x", alloc, "-X", alloc]
    k.wrapper = ["valgrind", "--tool=callgrind",
                 "--toggle-collect=receive_msg",
                 "--callgrind-out-file=%s/callgrind.out.%%p" % cg]
    try:
        k.start(timeout=180)
        # slow enough for Kamailio under callgrind with q_malloc (a
        # call there is ~4 M instructions): a retransmission would be
        # counted as the call's cost
        p = h.Sipp.uac(d, "127.0.0.1:%d" % k.port, calls=calls, rate=rate,
                       caller="alice", callee=CALLEE,
                       timeout=60 + 2 * calls // rate)
        failed = failed_calls(p)
        retrans = retransmissions(p)
    finally:
        k.stop()
        h.Sipp.stop(uas)
    names = ("receive_msg",) + CHECK_FUNCS + ALLOC_FUNCS
    tot = dict.fromkeys(names, 0)
    for name in os.listdir(cg):
        if name.startswith("callgrind.out."):
            for f, v in inclusive(os.path.join(cg, name), names).items():
                tot[f] += v
    return {"call": tot["receive_msg"] / calls,
            "checks": sum(tot[f] for f in CHECK_FUNCS) / calls,
            "alloc": sum(tot[f] for f in ALLOC_FUNCS) / calls,
            "failed": failed if failed >= 0 else calls,
            "retrans": retrans}


def pct(x, base):
    return "%+.1f %%" % ((x / base - 1) * 100)


def print_instructions(cg, n, rate):
    print("  instructions per call in the SIP workers (callgrind, %d calls"
          " at %d cps, only what runs in receive_msg; exact):" % (n, rate))
    allocs = [a for a in (None, "tlsf") if (a, "none") in cg]
    print("    %-22s %s" % ("", "".join(
        "%26s" % ("qm (Debian's default)" if a is None else "-x tlsf -X tlsf")
        for a in allocs)))
    for m in ("none", "shm", "ctl", "redis"):
        cells = []
        for a in allocs:
            r = cg.get((a, m))
            if not r:
                cells.append("%26s" % "-")
                continue
            base = cg[(a, "none")]["call"]
            cells.append("%26s" % ("%.0f%s" % (
                r["call"], "" if m == "none" else " (%s)" % pct(r["call"],
                                                                 base))))
        print("    %-22s %s" % (LABELS[m] + ":", "".join(cells)))
    cells = []
    for a in allocs:
        r = cg[(a, "shm")]
        cells.append("%26s" % ("%.0f (%.1f %%)" % (
            r["checks"], 100.0 * r["checks"] / cg[(a, "none")]["call"])))
    print("    %-22s %s" % ("the three checks:", "".join(cells)))
    cells = []
    for a in allocs:
        cells.append("%26s" % ("%.0f / %.0f" % (cg[(a, "none")]["alloc"],
                                                 cg[(a, "shm")]["alloc"])))
    print("    %-22s %s" % ("memory manager (n/shm):", "".join(cells)))
    bad = ["%s %s: %d failed, %d retransmitted" % (
        a or "qm", m, r["failed"], r["retrans"]) for (a, m), r in
        sorted(cg.items(), key=lambda x: (x[0][0] or "", x[0][1]))
        if r["failed"] or r["retrans"]]
    if bad:
        print("    WARNING: sipp retransmitted or failed under callgrind"
              " (the retransmissions are counted as the calls' cost; a"
              " loaded machine? AF_BENCH_CG_RATE lower): %s"
              % "; ".join(bad))


def thread_cpu(path):
    """CPU seconds of one thread (/proc/PID/task/TID): the scheduler's
    run time in ns (schedstat: no rounding to clock ticks), or utime +
    stime in ticks where the kernel has no schedstat."""
    try:
        with open(path + "/schedstat") as f:
            return int(f.read().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        pass
    try:
        with open(path + "/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def pids_cpu(pids):
    """CPU seconds of every thread of the processes pids."""
    total = 0.0
    for pid in pids:
        try:
            tids = os.listdir("/proc/%d/task" % pid)
        except OSError:
            continue
        for tid in tids:
            total += thread_cpu("/proc/%d/task/%s" % (pid, tid))
    return total


def place(pids, cpus, sched):
    """Pins every thread of pids to cpus (None: left as they are) and,
    with sched "rr", runs them at real-time round robin priority 1 (ahead
    of every ordinary process of the machine). Returns what was refused
    ("" if nothing)."""
    refused = []
    for pid in pids:
        try:
            tids = [int(t) for t in os.listdir("/proc/%d/task" % pid)]
        except OSError:
            continue
        for tid in tids:
            try:
                if cpus:
                    os.sched_setaffinity(tid, cpus)
            except OSError as e:
                refused.append("pinning (%s)" % e.strerror)
            try:
                if sched == "rr":
                    os.sched_setscheduler(tid, os.SCHED_RR,
                                          os.sched_param(1))
            except OSError as e:
                refused.append("SCHED_RR (%s)" % e.strerror)
    return ", ".join(sorted(set(refused)))


def sip_workers(k):
    """The PIDs of Kamailio k's SIP workers (core.psx: "udp receiver")."""
    text = k.rpc("core.psx").stdout
    return [int(m.group(1)) for m in re.finditer(
        r"PID:\s*(\d+)\s*DSC:\s*udp receiver", text)]


def busy_cpu():
    """CPU seconds the whole machine has been busy (/proc/stat: every
    state but idle and iowait)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")


def cpu_layout():
    """(kamailio's CPUs, sipp's and this script's CPUs, scheduling) of
    the CPU rounds: Kamailio alone on the last CPU this process may use,
    sipp on the others, both at SCHED_RR priority 1 unless AF_BENCH_SCHED
    says "none" (AF_BENCH_PIN=0: no pinning)."""
    cpus = sorted(os.sched_getaffinity(0))
    sched = os.environ.get("AF_BENCH_SCHED", "rr")
    if os.environ.get("AF_BENCH_PIN", "1") == "0" or len(cpus) < 2:
        return None, None, sched
    return {cpus[-1]}, set(cpus[:-1]), sched


def cpu_cycles(d, rules, redis_url, calls, rate, cycles, warm,
               redis_pids=None, alloc=None):
    """Kamailio's CPU per call in each mode of CPU_MODES: one Kamailio
    per mode, all started at once and kept; then cycles, each a round of
    calls to every mode in turn (rotated: the order moves by one each
    cycle). A mode's cost in a cycle is its processes' CPU from the
    start of its round to the start of its next one: its own round and
    what its timers do after it (transactions and dialogs freed seconds
    later) while the other modes run; a closing cycle of pauses as long
    as a round ends the last one. Returns ({mode: [seconds per call of
    each cycle]}, {mode: failed calls}, notes on the run, {mode: the SIP
    workers' share of its cost}). With redis_pids (the redis-server
    the Redis modes use, alone), "redis_all" and "floor_all" are the
    Redis and floor modes' costs with redis-server's counted over the
    same spans. The floor mode (floor_cfg) runs when redis_url is one
    and ndb_redis is installed. alloc: Kamailio's memory managers (-x
    and -X; None: Debian's default, q_malloc)."""
    fcfg = floor_cfg(d, redis_url) if redis_url else None
    modes = [m for m in CPU_MODES
             if (m != "redis" or redis_url) and (m != "floor" or fcfg)]
    kam_cpus, sipp_cpus, sched = cpu_layout()
    refusals = []
    redis_pin = False
    own = os.sched_getaffinity(0)
    own_sched = os.sched_getscheduler(0)
    # sipp (started by this process) inherits its CPUs and scheduling
    refused = place([os.getpid()], sipp_cpus, sched)
    if refused:
        refusals.append("sipp: %s refused" % refused)
    ks = {}
    uas = None
    try:
        uas_port = h.free_port()
        uas = h.Sipp.uas(d, uas_port)
        for m in modes:
            # a directory each: the ctl socket and runtime files
            kd = os.path.join(d, "cpu-" + m)
            os.makedirs(kd, exist_ok=True)
            k = h.Kamailio(kd, rules, next_hop_port=uas_port, children=2,
                           defines=defines(CPU_DEFINES.get(m, m), redis_url))
            if m == "floor":
                k.cfg = fcfg
            if alloc:
                k.extra_args = ["-x", alloc, "-X", alloc]
            ks[m] = k.start()
        pids = {m: k.pids() for m, k in ks.items()}
        workers = {m: sip_workers(k) for m, k in ks.items()}
        for m in modes:
            refused = place(pids[m], kam_cpus, sched)
            if refused:
                refusals.append("kamailio: %s refused" % refused)
                break
        # redis-server off Kamailio's CPU, where sipp runs: on this
        # machine it stands for a Redis on a host of its own, whose work
        # does not run on (nor evict the caches of) Kamailio's CPU
        # (AF_BENCH_REDIS_PIN=0: left where the kernel puts it)
        redis_pin = bool(redis_pids and kam_cpus and os.environ.get(
            "AF_BENCH_REDIS_PIN", "1") != "0")
        if redis_pin:
            refused = place(redis_pids, sipp_cpus, sched)
            if refused:
                refusals.append("redis-server: %s refused" % refused)
        uac_timeout = 60 + 2 * calls // rate

        def round_of(m, n):
            p = h.Sipp.uac(d, "127.0.0.1:%d" % ks[m].port, calls=n,
                           rate=rate, caller="alice", callee=CALLEE,
                           timeout=uac_timeout, extra=["-l", "400"])
            f = failed_calls(p)
            return f if f >= 0 else n
        failed = dict.fromkeys(modes, 0)
        for m in modes:
            failed[m] += round_of(m, warm)
        # the warm-up's transactions and dialogs freed (tm's wait timer:
        # 5 s) before the first cycle, not in it
        time.sleep(SETTLE)
        snaps = {m: [] for m in modes}
        # redis-server's CPU, read when a Redis mode's span starts
        rsnaps = {m: [] for m in modes if m in REDIS_MODES}
        took = []
        # the Kamailios, the UAS sipp, this script and its sipp UACs
        ours = list(pids.values()) + [[uas.pid]] + (
            [redis_pids] if redis_pids else [])

        def ours_cpu():
            return sum(pids_cpu(p) for p in ours) + sum(os.times()[:4])
        start, busy0, ours0 = time.time(), busy_cpu(), ours_cpu()
        wk0 = {m: pids_cpu(workers[m]) for m in modes}
        for c in range(cycles + 1):
            for i in range(len(modes)):
                m = modes[(c + i) % len(modes)]
                snaps[m].append(pids_cpu(pids[m]))
                if m in rsnaps and redis_pids:
                    rsnaps[m].append(pids_cpu(redis_pids))
                if c == cycles:
                    time.sleep(statistics.mean(took))
                    continue
                t0 = time.time()
                failed[m] += round_of(m, calls)
                took.append(time.time() - t0)
        res = {m: [(b - a) / calls for a, b in zip(snaps[m], snaps[m][1:])]
               for m in modes}
        for m, r in rsnaps.items():
            if r:
                res[m + "_all"] = [x + (b - a) / calls for x, a, b in zip(
                    res[m], r, r[1:])]
        # the SIP workers' share of each mode's whole cost (the rest:
        # timers, dialog cleaning, the main and management processes)
        share = {m: (pids_cpu(workers[m]) - wk0[m])
                 / (snaps[m][-1] - snaps[m][0]) for m in modes}
        for m in rsnaps:
            if m + "_all" in res:
                # of the whole: Kamailio's SIP workers (the rest: its
                # other processes and redis-server)
                share[m + "_all"] = share[m] * sum(res[m]) / sum(
                    res[m + "_all"])
        # what the rest of the machine ran meanwhile
        other = (busy_cpu() - busy0 - ours_cpu() + ours0) / (
            time.time() - start)
        load = ("the machine's other processes kept %.2f CPUs busy"
                " meanwhile%s" % (
                    other, "" if other < 0.25 else
                    " (not a quiet machine: the figures are noisier)"))
    finally:
        for k in ks.values():
            k.stop()
        h.Sipp.stop(uas)
        os.sched_setaffinity(0, own)
        if own_sched != os.sched_getscheduler(0):
            os.sched_setscheduler(0, own_sched, os.sched_param(0))
    rr = ", SCHED_RR priority 1" if sched == "rr" else ""
    layout = ("kamailio on CPU %s, sipp%s on CPU %s%s" % (
        ",".join(map(str, sorted(kam_cpus))),
        " and redis-server" if redis_pin else "",
        ",".join(map(str, sorted(sipp_cpus))), rr) if kam_cpus else
        "not pinned (AF_BENCH_PIN=0 or one CPU)%s" % rr)
    return (res, failed, [layout] + ["but " + r for r in refusals] + [load],
            share)


def paired_ratio(a, b, resamples=2000):
    """The ratio of the sums of a and b (costs per call of the same
    cycles), and its 90 % interval by bootstrap: the cycles resampled
    with replacement, a cycle's two figures kept together."""
    rnd = random.Random(16)
    n = len(a)
    boot = []
    for _ in range(resamples):
        idx = [rnd.randrange(n) for _ in range(n)]
        boot.append(sum(a[i] for i in idx) / sum(b[i] for i in idx))
    boot.sort()
    return (sum(a) / sum(b), boot[int(0.05 * resamples)],
            boot[int(0.95 * resamples) - 1])


def print_cpu(res, calls, rate, warm, notes, share):
    n = len(res["none"])
    how = ("every thread's run time, /proc/PID/task/TID/schedstat"
           if os.path.exists("/proc/self/schedstat") else
           "utime+stime in clock ticks: this kernel has no schedstat")
    print("  CPU per call of kamailio's processes (%s; redis-server's only"
          " in the lines %s)" % (how, " and ".join(
              '"%s"' % LABELS[m] for m in res if m.endswith("_all"))))
    print("    one kamailio per mode; %d cycles of a %d-call round at %d cps"
          " to each mode in turn (rotated), after %d calls of warm-up;"
          " a mode's cycle runs from its round's start to its next round's"
          " start (its timers' later work included)" % (n, calls, rate, warm))
    print("    %s" % "; ".join(notes))
    for m in res:
        v = res[m]
        print("    %-22s %7.1f us per call (median of the cycles; the"
              " cycles: %s)" % (LABELS[m] + ":", statistics.median(v) * 1e6,
                                " ".join("%.0f" % (x * 1e6) for x in v)))
    print("    where it goes (mean of the cycles): %s" % "; ".join(
        "%s %.1f us in the SIP workers + %.1f us in the other processes"
        " (timers, dialog cleaning...)" % (
            m, statistics.mean(res[m]) * share[m] * 1e6,
            statistics.mean(res[m]) * (1 - share[m]) * 1e6)
        for m in res if m != "none2" and not m.endswith("_all")))
    for m in REDIS_MODES:
        if m + "_all" in res:
            print("    redis-server (its own process, during the %s mode's"
                  " spans): %.1f us per call" % (m, statistics.mean(
                      a - b for a, b in zip(res[m + "_all"], res[m]))
                      * 1e6))
    print("    against the mode without module: ratio of the sums, its 90 %"
          " interval (bootstrap over the cycles) and the median of the"
          " cycles' ratios")
    bounds = {}
    for m in res:
        if m == "none":
            continue
        r, lo, hi = paired_ratio(res[m], res["none"])
        med = statistics.median(a / b for a, b in zip(res[m], res["none"]))
        print("    %-22s %+6.1f %%  [%+.1f %%, %+.1f %%]  median %+.1f %%%s"
              % (LABELS[m] + ":", (r - 1) * 100, (lo - 1) * 100,
                 (hi - 1) * 100, (med - 1) * 100,
                 "  <- the method's noise (A/A: the same cfg twice; 0 %"
                 " expected)" if m == "none2" else ""))
        bounds[m] = (lo - 1) * 100, (hi - 1) * 100
    if "floor" in res:
        # (a - f + n) / n - 1 = (a - f) / n: the Redis mode above the
        # floor, in % of the call without module, cycle by cycle
        print("    the floor: one Redis PING per call (ndb_redis), no"
              " module; the Redis mode above it, in % of a call without"
              " module:")
        for m, f, what in (("redis", "floor", "Kamailio alone"),
                           ("redis_all", "floor_all", "with redis-server")):
            if m not in res or f not in res:
                continue
            r, lo, hi = paired_ratio(
                [a - b + c for a, b, c in zip(res[m], res[f], res["none"])],
                res["none"])
            print("    %-34s %+6.1f %%  [%+.1f %%, %+.1f %%]" % (
                "above the floor, %s:" % what,
                (r - 1) * 100, (lo - 1) * 100, (hi - 1) * 100))
    for m, what, target in (("shm", "shm", TARGET),
                            ("redis", "Redis (Kamailio alone)", TARGET_REDIS),
                            ("redis_all", "Redis with redis-server's CPU",
                             TARGET_REDIS),
                            ("floor_all", "The floor (1 PING) with"
                             " redis-server's CPU", TARGET_REDIS)):
        if m not in bounds:
            continue
        lo, hi = bounds[m]
        print("    %s against the +%.0f %% target: %s" % (what, target, (
            "met (the whole interval is below it)" if hi <= target else
            "not met (the whole interval is above it)" if lo > target
            else "cannot be told at this noise (the interval holds it)")))


def run_cpu(d, rules, redis_url, redis_pids=None):
    """The CPU-time cycles (needs redis_url's server running; its
    redis_pids, used by nothing else meanwhile, counted in a line of
    their own)."""
    calls = int(os.environ.get("AF_BENCH_CALLS", "600"))
    rate = int(os.environ.get("AF_BENCH_RATE", "300"))
    cycles = int(os.environ.get("AF_BENCH_CYCLES", "24"))
    warm = int(os.environ.get("AF_BENCH_WARM", "500"))
    # AF_BENCH_ALLOC=tlsf: the main run with Kamailio's memory managers
    # -x/-X tlsf (default: Debian's, q_malloc); then AF_BENCH_TLSF_CYCLES
    # cycles (0: none) with TLSF, which spends far fewer instructions per
    # call than Debian's q_malloc: the same module is a larger share
    runs = [(os.environ.get("AF_BENCH_ALLOC"), cycles)]
    tlsf_cycles = int(os.environ.get("AF_BENCH_TLSF_CYCLES", "12"))
    if runs[0][0] != "tlsf" and tlsf_cycles > 0:
        runs.append(("tlsf", tlsf_cycles))
    first = None
    for alloc, n in runs:
        t0 = time.time()
        res, failed, notes, share = cpu_cycles(
            d, rules, redis_url, calls, rate, n, warm, redis_pids, alloc)
        print("-- kamailio per call%s: the module against the same cfg"
              " without it (INVITE/180/200/ACK/BYE via sipp, record-routed,"
              " dialogs)" % (
                  ", -x %s -X %s (not Debian's default q_malloc)" % (
                      alloc, alloc) if alloc else ""))
        print_cpu(res, calls, rate, warm, notes, share)
        if any(failed.values()):
            print("    WARNING: calls that failed (a loaded machine? the"
                  " figures of those cycles are low): %s" % ", ".join(
                      "%s %d" % (m, failed[m]) for m in res if failed[m]))
        print("    (%.0f s)" % (time.time() - t0))
        first = first or res
    return first


def run_instructions(d, rules, redis_url):
    """The callgrind runs: qm and TLSF, without the module, shm, the
    control (module loaded, no check called) and, with TLSF, Redis."""
    if os.environ.get("AF_BENCH_CALLGRIND", "1") == "0":
        return
    n = int(os.environ.get("AF_BENCH_CG_CALLS", "120"))
    rate = int(os.environ.get("AF_BENCH_CG_RATE", "4"))
    t0 = time.time()
    cg = {}
    for alloc in (None, "tlsf"):
        for m in ("none", "shm", "ctl") + (("redis",) if alloc else ()):
            if m == "redis" and not redis_url:
                continue
            cg[(alloc, m)] = kamailio_instructions(d, rules, n, m, alloc,
                                                   redis_url, rate)
    print_instructions(cg, n, rate)
    print("    (%.0f s)" % (time.time() - t0))


if __name__ == "__main__":
    # alone: python3 utils/bench_kam.py [cpu] [cg] (both by default)
    import bench
    what = sys.argv[1:] or ["cpu", "cg"]
    wd = tempfile.mkdtemp(prefix="af-bench-kam-")
    rules_file = bench.make_data(wd)
    srv = h.Redis(wd).start()
    try:
        url = "redis://127.0.0.1:%d/0" % srv.port
        if "cpu" in what:
            run_cpu(wd, rules_file, url, [srv.proc.pid])
        if "cg" in what:
            run_instructions(wd, rules_file, url)
    finally:
        srv.kill()
