# antifraud reliability runs (soak, hostile traffic): what they share. A
# kamailio with the sample cfg and every check on (test/data/rules-soak.yaml.in),
# its own accounts, optionally in cluster mode on its own redis-server;
# memory samples of its processes; the checks at the end of a run.
# SPDX-License-Identifier: GPL-2.0-or-later
import os
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "test", "integration"))
import afharness as h  # noqa: E402

BUILD = os.path.join(ROOT, "build")
ACCOUNTS = {"alice": "al1ce-Soak", "bob": "b0b-Soak", "carol": "car0l-Soak",
            "dave": "1012"}
ACCOUNTS.update({"fraud%02d" % i: "fr4ud-%02d" % i for i in range(1, 21)})

# what "flat after warm-up" allows: growth of the largest sample of the
# last quarter of the run over the largest of the quarter after warm-up
SHM_TOLERANCE = 512 * 1024        # the module's shm (mod.stats antifraud shm)
SHM_TOTAL_TOLERANCE = 2 << 20     # Kamailio's shm in use (core.shmmem)
PKG_TOLERANCE = 64 * 1024         # each process's pkg real_used
ANON_TOLERANCE = 2 << 20          # each process's RssAnon (pkg + libc heap)


def log(fmt, *args):
    sys.stdout.write(time.strftime("%H:%M:%S ") + (fmt % args) + "\n")
    sys.stdout.flush()


def start_kamailio(workdir, redis_url=None, children=4, extra_defines=None,
                   log_stderr=True):
    """kamailio with the soak rules, the accounts of ACCOUNTS (registrar,
    digest auth), reload_min_interval 0 and a sipp UAS as next hop."""
    os.makedirs(workdir, exist_ok=True)
    geo = h.build_geo_db(os.path.join(workdir, "geo.mmdb"))
    rules = h.render(os.path.join(h.DATA, "rules-soak.yaml.in"),
                     os.path.join(workdir, "rules.yaml"), GEO_DB=geo,
                     DATA=h.DATA, ETC=h.ETC)
    uas_port = h.free_port()
    uas = h.Sipp.uas(workdir, uas_port, scenario="uas-dest.xml")
    defines = {"AF_RELOAD_MIN_INTERVAL": 0}
    if redis_url:
        defines["AF_REDIS"] = '"%s"' % redis_url
    defines.update(extra_defines or {})
    k = h.Kamailio(workdir, rules, next_hop_port=uas_port, children=children,
                   defines=defines, accounts=ACCOUNTS)
    k.log_stderr = log_stderr
    k.start(timeout=30)
    return k, uas


def processes(k):
    """{pid: desc} of the kamailio processes (pkg.stats)."""
    out = {}
    for e in as_list(h.parse_kamcmd(k.rpc("pkg.stats").stdout)):
        if isinstance(e, dict) and "pid" in e:
            out[e["pid"]] = e.get("desc", "")
    return out


def as_list(x):
    return x if isinstance(x, list) else [x]


