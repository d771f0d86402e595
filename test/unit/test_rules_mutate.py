# antifraud - mutated rule files through the core loader (ASan/UBSan):
# each accepted as a whole or refused with file:line, never a crash, a
# leak or a partial load. 200 files here; make hostile loads 10,000.
# SPDX-License-Identifier: GPL-2.0-or-later
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "test", "reliability", "rules_mutate.py")
LOADER = os.path.join(ROOT, "build", "san", "rules-load")


def test_mutated_rule_files(tmp_path):
    assert os.access(LOADER, os.X_OK), "not built (run make unit-build)"
    p = subprocess.run([sys.executable, SCRIPT, "--count", "200", "--seed",
                        "5", "--workdir", str(tmp_path / "m"), "--keep",
                        str(tmp_path / "failed")],
                       capture_output=True, text=True, timeout=600, cwd=ROOT)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out[-6000:]
    summary = out.strip().splitlines()[-1]
    # both outcomes occur: the mutations are neither all fatal nor all
    # harmless
    ok = int(summary.split(" accepted")[0].rsplit(" ", 1)[1])
    refused = int(summary.split(" refused")[0].rsplit(" ", 1)[1])
    assert ok >= 5 and refused >= 100 and ok + refused == 200, summary
