# antifraud integration fixtures.
# SPDX-License-Identifier: GPL-2.0-or-later
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import afharness as h  # noqa: E402
import vgcheck  # noqa: E402


@pytest.fixture(scope="session")
def geo_db(tmp_path_factory):
    d = tmp_path_factory.mktemp("geo")
    return h.build_geo_db(str(d / "test-country.mmdb"))


@pytest.fixture
def rules(tmp_path, geo_db):
    """The test rule file; tests may pass a modified template text."""
    def make(text=None, name="rules.yaml"):
        tmpl = os.path.join(h.DATA, "rules-test.yaml.in")
        out = tmp_path / name
        if text is None:
            with open(tmpl) as f:
                text = f.read()
        text = text.replace("@GEO_DB@", geo_db).replace("@DATA@", h.DATA)
        text = text.replace("@ETC@", h.ETC)
        out.write_text(text)
        return str(out)
    return make


def sipp_uas(tmp_path, **kw):
    """a sipp UAS on a free port for the length of a test: its port"""
    port = h.free_port()
    p = h.Sipp.uas(str(tmp_path), port, **kw)
    yield port
    h.Sipp.stop(p)


@pytest.fixture
def uas(tmp_path):
    yield from sipp_uas(tmp_path)


@pytest.fixture
def uas_dest(tmp_path):
    """a sipp UAS for af_check_dest's calls (uas-dest.xml): its port"""
    yield from sipp_uas(tmp_path, scenario="uas-dest.xml")


@pytest.fixture
def kam(tmp_path, rules, uas):
    """A running kamailio with the test rules, routing to the sipp UAS."""
    instances = []

    def start(rules_path=None, **kw):
        k = h.Kamailio(str(tmp_path), rules_path or rules(),
                       next_hop_port=uas, **kw)
        instances.append(k)
        return k.start()
    yield start
    for k in instances:
        crashed = k.crashed()
        k.stop()
        assert not crashed, "kamailio crashed: %s" % crashed
        if k.valgrind_logs:  # AF_VALGRIND=1: memcheck's verdict too
            fig, fails = vgcheck.check(k.valgrind_logs)
            assert not fails, "valgrind %s:\n%s" % (fig, "\n\n".join(
                fails[:10]))
