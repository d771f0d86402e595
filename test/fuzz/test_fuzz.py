# antifraud - the libFuzzer harnesses in `make test`: each runs every seed
# of test/fuzz/corpus/<name> (regressions included), then fuzzes a few
# seconds (AF_FUZZ_TEST_TIME, default 3). A crash, a sanitizer report or
# a harness that did not run fails.
# SPDX-License-Identifier: GPL-2.0-or-later
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as fz  # noqa: E402

BUILD = os.path.join(fz.TOP, "build", "fuzz")
SECONDS = int(os.environ.get("AF_FUZZ_TEST_TIME", "3"))
NAMES = sorted(os.path.basename(p)[len("fuzz_"):-len(".c")]
               for p in os.listdir(fz.HERE)
               if p.startswith("fuzz_") and p.endswith(".c")
               and p != "fuzz_host.c")


@pytest.fixture(scope="session")
def built():
    p = subprocess.run(["make", "-s", "-C", fz.TOP, "fuzz-build"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return BUILD


def test_every_harness_has_seeds():
    for name in NAMES:
        seeds = os.path.join(fz.SEEDS, name)
        assert os.path.isdir(seeds) and os.listdir(seeds), name


@pytest.mark.parametrize("name", NAMES)
def test_harness(built, name):
    res = fz.run(built, name, SECONDS)
    assert res["rc"] == 0, "fuzz_%s crashed:\n%s" % (name, res["crash"])
    # it ran: every seed, then more inputs, and saw code
    assert res["runs"] >= len(os.listdir(os.path.join(fz.SEEDS, name)))
    assert res["cov"] > 0


def test_summary_reads_a_crash():
    """The runner tells a crash from a clean run (what test_harness
    relies on)."""
    log = ("#2\tINITED cov: 10 ft: 12 corp: 1/1b exec/s: 0 rss: 30Mb\n"
           "==1==ERROR: AddressSanitizer: heap-buffer-overflow\n"
           "SUMMARY: AddressSanitizer: heap-buffer-overflow x.c:1\n")
    res = fz.summarize(1, log)
    assert res["cov"] == 10 and res["ft"] == 12
    assert "heap-buffer-overflow" in res["crash"]
