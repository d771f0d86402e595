# antifraud: the module documentation (doc/antifraud.md) names every
# parameter, function, KEMI export, RPC command, statistic and
# $antifraud(...) key the module exports, and nothing it does not. The
# exports are read from the glue's C sources (every .c and .h under
# modules/antifraud/kamailio/, wherever a table lives) and, for RPC commands
# and statistics, from a running kamailio too.
# SPDX-License-Identifier: GPL-2.0-or-later
import glob
import os
import re

import pytest

import afharness as h

DOC = os.path.join(h.ROOT, "doc", "antifraud.md")
GLUE = os.path.join(h.ROOT, "modules", "antifraud", "kamailio")
# the core's one table of reasons, sub-checks and statistics (X-macro)
TABLE = os.path.join(h.ROOT, "modules", "antifraud", "core", "af_table.def")


def glue_sources():
    files = sorted(glob.glob(os.path.join(GLUE, "**", "*.[ch]"),
                             recursive=True))
    assert files
    text = ""
    for f in files:
        with open(f) as fh:
            text += fh.read() + "\n"
    # comments out, so that a name in prose is not an export
    return re.sub(r"/\*.*?\*/", "", text, flags=re.S)


def tables(src, ctype):
    """Bodies of the C arrays of one export type: 'T name[] = { ... };'."""
    return re.findall(r"\b%s\s+\w+\s*\[\s*\]\s*=\s*\{(.*?)\n\s*\};"
                      % ctype, src, re.S)


def first_strings(body):
    """The first string of each initializer: {"name", ...}."""
    return set(re.findall(r"\{\s*\"([^\"]+)\"\s*,", body))


@pytest.fixture(scope="module")
def exports():
    src = glue_sources()
    ex = {}
    ex["params"] = set().union(*map(first_strings,
                                    tables(src, "param_export_t")))
    ex["cmds"] = set().union(*map(first_strings, tables(src, "cmd_export_t")))
    ex["rpc"] = set().union(*map(first_strings, tables(src, "rpc_export_t")))
    ex["kemi"] = set(re.findall(
        r"str_init\(\"antifraud\"\)\s*,\s*str_init\(\"(\w+)\"\)", src))
    # the $antifraud(key) name table: {"key", AF_PV_...}
    ex["pv"] = set(re.findall(r"\{\s*\"(\w+)\"\s*,\s*AF_PV_\w+\s*\}", src))
    # statistics: stat_export_t tables, written out or through a macro
    stats = set()
    for body in tables(src, "stat_export_t"):
        stats |= first_strings(body)
        stats |= set(re.findall(r"\w+\(\s*\"(\w+)\"\s*,", body))
        if '#include "af_table.def"' in body:
            with open(TABLE) as f:
                stats |= set(re.findall(r'^AF_STAT\(\w+,\s*"(\w+)"\)',
                                        f.read(), re.M))
    ex["stats"] = stats
    # the parser still understands the sources
    assert {"config", "redis", "shm_entries"} <= ex["params"]
    assert {"af_check_source", "af_check_dest"} <= ex["cmds"]
    assert "antifraud.reload" in ex["rpc"]
    assert "af_check_source_profile" in ex["kemi"]
    assert {"rc", "reason", "suppressed"} <= ex["pv"]
    return ex


@pytest.fixture(scope="module")
def doc():
    with open(DOC) as f:
        text = f.read()
    sections = {}
    for m in re.finditer(r"^## (\d+)\. ([^\n]+)\n(.*?)(?=^## |\Z)", text,
                         re.S | re.M):
        sections[m.group(2).strip()] = m.group(3)
    return sections


def headings(section):
    """Names in '### N.M. `name...`' headings."""
    return set(re.findall(r"^### [\d.]+ `([A-Za-z_.:\[\]]+)", section,
                          re.M))


def table_names(section):
    return set(re.findall(r"^\| `([^`(]+)", section, re.M))


def test_doc_has_kamailio_sections(doc):
    for s in ("Overview", "Dependencies", "Parameters", "Functions",
              "Pseudo-variables", "RPC commands", "Statistics",
              "Event routes", "KEMI", "Examples"):
        assert s in doc, s
    for name in headings(doc["Parameters"]):
        block = doc["Parameters"].split("`%s`" % name, 1)[1].split(
            "\n### ", 1)[0]
        assert "Default value is" in block, name
        assert 'modparam("antifraud", "%s"' % name in block, name
    for name in headings(doc["Functions"]):
        block = doc["Functions"].split("`%s" % name, 1)[1].split(
            "\n### ", 1)[0]
        assert "Return codes" in block and "ROUTE" in block, name


def test_parameters_documented(exports, doc):
    assert headings(doc["Parameters"]) == exports["params"]


def test_functions_documented(exports, doc):
    assert headings(doc["Functions"]) == exports["cmds"]


def test_kemi_documented(exports, doc):
    documented = set(re.findall(r"KSR\.antifraud\.(\w+)\(", doc["KEMI"]))
    assert documented == exports["kemi"]


def test_pv_keys_documented(exports, doc):
    assert table_names(doc["Pseudo-variables"]) == exports["pv"]


def test_rpc_documented(exports, doc):
    assert headings(doc["RPC commands"]) == exports["rpc"]


def statistics(doc):
    """The statistics table (before the Prometheus subsection)."""
    return table_names(doc["Statistics"].split("\n### ", 1)[0])


def test_statistics_documented(exports, doc):
    assert exports["stats"], "no stat_export_t table found"
    assert statistics(doc) == exports["stats"]


def test_running_module_matches_doc(kam, doc):
    """What a running kamailio lists: RPC commands and statistics."""
    k = kam()
    methods = {m for m in k.rpc("system.listMethods").stdout.split()
               if m.startswith("antifraud.")}
    assert methods == headings(doc["RPC commands"])
    out = k.rpc("stats.get_statistics", "antifraud:").stdout
    stats = set(re.findall(r"antifraud:(\w+)", out))
    assert stats == statistics(doc)
    events = set(re.findall(
        r"route_lookup\(\s*&event_rt\s*,\s*\"(antifraud:\w+)\"",
        glue_sources()))
    assert events and events == {
        n[len("event_route["):-1] for n in headings(doc["Event routes"])}
