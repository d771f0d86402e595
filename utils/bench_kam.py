#!/usr/bin/env python3
# antifraud - `make bench`, Kamailio section: what the module costs per call
# against the same configuration without it (-A AF_WITHOUT), in CPU time
# (interleaved A/B rounds, median and spread) and in instructions counted
# by callgrind (exact), side by side. Called by utils/bench.py.
# SPDX-License-Identifier: GPL-2.0-or-later
import os
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
MODES = ("none", "shm", "redis")
LABELS = {"none": "without module", "shm": "module, shm",
          "redis": "module, Redis", "ctl": "loaded, no check"}
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


def cpu_rounds(d, rules, redis_url, calls, rate, rounds):
    """rounds of every mode, interleaved and rotated (none, shm, redis;
    shm, redis, none; ...) so that a slow minute of the machine hits
    every mode alike; {mode: [seconds per call of each round]}"""
    res = {m: [] for m in MODES}
    failed = dict.fromkeys(MODES, 0)
    for r in range(rounds):
        for i in range(len(MODES)):
            m = MODES[(r + i) % len(MODES)]
            cpu, f = kamailio_cpu(d, rules, calls, rate, m, redis_url)
            res[m].append(cpu)
            failed[m] += f if f >= 0 else calls
    return res, failed


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


def spread(values):
    """median and the half range of values around it, in %"""
    med = statistics.median(values)
    half = (max(values) - min(values)) / 2
    return med, (100.0 * half / med if med else 0.0)


def print_cpu(res, calls, rate):
    print("  CPU per call (kamailio's processes; redis-server's not"
          " counted): %d interleaved rounds of %d calls at %d cps;"
          " median [min-max]" % (len(res["none"]), calls, rate))
    med = {}
    for m in MODES:
        med[m], noise = spread(res[m])
        print("    %-16s %7.1f us  [%.1f-%.1f]  (+/-%.1f %%)%s" % (
            LABELS[m] + ":", med[m] * 1e6, min(res[m]) * 1e6,
            max(res[m]) * 1e6, noise,
            "" if m == "none" else "  %s" % pct(med[m], med["none"])))
    # each round's ratio pairs two runs a minute apart: its median is
    # the figure (a drift of the machine cancels out of each pair)
    for m in ("shm", "redis"):
        ratios = [a / b for a, b in zip(res[m], res["none"])]
        r = statistics.median(ratios)
        print("    ratio %s/none: %.3f (%+.1f %%), median of the rounds'"
              " ratios %s; ratio of the medians %.3f" % (
                  m, r, (r - 1) * 100,
                  " ".join("%.3f" % x for x in ratios),
                  med[m] / med["none"]))
    _, noise = spread(res["none"])
    print("    noise: the rounds without the module spread +/-%.1f %% around"
          " their median; a ratio within that of 1 is not a difference"
          % noise)


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


def run_cpu(d, rules, redis_url):
    """The CPU-time rounds (needs redis_url's server running)."""
    calls = int(os.environ.get("AF_BENCH_CALLS", "4000"))
    rate = int(os.environ.get("AF_BENCH_RATE", "300"))
    rounds = int(os.environ.get("AF_BENCH_ROUNDS", "5"))
    t0 = time.time()
    res, failed = cpu_rounds(d, rules, redis_url, calls, rate, rounds)
    print("-- kamailio per call: the module against the same cfg without it"
          " (INVITE/180/200/ACK/BYE via sipp, record-routed, dialogs)")
    print_cpu(res, calls, rate)
    if any(failed.values()):
        print("    WARNING: calls that failed (a loaded machine? the figures"
              " of those rounds are low): %s" % ", ".join(
                  "%s %d" % (m, failed[m]) for m in MODES if failed[m]))
    print("    (%.0f s)" % (time.time() - t0))
    return res


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