def proc_status(pid):
    """VmRSS and RssAnon of pid in bytes (None when it is gone)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            text = f.read()
    except OSError:
        return None
    res = {}
    for key in ("VmRSS", "RssAnon"):
        m = re.search(r"^%s:\s+(\d+) kB" % key, text, re.M)
        res[key] = int(m.group(1)) * 1024 if m else 0
    return res


def sample(k):
    """One memory sample: shm of kamailio and of the module, and per
    process pkg real_used, VmRSS, RssAnon."""
    s = {"t": time.time()}
    shm = h.parse_kamcmd(k.rpc("core.shmmem").stdout)
    s["shm_used"] = shm["real_used"]
    mod = k.rpc("mod.stats", "antifraud", "shm", check=False).stdout
    m = re.search(r"Total:\s*(\d+)", mod)
    s["mod_shm"] = int(m.group(1)) if m else 0
    mod = k.rpc("mod.stats", "antifraud", "pkg", check=False).stdout
    m = re.search(r"Total:\s*(\d+)", mod)
    s["mod_pkg"] = int(m.group(1)) if m else 0
    procs = {}
    for e in as_list(h.parse_kamcmd(k.rpc("pkg.stats").stdout)):
        if isinstance(e, dict) and "pid" in e:
            st = proc_status(e["pid"]) or {}
            procs[e["pid"]] = {"desc": e.get("desc", ""),
                               "pkg": e["real_used"],
                               "rss": st.get("VmRSS", 0),
                               "anon": st.get("RssAnon", 0)}
    s["procs"] = procs
    p = k.rpc("antifraud.stats", check=False)
    stats = h.parse_kamcmd(p.stdout) if p.returncode == 0 else {}
    s["store_entries"] = stats.get("store", {}).get("entries", 0) \
        if isinstance(stats, dict) else 0
    return s


def growth(values, times, t_warm, t_end):
    """max(last quarter) - max(first quarter after warm-up) of a series."""
    span = t_end - t_warm
    a = [v for v, t in zip(values, times) if t_warm <= t < t_warm + span / 4]
    b = [v for v, t in zip(values, times) if t >= t_end - span / 4]
    if not a or not b:
        return None
    return max(b) - max(a)


def memory_verdict(samples, warm_fraction=0.25):
    """The flatness checks over samples: (lines of figures, failures)."""
    t0, t1 = samples[0]["t"], samples[-1]["t"]
    tw = t0 + (t1 - t0) * warm_fraction
    times = [s["t"] for s in samples]
    lines, fails = [], []

    def check(name, values, tol):
        g = growth(values, times, tw, t1)
        lines.append("%-28s start %10d  after warm-up %10d  end %10d  "
                     "growth %+9d (tolerance %d)" % (
                         name, values[0],
                         max(v for v, t in zip(values, times) if t >= tw),
                         values[-1], g if g is not None else 0, tol))
        if g is None:
            fails.append("%s: too few samples" % name)
        elif g > tol:
            fails.append("%s grew by %d bytes after warm-up (> %d)" % (
                name, g, tol))

    check("module shm", [s["mod_shm"] for s in samples], SHM_TOLERANCE)
    check("kamailio shm in use", [s["shm_used"] for s in samples],
          SHM_TOTAL_TOLERANCE)
    pids = set(samples[0]["procs"])
    for s in samples[1:]:
        pids &= set(s["procs"])
    for pid in sorted(pids):
        desc = samples[-1]["procs"][pid]["desc"][:28]
        for key, tol in (("pkg", PKG_TOLERANCE), ("anon", ANON_TOLERANCE)):
            check("%d %s %s" % (pid, key, desc),
                  [s["procs"][pid][key] for s in samples], tol)
    worst = max((s["procs"][p]["rss"] for s in samples for p in pids),
                default=0)
    lines.append("largest VmRSS of a process: %d bytes" % worst)
    return lines, fails


def redis_keys_without_ttl(redis):
    """(keys, keys without a TTL) of the redis-server."""
    keys = [k for k in redis.cli("--scan").stdout.splitlines() if k]
    if not keys:
        return 0, []
    p = subprocess.run(["redis-cli", "-p", str(redis.port)],
                       input="".join("TTL %s\n" % k for k in keys),
                       capture_output=True, text=True, timeout=60)
    ttls = p.stdout.splitlines()
    return len(keys), [k for k, t in zip(keys, ttls) if t.strip() == "-1"]


# a worker's death as Kamailio logs it (the harness's own pattern also
# matches "ASSERT" in P-Asserted-Identity headers that mutated requests
# make Kamailio log)
CRASH = re.compile(r"(?:exited by a signal|Segmentation fault|core dumped|"
                   r"\bBUG: <core>|assertion .* failed)[^\n]*")


def crash_lines(k):
    with open(k.log_path, errors="replace") as f:
        return CRASH.findall(f.read())


def percentile(values, p):
    if not values:
        return 0.0
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def median(values):
    return statistics.median(values) if values else 0.0
