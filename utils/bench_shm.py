# antifraud - `make bench`, shm store section: exact instructions per
# af_check_source and per af_check_fingerprint of a legitimate request,
# per af_check_dest (callgrind) beside its ns, bytes per tracked subject,
# and exact instructions of an attack flood and a guessing campaign into a
# full store.
# SPDX-License-Identifier: GPL-2.0-or-later
import os
import re
import subprocess


def _callgrind_total(exe, rules, iters, d, args=("--dest",), only=None):
    """Instructions of a bench_core run under callgrind (of the function
    only, when given: --toggle-collect)."""
    out = os.path.join(d, "cg-shm-%d.out" % iters)
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out]
    if only:
        cmd.append("--toggle-collect=" + only)
    p = subprocess.run(cmd + [exe, rules, str(iters)] + list(args),
                       capture_output=True, text=True, check=True)
    m = re.search(r"refs:\s+([\d,]+)", p.stderr)
    return int(m.group(1).replace(",", ""))


def _per_event(exe, rules, d, iters, args, only, events):
    """Instructions per event: the difference of two callgrind runs of
    iters[0] and iters[1] iterations, over the events between them."""
    a = _callgrind_total(exe, rules, iters[0], d, args, only)
    b = _callgrind_total(exe, rules, iters[1], d, args, only)
    return (b - a) // events


def checks_bench(d, rules, exe, legit):
    """Prints exact instructions (callgrind, the check's function alone)
    per af_check_source over the bench's request mix and per
    af_check_fingerprint over the legitimate corpus: the difference of
    two runs, so that start-up and the first round (JIT, caches) cancel
    out. bench_core makes 1.25 source checks per iteration (the mix, then
    a quarter timed one by one) and a fingerprint check per 4."""
    try:
        n = _per_event(exe, rules, d, (8000, 16000), [], "af_check_source",
                       10000)
        print("af_check_source: %d instructions per check (callgrind, exact:"
              " 20000 minus 10000 checks of the mix)" % n)
        n = _per_event(exe, rules, d, (8000, 16000), legit,
                       "af_check_fingerprint", 2000)
        print("af_check_fingerprint: %d instructions per check of the"
              " legitimate requests (callgrind, exact: 4000 minus 2000"
              " checks)" % n)
    except (OSError, subprocess.CalledProcessError, AttributeError) as e:
        print("checks: instructions not counted (%s)" % e)


def full_store_bench(d, rules, exe, tools):
    """Prints exact instructions (callgrind) per check of the attack-tool
    flood (each tool from a new source, scored and banned) and per learned
    failure of the guessing campaign, both into a full store (65536
    entries): the difference of two runs, so that the store's filling
    cancels out."""
    try:
        n = _per_event(exe, rules, d, (240000, 400000), tools,
                       "af_check_fingerprint", 40000)
        print("af_check_fingerprint: %d instructions per check of the"
              " attack tools into a full store (callgrind, exact: 100000"
              " minus 60000 checks)" % n)
        n = _per_event(exe, rules, d, (200000, 400000), ["--auth"],
                       "bench_auth_failures*", 200000)
        print("af_auth_result: %d instructions per learned failure into a"
              " full store (callgrind, exact: 400000 minus 200000"
              " failures)" % n)
    except (OSError, subprocess.CalledProcessError, AttributeError) as e:
        print("full store: instructions not counted (%s)" % e)


def shm_bench(d, rules):
    """Prints instructions per af_check_dest (exact: the difference of two
    callgrind runs of 20000 and 40000 checks, so that start-up cancels
    out; the release of admitted calls included, as in the ns figure) and
    the shm store's bytes per tracked subject for 1 million subjects."""
    exe = os.path.join(d, "bench_core")
    try:
        n = _per_event(exe, rules, d, (20000, 40000), ["--dest"], None,
                       20000)
        print("af_check_dest: %d instructions per check (callgrind, exact:"
              " 40000 minus 20000 checks, the release included)" % n)
    except (OSError, subprocess.CalledProcessError, AttributeError) as e:
        print("af_check_dest: instructions not counted (%s)" % e)
    out = subprocess.run([exe, rules, "1000000", "--memory"], check=True,
                         capture_output=True, text=True).stdout
    print(out, end="")
