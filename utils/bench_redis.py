#!/usr/bin/env python3
# antifraud - `make bench`'s Redis section: what one batch (one FCALL of
# the batch script) costs redis-server, for af_check_source, af_check_dest
# and a call's end, measured two ways: CPU time under a steady load
# (INFO commandstats: the script's own usec_per_call, and INFO cpu: the
# whole process, I/O included) and exact instructions of redis-server
# under callgrind. The CPU times twice: with one client (a batch at a
# time: each one wakes redis-server up) and with SAT_CLIENTS clients at
# once (redis-server kept busy: what a core sustains). From those and
# the batches a Kamailio call makes: the batches per second one Redis
# core sustains and the calls per second that implies. Each figure is
# the difference between two runs of the same checks (n1 and n2
# iterations), so that set-up and warm-up drop out. Run alone:
# utils/bench_redis.py (builds what it needs).
# SPDX-License-Identifier: GPL-2.0-or-later
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402
import bench_kam  # noqa: E402
h = bench.h

# (label, bench_core arguments, iterations of the two runs)
MODES = (("af_check_source", [], 4000, 24000),
         ("af_check_dest", ["--dest"], 4000, 24000),
         ("call end", ["--outcome"], 1000, 6000),
         # 32 calls of 32 callers per batch (end_batch_interval), their
         # country, prefix and profile shared; both sizes whole batches
         # for each of SAT_CLIENTS processes too (320 and 2400 calls)
         ("32 call ends", ["--outcome", "--batched"], 2560, 19200))
CG_SCALE = 10  # callgrind runs do 1/CG_SCALE of the iterations
SAT_CLIENTS = 8  # bench_core processes at once for the saturated figures


def info(port):
    """batch calls (FCALL) and their usec (commandstats), process CPU
    seconds."""
    out = subprocess.run(["redis-cli", "-p", str(port), "INFO", "all"],
                         capture_output=True, text=True, timeout=120).stdout
    m = re.search(r"cmdstat_fcall:calls=(\d+),usec=(\d+)", out)
    calls, usec = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
    cpu = sum(float(x) for x in re.findall(
        r"used_cpu_(?:user|sys):([\d.]+)", out))
    return calls, usec, cpu


