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
