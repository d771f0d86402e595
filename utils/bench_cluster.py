#!/usr/bin/env python3
# antifraud - `make bench`'s Redis Cluster section: checks per second with
# the state on a loopback Redis Cluster of 1 master (every slot on it) and
# of 3 masters, several bench_core processes at once (one connection per
# master each, like Kamailio's workers), af_check_source and
# af_check_dest (a call admitted into its concurrency sets and released);
# and the FCALL calls per check (one per master a batch touches, per
# phase: on 1 master as on one Redis, more round trips across masters). Checks per second: the sum
# of what each process measures over its own check loop (loading the
# rules left out); FCALL per check: the difference between two runs
# (n1 and n2 checks per process), so that warming up drops out. Bounded: a fixed number of
# checks per process, each run killed after AF_BENCH_CLUSTER_TIMEOUT s.
# Run alone: utils/bench_cluster.py (builds what it needs).
# SPDX-License-Identifier: GPL-2.0-or-later
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402
h = bench.h

MODES = (("af_check_source", []), ("af_check_dest", ["--dest"]))


def run_procs(exe, rules, url, extra, procs, iters, timeout):
    """procs bench_core processes of iters checks each, at once: the sum
    of their checks per second (each times its own check loop)."""
    t0 = time.time()
    ps = [subprocess.Popen([exe, rules, str(iters), "--redis", url] + extra,
                           stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True)
          for _ in range(procs)]
    rate = 0.0
    for p in ps:
        try:
            out, _ = p.communicate(
                timeout=max(1.0, timeout - (time.time() - t0)))
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            raise AssertionError("bench_core on the cluster took more than"
                                 " %d s" % timeout)
        m = re.search(r"(\d+) ns per check", out)
        if p.returncode != 0 or not m:
            raise AssertionError("bench_core failed on %s" % url)
        rate += 1e9 / int(m.group(1))
    return rate


def run_mode(c, exe, rules, extra, procs, n1, n2, timeout):
    """(checks per second over all processes in the run of n2 checks
    each, FCALL calls per check: the difference between the runs of n2
    and n1 checks per process, so that warming up drops out)."""
    res = []
    for n in (n1, n2):
        before = c.evalsha_calls()
        rate = run_procs(exe, rules, c.url(), extra, procs, n, timeout)
        res.append((rate, c.evalsha_calls() - before))
    return res[1][0], (res[1][1] - res[0][1]) / float(procs * (n2 - n1))


def run(d, rules, exe):
    """Prints the section."""
    procs = int(os.environ.get("AF_BENCH_CLUSTER_PROCS", "4"))
    n2 = int(os.environ.get("AF_BENCH_CLUSTER_CHECKS", "3000"))
    n1 = n2 // 5
    timeout = int(os.environ.get("AF_BENCH_CLUSTER_TIMEOUT", "300"))
    print("-- Redis Cluster (loopback, %d bench_core processes, runs of %d"
          " and %d checks each; %d cores on this machine)" % (
              procs, n1, n2, os.cpu_count()))
    for masters in (1, 3):
        c = h.RedisCluster(d, masters=masters, replicas=0).start()
        try:
            for label, extra in MODES:
                rate, per = run_mode(c, exe, rules, extra, procs, n1, n2,
                                     timeout)
                print("  %d master%s: %-16s %7.0f checks/s, %.2f FCALL"
                      " per check" % (masters, "s" if masters > 1 else " ",
                                      label + ":", rate, per))
        finally:
            c.kill()
    print("  (clients and servers share this machine's cores: on 2 cores"
          " the 3 masters compete with the clients)")


def main():
    d = tempfile.mkdtemp(prefix="af-bench-cluster-")
    rules = bench.make_data(d)
    run(d, rules, bench.build_core(d))


if __name__ == "__main__":
    main()
