# antifraud - `make bench`, shm store section: exact instructions per
# af_check_dest (callgrind) beside its ns, and bytes per tracked subject.
# SPDX-License-Identifier: GPL-2.0-or-later
import os
import re
import subprocess


def _callgrind_total(exe, rules, iters, d):
    out = os.path.join(d, "cg-dest-%d.out" % iters)
    p = subprocess.run(["valgrind", "--tool=callgrind",
                        "--callgrind-out-file=" + out, exe, rules,
                        str(iters), "--dest"], capture_output=True,
                       text=True, check=True)
    m = re.search(r"refs:\s+([\d,]+)", p.stderr)
    return int(m.group(1).replace(",", ""))


def shm_bench(d, rules):
    """Prints instructions per af_check_dest (exact: the difference of two
    callgrind runs of 20000 and 40000 checks, so that start-up cancels
    out; the release of admitted calls included, as in the ns figure) and
    the shm store's bytes per tracked subject for 1 million subjects."""
    exe = os.path.join(d, "bench_core")
    try:
        a = _callgrind_total(exe, rules, 20000, d)
        b = _callgrind_total(exe, rules, 40000, d)
        print("af_check_dest: %d instructions per check (callgrind, exact:"
              " 40000 minus 20000 checks, the release included)"
              % ((b - a) // 20000))
    except (OSError, subprocess.CalledProcessError, AttributeError) as e:
        print("af_check_dest: instructions not counted (%s)" % e)
    out = subprocess.run([exe, rules, "1000000", "--memory"], check=True,
                         capture_output=True, text=True).stdout
    print(out, end="")
