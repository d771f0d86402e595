#!/usr/bin/python3
# antifraud - make bench-cdr: af-cdr's speed and memory on a month of a
# mid-size carrier (generated: CALLERS business lines, 8 to 14 calls each
# per workday, the fraud of test_cdr.py injected), as generic CSV and as
# Kamailio acc flatstore rows.
# SPDX-License-Identifier: GPL-2.0-or-later
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "test", "integration"))
import cdrgen  # noqa: E402

CALLERS = int(os.environ.get("AF_BENCH_CDR_CALLERS", "2000"))

RULES = """version: 1
dest:
  numplan: %(etc)s/antifraud-numplan.csv
  overlays: [%(etc)s/antifraud-highrisk.csv]
  calendars:
    utc: {timezone: UTC, workdays: [mon, tue, wed, thu, fri],
          hours: {mon-fri: "08:00-18:00"}}
  calendar: utc
  max_duration: 14400
  concurrency:
    workday: {default: 400}
    holiday: {default: 100}
analytics:
  windows: [3600, 86400]
  duration: {international: 7200}
  asr: {below: 20, window: 3600, min_sample: 20, subjects: [caller]}
  minutes: {above: 300, window: 86400, subjects: [caller],
            scope: international}
profiles:
  default:
    routable: '^\\+?[0-9]{3,15}$'
    dest:
      country: DE
      international: true
      premium: false
      rates: {caller_per_minute: 10}
      repeat: {same_number: {60m: {warn: 6, block: 10}}}
    mode: {dest: enforce, rate: enforce, repeat: enforce,
           concurrency: monitor, analytics: monitor}
"""


def run(rules, args, path):
    t0 = time.time()
    p = subprocess.run([os.path.join(ROOT, "build", "af-cdr"), "-r", rules,
                        "-o", "/dev/null"] + args +
                       [path], capture_output=True, text=True)
    wall = time.time() - t0
    if p.returncode != 0:
        sys.stderr.write(p.stderr[-3000:])
        raise SystemExit("af-cdr failed")
    m = re.search(r"records: (\d+) calls", p.stderr)
    r = re.search(r"run: ([\d.]+) s \(CPU ([\d.]+) s\), (\d+) CDRs/s \((\d+) "
                  r"per CPU s\), peak RSS (\d+) MB", p.stderr)
    return int(m.group(1)), float(r.group(1)), float(r.group(2)), \
        int(r.group(5)), wall


def main():
    with tempfile.TemporaryDirectory() as d:
        rules = os.path.join(d, "rules.yaml")
        with open(rules, "w") as f:
            f.write(RULES % {"etc": os.path.join(ROOT, "etc")})
        t0 = time.time()
        calls, _ = cdrgen.month(callers=CALLERS)
        csv = os.path.join(d, "month.csv")
        cdrgen.write_csv(calls, csv)
        flat = os.path.join(d, "acc_1.log")
        cdrgen.write_kamailio_flatstore(calls, flat)
        print("af-cdr bench: a month of %d callers: %d calls (%.1f MB CSV,"
              " generated in %.0f s)" % (CALLERS, len(calls),
                                        os.path.getsize(csv) / 1e6,
                                        time.time() - t0))
        for name, args, path in (
                ("csv", ["--columns", cdrgen.CSV_COLUMNS], csv),
                ("kamailio-flatstore", [], flat)):
            n, run_s, cpu_s, rss, wall = run(rules, args, path)
            print("  %-19s %8d CDRs in %.2f s (CPU %.2f s): %.0f CDRs/s,"
                  " %.2f M/min per CPU; peak RSS %d MB"
                  % (name, n, run_s, cpu_s, n / run_s,
                     n / cpu_s * 60 / 1e6 if cpu_s else 0, rss))


if __name__ == "__main__":
    main()