def run_core(exe, rules, port, iters, extra, clients=1):
    """clients bench_core processes at once, iters iterations in all."""
    cmd = [exe, rules, str(iters // clients), "--redis",
           "redis://127.0.0.1:%d/0" % port] + extra
    procs = [subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
             for _ in range(clients)]
    for p in procs:
        err = p.communicate(timeout=600)[1]
        if p.returncode != 0:
            raise AssertionError("bench_core %s: exit %d: %s" % (
                " ".join(extra), p.returncode, err.decode()[-400:]))


def cpu_per_batch(exe, rules, port, extra, n1, n2, clients=1):
    """(batches, script usec per batch, process usec per batch, share of
    a CPU redis-server kept busy) of the difference between a run of n2
    iterations and one of n1 (each split over clients processes)."""
    res = []
    busy = 0.0
    for n in (n1, n2):
        subprocess.run(["redis-cli", "-p", str(port), "FLUSHALL"],
                       capture_output=True, timeout=60)
        a = info(port)
        t = time.monotonic()
        run_core(exe, rules, port, n, extra, clients)
        t = time.monotonic() - t
        b = info(port)
        res.append([y - x for x, y in zip(a, b)])
        busy = res[-1][2] / t
    batches = res[1][0] - res[0][0]
    return (batches, (res[1][1] - res[0][1]) / batches,
            (res[1][2] - res[0][2]) * 1e6 / batches, busy)


def callgrind_totals(path):
    with open(path) as f:
        for line in f:
            if line.startswith("totals:"):
                return int(line.split()[1])
    raise AssertionError("no totals in %s" % path)


def instructions_per_batch(d, exe, rules):
    """{label: (batches, instructions per batch)}: redis-server under
    callgrind; a dump (callgrind_control -d) after each run gives the
    instructions since the previous dump."""
    cg = tempfile.mkdtemp(prefix="cg-redis-", dir=d)
    port = h.free_port()
    out = os.path.join(cg, "callgrind.out")
    proc = subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
         "redis-server", "--port", str(port), "--bind", "127.0.0.1",
         "--save", "", "--appendonly", "no", "--dir", cg],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    dumps = [0]

    def dump():
        subprocess.run(["callgrind_control", "-d", str(proc.pid)],
                       capture_output=True, check=True, timeout=60)
        dumps[0] += 1
        path = "%s.%d" % (out, dumps[0])
        deadline = time.time() + 60
        while not os.path.exists(path) and time.time() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
        return callgrind_totals(path)

    res = {}
    try:
        deadline = time.time() + 120
        while subprocess.run(["redis-cli", "-p", str(port), "PING"],
                             capture_output=True, text=True
                             ).stdout.strip() != "PONG":
            if time.time() > deadline:
                raise AssertionError("redis-server under valgrind did not"
                                     " start")
            time.sleep(0.2)
        for label, extra, n1, n2 in MODES:
            runs = []
            for n in (n1 // CG_SCALE, n2 // CG_SCALE):
                subprocess.run(["redis-cli", "-p", str(port), "FLUSHALL"],
                               capture_output=True, timeout=60)
                dump()
                a = info(port)[0]
                run_core(exe, rules, port, n, extra)
                runs.append((info(port)[0] - a, dump()))
            batches = runs[1][0] - runs[0][0]
            res[label] = (batches, (runs[1][1] - runs[0][1]) / batches)
    finally:
        os.killpg(proc.pid, 9)
        proc.wait()
    return res


def batches_per_call(d, rules, port):
    """FCALL calls, script usec and redis-server process CPU (us) per
    Kamailio call (sample configuration, a full call through sipp)."""
    calls = 300
    subprocess.run(["redis-cli", "-p", str(port), "FLUSHALL"],
                   capture_output=True, timeout=60)
    a = info(port)
    bench_kam.kamailio_cpu(d, rules, calls, 100, "redis",
                           "redis://127.0.0.1:%d/0" % port)
    b = info(port)
    # kamailio_cpu makes 50 warm-up calls first
    total = calls + 50
    return ((b[0] - a[0]) / total, (b[1] - a[1]) / total,
            (b[2] - a[2]) * 1e6 / total)


def run(d, rules, exe):
    """Prints the section."""
    redis = h.Redis(d).start()
    try:
        print("-- Redis CPU per batch (one FCALL of the batch function;"
              " redis-server %s)" % subprocess.run(
                  ["redis-server", "--version"], capture_output=True,
                  text=True).stdout.split()[2][2:])
        per, nb, sat = {}, {}, {}
        print("  one client (a batch at a time, each waking redis-server"
              " up):")
        for label, extra, n1, n2 in MODES:
            batches, script, proc, _ = cpu_per_batch(
                exe, rules, redis.port, extra, n1, n2)
            per[label] = proc
            nb[label] = batches
            print("  %-16s %5.1f us in the script (commandstats),"
                  " %5.1f us of the process (%d batches)"
                  % (label + ":", script, proc, batches))
        print("  %d clients at once (redis-server kept busy: what a core"
              " sustains):" % SAT_CLIENTS)
        for label, extra, n1, n2 in MODES:
            batches, script, proc, busy = cpu_per_batch(
                exe, rules, redis.port, extra, n1, n2, SAT_CLIENTS)
            sat[label] = proc
            print("  %-16s %5.1f us in the script (commandstats),"
                  " %5.1f us of the process (%d batches, redis-server"
                  " %.0f %% busy)" % (label + ":", script, proc, batches,
                                      100 * busy))
        bpc, script_call, proc_call = batches_per_call(d, rules,
                                                       redis.port)
    finally:
        redis.kill()
    if os.environ.get("AF_BENCH_CALLGRIND", "1") != "0":
        for label, (batches, ins) in instructions_per_batch(
                d, exe, rules).items():
            # a batch that timed out under valgrind (the bench's command
            # timeout) opens the breaker: fewer batches, a wrong figure.
            # More batches are af_check_source's: its cache of sources
            # found clear lives some ms, and a check under valgrind takes
            # longer: more checks go to Redis, each batch as measured
            few = batches * CG_SCALE < 0.95 * nb[label]
            more = batches * CG_SCALE > 1.05 * nb[label]
            print("  %-16s %9.0f instructions of redis-server per batch"
                  " (callgrind, %d batches)%s" % (
                      label + ":", ins, batches,
                      "  UNRELIABLE: fewer than 1/%d of the batches above"
                      % CG_SCALE if few else
                      "  (more than 1/%d of the batches above: the cache of"
                      " clear sources expires sooner at valgrind's speed)"
                      % CG_SCALE if more else ""))
    for label, us in sat.items():
        print("  one Redis core: %6.0f batches/s of %s (whole process,"
              " %d clients; %.0f with one)"
              % (1e6 / us, label, SAT_CLIENTS, 1e6 / per[label]))
    print("  a Kamailio call (sample cfg, INVITE to BYE, one caller at"
          " 100 cps): %.2f batches, %.1f us in the script, %.1f us of"
          " redis-server" % (bpc, script_call, proc_call))
    print("  => at that load one Redis core carries %.0f calls/s"
          % (1e6 / proc_call))
    # a busy core: a call is one dest batch and its end, 32 to a batch
    busy_call = sat["af_check_dest"] + sat["32 call ends"] / 32
    print("  => kept busy (%d clients): a call of the bench's callers (one"
          " af_check_dest batch, 1/32 of a batch of 32 ends) %.1f us: one"
          " Redis core carries %.0f calls/s (the cluster's calls/s with"
          " one master)" % (SAT_CLIENTS, busy_call, 1e6 / busy_call))


def main():
    d = tempfile.mkdtemp(prefix="af-bench-redis-")
    rules = bench.make_data(d)
    run(d, rules, bench.build_core(d))


if __name__ == "__main__":
    main()
