# antifraud: the built module itself.
# SPDX-License-Identifier: GPL-2.0-or-later
import re
import subprocess

import afharness as h

# what Kamailio looks up in a module, and nothing else without our prefix
KAMAILIO_SYMBOLS = {"exports", "mod_register", "module_flags",
                    "module_interface_ver", "module_version"}


def test_module_exports_only_prefixed_symbols():
    out = subprocess.run(["nm", "-D", "--defined-only", h.MODULE],
                         capture_output=True, text=True, check=True).stdout
    names = {line.split()[-1] for line in out.splitlines() if line.strip()}
    assert KAMAILIO_SYMBOLS <= names
    stray = sorted(n for n in names - KAMAILIO_SYMBOLS
                   if not n.startswith("af_kam_"))
    assert not stray, stray
    # the core is linked in, hidden
    assert not [n for n in names if re.match(r"af_(?!kam_)", n)]


def test_module_matches_installed_kamailio():
    """The version and compile flags Kamailio checks before it loads a
    module are those of the installed binary."""
    v = subprocess.run(["kamailio", "-v"], capture_output=True,
                       text=True).stdout
    version = re.search(r"version: (kamailio \S+ \([^)]*\))", v).group(1)
    flags = re.search(r"flags: (.*)", v).group(1).strip()
    data = open(h.MODULE, "rb").read()
    assert version.encode() in data
    assert flags.encode() in data


def test_opensips_module_exports_only_prefixed_symbols():
    out = subprocess.run(["nm", "-D", "--defined-only", h.OPENSIPS_MODULE],
                         capture_output=True, text=True, check=True).stdout
    names = {line.split()[-1] for line in out.splitlines() if line.strip()}
    assert "exports" in names
    stray = sorted(n for n in names - {"exports"}
                   if not n.startswith("af_os_"))
    assert not stray, stray


def test_opensips_module_matches_the_built_opensips():
    """OpenSIPS refuses a module whose version or compile flags are not
    its own: those of `opensips -V` are in the module, and the sample cfg
    with the module passes OpenSIPS's own check (-C)."""
    binary = h.os.path.join(h.OPENSIPS_SRC, "opensips")
    v = subprocess.run([binary, "-V"], capture_output=True, text=True).stdout
    version = re.search(r"version: (opensips \S+ \([^)]*\))", v).group(1)
    flags = re.search(r"flags: (.*)", v).group(1).strip()
    data = open(h.OPENSIPS_MODULE, "rb").read()
    assert version.encode() in data
    assert flags.encode() in data
    srv = h.OpenSIPS("/tmp", h.os.path.join(h.ETC, "antifraud.yaml"))
    args = srv.command()
    p = subprocess.run(args[:1] + ["-C"] + args[1:], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert "config file ok" in p.stdout + p.stderr


def test_opensips_config_check_refuses_a_bad_rule_file(tmp_path):
    """opensips -C reads the rule file when its parameter is set (before
    any shared memory): a bad one fails the check with its file:line."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nprofiles:\n  default:\n    mode: {user: maybe}\n")
    srv = h.OpenSIPS(str(tmp_path), str(bad))
    args = srv.command()
    p = subprocess.run(args[:1] + ["-C"] + args[1:], capture_output=True,
                       text=True, timeout=60)
    out = p.stdout + p.stderr
    assert p.returncode != 0, out[-3000:]
    assert "bad.yaml:4" in out, out[-3000:]
