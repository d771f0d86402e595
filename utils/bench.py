#!/usr/bin/env python3
# antifraud - `make bench`: ns per check in the core, and Kamailio CPU time
# per call with the module against the same configuration without it.
# Everything runs on loopback; bounded in calls and time.
# SPDX-License-Identifier: GPL-2.0-or-later
import glob
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# the number the bench calls: international (France) from the sample
# profile's Germany, so that af_check_dest runs every counter and limit
CALLEE = "0033123456789"
sys.path.insert(0, os.path.join(TOP, "test", "integration"))
import afharness as h  # noqa: E402
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


def core_bench_redis(d, rules, url):
    exe = os.path.join(d, "bench_core")
    for extra in ([], ["--dest"], ["--auth"], ["--outcome"]):
        # a call end is a batch of 15 figures: fewer of them
        iters = "10000" if extra == ["--outcome"] else "100000"
        out = subprocess.run([exe, rules, iters, "--redis", url] + extra,
                             check=True, capture_output=True,
                             text=True).stdout
        print(out, end="")


def kamailio_cpu(d, rules, calls, rate, without, redis_url=None):
    uas_port = h.free_port()
    uas = h.Sipp.uas(d, uas_port)
    defines = {"AF_WITHOUT": "1"} if without else {}
    if redis_url and not without:
        defines["AF_REDIS"] = '"%s"' % redis_url
    k = h.Kamailio(d, rules, next_hop_port=uas_port, children=2,
                   defines=defines).start()
    try:
        # warm-up, then the measured run
        h.Sipp.uac(d, "127.0.0.1:%d" % k.port, calls=50, rate=100,
                   caller="alice", callee=CALLEE, timeout=30)
        c0 = proc_cpu(k.proc.pid)
        t0 = time.time()
        p = h.Sipp.uac(d, "127.0.0.1:%d" % k.port, calls=calls, rate=rate,
                       caller="alice", callee=CALLEE, timeout=120,
                       extra=["-l", "400"])
        wall = time.time() - t0
        c1 = proc_cpu(k.proc.pid)
        if p.returncode != 0:
            print("sipp failed:", p.stdout[-1500:], file=sys.stderr)
        return (c1 - c0) / calls, wall
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


def loaded_only_cfg(d):
    """The sample configuration with the module loaded but its checks
    not called: what loading alone costs."""
    with open(h.SAMPLE_CFG) as f:
        text = f.read()
    for call in ("\taf_check_source();\n", "\taf_check_fingerprint();\n",
                 "\t\taf_check_dest();\n"):
        assert call in text
        text = text.replace(call, "\t$var(af) = 1;\n")
    path = os.path.join(d, "kamailio-loaded-only.cfg")
    with open(path, "w") as f:
        f.write(text)
    return path


def kamailio_instructions(d, rules, calls, without, alloc=None, cfg=None):
    """Instructions Kamailio executes per call in its SIP workers
    (inclusive cost of receive_msg: parsing, routing, relaying, the
    module's checks) under callgrind, and those of the module's script
    function. Deterministic, unlike CPU time."""
    cg = tempfile.mkdtemp(prefix="cg-", dir=d)
    uas_port = h.free_port()
    uas = h.Sipp.uas(d, uas_port)
    k = h.Kamailio(cg, rules, next_hop_port=uas_port, children=2,
                   defines={"AF_WITHOUT": "1"} if without else {})
    if cfg:
        k.cfg = cfg
    if alloc:
        k.extra_args = ["-x", alloc, "-X", alloc]
    k.wrapper = ["valgrind", "--tool=callgrind",
                 "--callgrind-out-file=%s/callgrind.out.%%p" % cg]
    try:
        k.start(timeout=180)
        p = h.Sipp.uac(d, "127.0.0.1:%d" % k.port, calls=calls,
                       rate=max(1, calls // 20), caller="alice",
                       callee=CALLEE, timeout=180)
        if p.returncode != 0:
            print("sipp failed under valgrind:", p.stdout[-800:],
                  file=sys.stderr)
    finally:
        k.stop()
        h.Sipp.stop(uas)
    tot = {"receive_msg": 0, "w_af_check_source": 0,
           "w_af_check_fingerprint": 0, "w_af_check_dest": 0}
    for name in os.listdir(cg):
        if name.startswith("callgrind.out."):
            for f, v in inclusive(os.path.join(cg, name), tot).items():
                tot[f] += v
    return (tot["receive_msg"] / calls,
            (tot["w_af_check_source"] + tot["w_af_check_fingerprint"]
             + tot["w_af_check_dest"]) / calls)


def main():
    calls = int(os.environ.get("AF_BENCH_CALLS", "3000"))
    rate = int(os.environ.get("AF_BENCH_RATE", "300"))
    rounds = int(os.environ.get("AF_BENCH_ROUNDS", "3"))
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
        print("-- kamailio CPU per call: %d calls at %d cps via sipp, %d"
              " rounds" % (calls, rate, rounds))
        res = {"none": [], "shm": [], "redis": []}
        for _ in range(rounds):
            for mode in ("none", "shm", "redis"):
                cpu, _ = kamailio_cpu(d, rules, calls, rate, mode == "none",
                                      url if mode == "redis" else None)
                res[mode].append(cpu)
    finally:
        redis.kill()
    med = {m: statistics.median(v) for m, v in res.items()}
    for m, label in (("none", "without module"), ("shm", "module, shm"),
                     ("redis", "module, Redis")):
        print("  %-15s %.1f us CPU per call (median of %s)" % (
            label + ":", med[m] * 1e6,
            ", ".join("%.1f" % (x * 1e6) for x in res[m])))
    for m in ("shm", "redis"):
        print("  ratio %s/none: %.3f (%+.1f %%)" % (
            m, med[m] / med["none"], (med[m] / med["none"] - 1) * 100))
    print("  (kamailio's own CPU; redis-server's is not counted)")
    __import__("bench_cluster").run(d, rules, os.path.join(d, "bench_core"))
    if os.environ.get("AF_BENCH_CALLGRIND", "1") != "0":
        n = int(os.environ.get("AF_BENCH_CG_CALLS", "200"))
        for alloc, label in ((None, "Debian's default allocator (qm)"),
                             ("tlsf", "-x tlsf -X tlsf")):
            print("-- kamailio instructions per call in its SIP workers"
                  " (callgrind, %d calls, %s)" % (n, label))
            ib, _ = kamailio_instructions(d, rules, n, True, alloc)
            im, check = kamailio_instructions(d, rules, n, False, alloc)
            print("  without module: %.0f instructions per call" % ib)
            print("  with module:    %.0f instructions per call, of which"
                  " the three checks %.0f (%.1f %% of the call)" % (
                      im, check, 100.0 * check / im))
            print("  ratio: %.3f (%+.1f %%)" % (im / ib, (im / ib - 1) * 100))
            if alloc is None:
                il, _ = kamailio_instructions(d, rules, n, False, alloc,
                                              loaded_only_cfg(d))
                print("  control, module loaded but no check called:"
                      " %.0f (%+.1f %%): the allocator's layout"
                      % (il, (il / ib - 1) * 100))


if __name__ == "__main__":
    main()
