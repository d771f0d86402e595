# antifraud - runs each unit-test binary (cmocka, ASan/UBSan) as one test.
# SPDX-License-Identifier: GPL-2.0-or-later
import glob
import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINS = sorted(glob.glob(os.path.join(ROOT, "build", "san", "test_*")))


def test_unit_binaries_were_built():
    sources = glob.glob(os.path.join(ROOT, "test", "unit", "test_*.c"))
    assert sources, "no unit test sources"
    built = {os.path.basename(b) for b in BINS}
    missing = [s for s in sources
               if os.path.basename(s)[:-2] not in built]
    assert not missing, "not built (run make unit-build): %s" % missing


@pytest.mark.parametrize("binary", BINS, ids=[os.path.basename(b) for b in BINS])
def test_unit(binary, tmp_path):
    env = dict(os.environ)
    env["TMPDIR"] = str(tmp_path)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    p = subprocess.run([binary], capture_output=True, text=True, env=env,
                       timeout=300, cwd=ROOT)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out[-6000:]
    assert "[  PASSED  ]" in out, out[-6000:]
    assert "[  FAILED  ]" not in out, out[-6000:]


LUA = sorted(glob.glob(os.path.join(ROOT, "modules", "antifraud", "core",
                                    "lua", "*.lua")))


@pytest.mark.parametrize("script", LUA, ids=[os.path.basename(s) for s in LUA])
def test_lua_syntax(script, tmp_path):
    """The Redis scripts parse as Lua 5.1 (the Lua of Redis), and what
    utils/lua2c.sh embeds is the script without its comment lines."""
    p = subprocess.run(["luac5.1", "-p", script], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    out = tmp_path / "embedded.h"
    subprocess.run([os.path.join(ROOT, "utils", "lua2c.sh"), str(out),
                    "s=" + script], check=True, timeout=60)
    text = out.read_text()
    assert "static const char s[] =" in text
    assert "\t\t\"--" not in text
    with open(script) as f:
        code = [ln for ln in f.read().splitlines()
                if ln.strip() and not ln.strip().startswith("--")]
    assert text.count("\\n\"\n") == len(code)


def test_lua_syntax_check_catches_errors(tmp_path):
    bad = tmp_path / "bad.lua"
    bad.write_text("local x = = 1\n")
    p = subprocess.run(["luac5.1", "-p", str(bad)], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode != 0
