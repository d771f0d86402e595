#!/usr/bin/env python3
# antifraud - `make bench`: ns per check in the core, and Kamailio's cost
# per call with the module against the same configuration without it
# (utils/bench_kam.py).
# Everything runs on loopback; bounded in calls and time.
# SPDX-License-Identifier: GPL-2.0-or-later
import glob
import os
import random
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "test", "integration"))
sys.path.insert(0, os.path.join(TOP, "utils"))
import afharness as h  # noqa: E402
import bench_kam  # noqa: E402
import bench_shm  # noqa: E402

COUNTRIES = [("DE", "EU"), ("FR", "EU"), ("US", "NA"), ("BR", "SA"),
             ("JP", "AS"), ("CN", "AS"), ("KP", "AS"), ("NG", "AF"),
             ("AU", "OC"), ("GB", "EU"), ("IN", "AS"), ("RU", "EU")]


def make_data(d, networks=50000, blocked=20000):
    rnd = random.Random(7)
    with open(os.path.join(d, "bench.map"), "w") as f:
        seen = set()
        while len(seen) < networks:
            a, b, c = rnd.randrange(1, 224), rnd.randrange(256), rnd.randrange(256)
            if a in (10, 127):
                continue
            seen.add((a, b, c))
        for (a, b, c) in sorted(seen):
            cc, cont = rnd.choice(COUNTRIES)
            f.write("%d.%d.%d.0/24 %s %s %d\n" % (a, b, c, cc, cont,
                                                  rnd.randrange(1, 65000)))
        f.write("10.0.0.0/8 DE EU 3320\n127.0.0.0/8 DE EU 3320\n")
    subprocess.run(["perl", os.path.join(h.DATA, "mkgeo.pl"),
                    os.path.join(d, "bench-country.mmdb"),
                    os.path.join(d, "bench.map")], check=True)
    with open(os.path.join(d, "blocklist.txt"), "w") as f:
        f.write("# bench blocklist\n")
        for _ in range(blocked):
            f.write("%d.%d.%d.%d\n" % (rnd.randrange(11, 224), rnd.randrange(256),
                                        rnd.randrange(256), rnd.randrange(256)))
    rules = os.path.join(d, "bench-rules.yaml")
    with open(os.path.join(TOP, "utils", "bench-rules.yaml.in")) as f:
        text = f.read().replace("@DIR@", d).replace("@ETC@", h.ETC)
    with open(rules, "w") as f:
        f.write(text)
    return rules


def build_core(d):
    """Builds utils/bench_core.c against build/pic into d; its path."""
    exe = os.path.join(d, "bench_core")
    objs = sorted(os.path.join(TOP, "build", "pic", o)
                  for o in os.listdir(os.path.join(TOP, "build", "pic")))
    subprocess.run(["gcc", "-O2", "-g", "-std=gnu11", "-D_GNU_SOURCE",
                    "-I" + os.path.join(TOP, "modules", "antifraud", "core"),
                    os.path.join(TOP, "utils", "bench_core.c")] + objs +
                   ["-o", exe, "-lmaxminddb", "-lhiredis", "-lpcre2-8",
                    "-lyaml", "-lpthread", "-lm"], check=True)
    return exe


def core_bench(d, rules):
    exe = build_core(d)
    out = subprocess.run([exe, rules, "2000000"], check=True,
                         capture_output=True, text=True).stdout
    print(out, end="")
    for kind, what in (("legit", "legitimate requests"),
                       ("tools", "attack-tool requests, each from a new"
                                 " source, so each is scored and banned")):
        files = sorted(glob.glob(os.path.join(h.DATA, "corpus", kind,
                                              "*.sip")))
        out = subprocess.run([exe, rules, "1600000"] + files, check=True,
                             capture_output=True, text=True).stdout
        line = [x for x in out.splitlines()
                if x.startswith("af_check_fingerprint")][0]
        print("%s\n  (%s)" % (line, what))
        if kind == "legit":  # exact instructions of the source and these
            bench_shm.checks_bench(d, rules, exe, files)
    bench_shm.full_store_bench(d, rules, exe, files)  # (the tools)
    out = subprocess.run([exe, rules, "1000000", "--dest"], check=True,
                         capture_output=True, text=True).stdout
    print(out, end="")
    bench_shm.shm_bench(d, rules)
    out = subprocess.run([exe, rules, "1000000", "--auth"], check=True,
                         capture_output=True, text=True).stdout
    print(out, end="")
    out = subprocess.run([exe, rules, "300000", "--outcome"], check=True,
                         capture_output=True, text=True).stdout
    print(out, end="")
    out = subprocess.run([exe, rules, "300000", "--outcome", "--batched"],
                         check=True, capture_output=True, text=True).stdout
    print(out, end="")


def core_bench_redis(d, rules, url):
    exe = os.path.join(d, "bench_core")
    for extra in ([], ["--dest"], ["--auth"], ["--outcome"],
                  ["--outcome", "--batched"]):
        # a call end is a batch of 5 figure ops (one per subject, every
        # window in it): fewer of them
        iters = "10000" if "--outcome" in extra else "100000"
        out = subprocess.run([exe, rules, iters, "--redis", url] + extra,
                             check=True, capture_output=True,
                             text=True).stdout
        print(out, end="")


def main():
    d = tempfile.mkdtemp(prefix="af-bench-")
    print("== antifraud bench (%s, %d cores)" % (
        time.strftime("%Y-%m-%d"), os.cpu_count()))
    rules = make_data(d)
    print("-- core (GeoIP db of 50k networks, blocklist of 20k addresses)")
    core_bench(d, rules)
    redis = h.Redis(d).start()
    url = "redis://127.0.0.1:%d/0" % redis.port
    try:
        print("-- core, state in Redis (redis-server on loopback)")
        core_bench_redis(d, rules, url)
        bench_kam.run_cpu(d, rules, url, [redis.proc.pid])
        bench_kam.run_instructions(d, rules, url)
    finally:
        redis.kill()
    import bench_redis  # Redis's own CPU per batch, calls/s per core
    bench_redis.run(d, rules, os.path.join(d, "bench_core"))
    import bench_cluster  # checks/s on a 1- and 3-master Redis Cluster
    bench_cluster.run(d, rules, os.path.join(d, "bench_core"))


if __name__ == "__main__":
    main()
