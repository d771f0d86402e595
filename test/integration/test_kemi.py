# antifraud from KEMI: the sample cfg with -A AF_KEMI routes with the Lua
# script etc/antifraud.lua (app_lua, Debian's kamailio-lua-modules)
# through every check: calls pass, scanners, attack tools and refused
# destinations are stopped, and alerts reach the script's event callback.
# SPDX-License-Identifier: GPL-2.0-or-later
import json
import os
import time

import pytest

import afharness as h
from test_dest import (DE_PREMIUM, FR, call, dest_rules, invite)  # noqa

SCRIPT = os.path.join(h.ETC, "antifraud.lua")


@pytest.fixture
def kk(tmp_path, dest_rules, uas_dest):  # noqa: F811
    k = h.Kamailio(str(tmp_path), dest_rules(""), next_hop_port=uas_dest,
                   defines={"AF_KEMI": None,
                            "AF_KEMI_SCRIPT": '"%s"' % SCRIPT})
    k.start()
    yield k
    crashed = k.crashed()
    k.stop()
    assert not crashed, crashed


def kemi_alerts(k):
    out = []
    for line in k.read_log().splitlines():
        i = line.find("antifraud-kemi: {")
        if i >= 0:
            out.append(json.loads(line[i + len("antifraud-kemi: "):]))
    return out


def test_lua_routes_through_every_check(kk, tmp_path):
    k = kk
    log = k.read_log()
    assert "app_lua" in log or "lua" in log.lower()
    # a call that passes every check reaches the next hop and ends
    p = call(tmp_path, k, FR, caller="alice")
    assert p.returncode == 0, p.stdout + p.stderr
    # the keepalive of the script
    c = h.SipClient("127.0.0.2")
    assert c.ask("OPTIONS", "sip:%s:%d" % (k.ip, k.port), (k.ip, k.port),
                 to_user="", timeout=1.0) == 200
    c.close()
    # af_check_dest: premium refused with 403
    assert invite(k, DE_PREMIUM, caller="alice") == 403
    # af_check_source: unknown user from elsewhere, dropped unanswered
    c = h.SipClient("127.0.0.81")
    assert c.ask("INVITE", "sip:nobody@127.0.0.1", (k.ip, k.port),
                 timeout=0.5) is None
    c.close()
    # af_check_fingerprint (through the _profile variant): a tool
    c = h.SipClient("127.0.0.82")
    assert c.ask("OPTIONS", "sip:alice@127.0.0.1", (k.ip, k.port),
                 user_agent="friendly-scanner", timeout=0.5) is None
    c.close()
    st = k.stats()
    assert st["reasons"]["dest_premium"] >= 1
    assert st["reasons"]["unknown_user"] >= 1
    assert st["reasons"]["signature"] >= 1
    # every alert went to the Lua event callback, as JSON
    deadline = time.time() + 3
    while time.time() < deadline and len(kemi_alerts(k)) < 3:
        time.sleep(0.1)
    alerts = kemi_alerts(k)
    checks = {a["check"] for a in alerts}
    assert {"source", "fingerprint", "dest"} <= checks, alerts
    dest = [a for a in alerts if a["check"] == "dest"][0]
    assert dest["reasons"] == ["dest_premium"]
    assert dest["dest"]["number"] == DE_PREMIUM
    assert dest["request"]["from_user"] == "alice"
    # the native event route is not run when the callback is set
    assert "antifraud: dest rc=" not in k.read_log()
