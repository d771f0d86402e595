#!/usr/bin/env python3
# antifraud - runs the libFuzzer harnesses of build/fuzz (make fuzz):
# each for --time seconds on its seeds (test/fuzz/corpus/<name>) and a
# working corpus kept in build/fuzz/corpus/<name>, then prints its
# executions, executions per second and coverage (libFuzzer's cov: edges
# and ft: features). Exit status 1 when a harness crashed (the input is
# left in build/fuzz/artifacts/).
# SPDX-License-Identifier: GPL-2.0-or-later
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
SEEDS = os.path.join(HERE, "corpus")
STAT = re.compile(r"#(\d+)\s+(?:INITED|pulse|NEW|REDUCE|DONE|RELOAD)\s+"
                  r"cov: (\d+) ft: (\d+).*?exec/s: (\d+)")
FLAGS = ["-rss_limit_mb=2048", "-timeout=10", "-max_len=65536",
         "-print_final_stats=1"]


def harnesses(build):
    """The harness binaries of build (build/fuzz), by name."""
    return sorted(os.path.basename(p)[len("fuzz_"):]
                  for p in glob.glob(os.path.join(build, "fuzz_*"))
                  if os.access(p, os.X_OK) and not p.endswith(".log"))


def run(build, name, seconds, corpus=None, extra=()):
    """Runs harness name for seconds on its seeds (and corpus, where new
    inputs go; a fresh temporary one when None). Returns a dict: rc,
    runs, execs_per_s, cov, ft, seconds, crash (the first lines of the
    report, '' when none), log."""
    binary = os.path.join(build, "fuzz_" + name)
    seeds = os.path.join(SEEDS, name)
    tmp = None
    if corpus is None:
        tmp = corpus = tempfile.mkdtemp(prefix="af-fuzz-corpus-")
    os.makedirs(corpus, exist_ok=True)
    art = os.path.join(build, "artifacts")
    os.makedirs(art, exist_ok=True)
    args = [binary, corpus] + ([seeds] if os.path.isdir(seeds) else []) + \
        FLAGS + ["-max_total_time=%d" % seconds,
                 "-artifact_prefix=%s/%s-" % (art, name)] + list(extra)
    env = dict(os.environ, AF_FUZZ_TOP=TOP)
    p = subprocess.run(args, capture_output=True, text=True,
                       errors="replace", env=env, timeout=seconds * 4 + 120)
    if tmp:
        shutil.rmtree(tmp, ignore_errors=True)
    return summarize(p.returncode, p.stderr)


def summarize(rc, log):
    res = {"rc": rc, "runs": 0, "execs_per_s": 0, "cov": 0, "ft": 0,
           "seconds": 0, "crash": "", "log": log}
    for m in STAT.finditer(log):
        res["runs"], res["cov"], res["ft"] = (int(m.group(1)),
                                              int(m.group(2)),
                                              int(m.group(3)))
        res["execs_per_s"] = int(m.group(4))
    m = re.search(r"stat::number_of_executed_units: (\d+)", log)
    if m:
        res["runs"] = int(m.group(1))
    m = re.search(r"stat::average_exec_per_sec:\s+(\d+)", log)
    if m:
        res["execs_per_s"] = int(m.group(1))
    m = re.search(r"Done \d+ runs in (\d+) second", log)
    if m:
        res["seconds"] = int(m.group(1))
    if rc != 0:
        lines = [ln for ln in log.splitlines()
                 if re.search(r"ERROR|runtime error|SUMMARY|#\d+ 0x|"
                              r"Test unit written", ln)]
        res["crash"] = "\n".join(lines[:30]) or log[-3000:]
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("build", nargs="?", default=os.path.join(TOP, "build",
                                                            "fuzz"))
    ap.add_argument("--time", type=int, default=60,
                    help="seconds per harness (default 60)")
    ap.add_argument("--only", action="append",
                    help="run only this harness (repeatable)")
    a = ap.parse_args()
    names = a.only or harnesses(a.build)
    if not names:
        sys.exit("no harness in %s: make fuzz-build" % a.build)
    failed = []
    print("%-14s %10s %8s %7s %7s  %s" % ("harness", "execs", "exec/s",
                                          "cov", "ft", "result"))
    for name in names:
        res = run(a.build, name, a.time,
                  corpus=os.path.join(a.build, "corpus", name))
        print("%-14s %10d %8d %7d %7d  %s" % (
            name, res["runs"], res["execs_per_s"], res["cov"], res["ft"],
            "ok" if res["rc"] == 0 else "CRASH"), flush=True)
        if res["rc"] != 0:
            failed.append(name)
            print(res["crash"], file=sys.stderr)
    if failed:
        sys.exit("crashed: %s (inputs in %s/artifacts)" % (
            " ".join(failed), a.build))


if __name__ == "__main__":
    main()
