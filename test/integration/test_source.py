# antifraud integration: af_check_source with real kamailio, sipp and
# sipvicious on loopback.
# SPDX-License-Identifier: GPL-2.0-or-later
import re
import subprocess
import time

import afharness as h


def bans(k):
    out = k.rpc("antifraud.bans").stdout
    parsed = h.parse_kamcmd(out)
    if isinstance(parsed, dict):
        parsed = [parsed]
    return {b["ip"]: b for b in parsed if isinstance(b, dict) and "ip" in b}


def test_module_loads_and_rpc_answers(kam):
    k = kam()
    st = k.stats()
    assert st["checks"] == 0
    assert st["store"]["backend"] == "shm"
    assert st["store"]["capacity"] >= 65536
    assert "antifraud.bans" in k.rpc("system.listMethods").stdout


def test_trusted_caller_to_local_user_is_routed(kam, tmp_path):
    k = kam()
    p = h.Sipp.uac(str(tmp_path), "127.0.0.1:%d" % k.port, caller="alice",
                   callee="bob", calls=3, rate=10)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]
    st = k.stats()
    # INVITE, ACK, BYE for three calls
    assert st["allowed"] >= 9
    assert st["blocked"] == 0


def test_untrusted_caller_to_local_user_is_routed(kam, tmp_path):
    k = kam()
    # 127.0.0.2 is DE in the test GeoIP db: not trusted, country allowed
    p = h.Sipp.uac(str(tmp_path), "127.0.0.1:%d" % k.port,
                   src_ip="127.0.0.2", caller="carol", callee="alice")
    assert p.returncode == 0, p.stdout[-3000:]


def test_scan_of_unknown_user_is_dropped_then_banned(srv):
    k = srv()
    scanner = "127.0.0.7"
    # before: the keepalive gets an answer
    assert h.keepalive(k, scanner) == 200
    c = h.SipClient(scanner)
    for ext in ("100", "1000", "101", "102"):
        assert c.ask("INVITE", "sip:%s@127.0.0.1" % ext, (k.ip, k.port),
                     from_user=ext, timeout=0.5) is None, ext
    assert scanner not in bans(k)
    # the fifth flagged request reaches the threshold (5)
    assert c.ask("INVITE", "sip:103@127.0.0.1", (k.ip, k.port),
                 timeout=0.5) is None
    b = bans(k)
    assert scanner in b, b
    assert "unknown_user" in b[scanner]["reason"]
    assert 590 <= b[scanner]["expires"] <= 600
    # after: even a valid request gets nothing back
    assert h.keepalive(k, scanner) is None
    assert c.ask("INVITE", "sip:alice@127.0.0.1", (k.ip, k.port),
                 timeout=0.5) is None
    st = k.stats()
    assert st["bans"] == 1
    assert st["ban_refused"] >= 2
    assert st["reasons"]["unknown_user"] >= 5
    # others are not affected
    assert h.keepalive(k, "127.0.0.8") == 200
    c.close()


def test_statistics_in_the_servers_own_interface(srv):
    """The module's figures as each server exports statistics."""
    k = srv()
    assert h.keepalive(k, "127.0.0.2") == 200
    c = h.SipClient("127.0.0.9")
    assert c.ask("INVITE", "sip:alice@evil.example", (k.ip, k.port),
                 timeout=0.5) is None
    c.close()
    st = k.server_stats()
    assert st["checks"] == 3 and st["blocked"] == 1, st
    assert st["allowed"] >= 2 and st["redis_up"] == 0, st
    assert set(st) >= {"bans", "ban_refused", "reloads", "auth_failed",
                       "alerts_suppressed", "redis_fallbacks",
                       "redis_releases_queued", "redis_releases_replayed",
                       "redis_releases_dropped"}, st


def test_unknown_domain_is_dropped(kam):
    k = kam()
    c = h.SipClient("127.0.0.9")
    assert c.ask("INVITE", "sip:alice@evil.example", (k.ip, k.port),
                 timeout=0.5) is None
    assert k.stats()["reasons"]["unknown_domain"] == 1
    c.close()


def test_manual_ban_unban_and_expiry(srv):
    k = srv()
    ip = "127.0.0.10"
    assert h.keepalive(k, ip) == 200
    assert "Ok" in k.rpc("antifraud.ban", ip, 2, "operator test").stdout
    b = bans(k)
    assert b[ip]["reason"] == "operator test"
    assert h.keepalive(k, ip) is None
    assert "unbanned" in k.rpc("antifraud.unban", ip).stdout
    assert ip not in bans(k)
    assert h.keepalive(k, ip) == 200
    # bans expire by themselves
    k.rpc("antifraud.ban", ip, 1)
    assert h.keepalive(k, ip) is None
    time.sleep(1.3)
    assert h.keepalive(k, ip) == 200
    assert ip not in bans(k)
    # bad arguments are faults, not crashes
    p = k.rpc("antifraud.ban", "not-an-ip", 10, check=False)
    assert p.returncode != 0 and "not an IP address" in (p.stdout + p.stderr)
    p = k.rpc("antifraud.unban", "127.0.0.99", check=False)
    assert p.returncode != 0 and "Not banned" in (p.stdout + p.stderr)


def test_denied_country_and_deny_list(srv):
    k = srv()
    # 127.0.0.3 is KP (denied); 127.0.0.66 is in the deny list file
    assert h.keepalive(k, "127.0.0.3") is None
    assert h.keepalive(k, "127.0.0.66") is None
    assert h.keepalive(k, "127.0.1.5") is None
    assert h.keepalive(k, "127.0.0.2") == 200
    st = k.stats()
    assert st["reasons"]["geo_country"] == 1
    assert st["reasons"]["ip_deny"] == 2
    look = h.parse_kamcmd(k.rpc("antifraud.lookup", "127.0.0.3").stdout)
    assert look["country"] == "KP" and look["continent"] == "AS"
    look = h.parse_kamcmd(k.rpc("antifraud.lookup", "127.0.1.9").stdout)
    assert look["list"] == "blocklist"


def test_allow_list_is_an_exception(kam, tmp_path):
    k = kam()
    # 127.0.0.20 is allow-listed: even a call to an unknown user passes
    # the check and is routed to the UAS
    p = h.Sipp.uac(str(tmp_path), "127.0.0.1:%d" % k.port,
                   src_ip="127.0.0.20", caller="mallory", callee="nobody")
    assert p.returncode == 0, p.stdout[-2000:]
    assert k.stats()["reasons"]["unknown_user"] == 0
    # the same call from elsewhere is dropped
    p = h.Sipp.uac(str(tmp_path), "127.0.0.1:%d" % k.port,
                   src_ip="127.0.0.21", caller="mallory", callee="nobody",
                   timeout=3)
    assert p.returncode != 0
    assert k.stats()["reasons"]["unknown_user"] >= 1


def test_sdp_address_in_deny_list_is_blocked(kam):
    k = kam()
    c = h.SipClient("127.0.0.2")
    code = c.ask("INVITE", "sip:alice@127.0.0.1", (k.ip, k.port),
                 from_user="carol", body=h.sdp("198.51.100.7"), timeout=0.7)
    assert code is None
    assert k.stats()["reasons"]["sdp_ip_deny"] == 1
    c.close()


def creds(user):
    return ['Authorization: Digest username="%s", realm="127.0.0.1", '
            'nonce="4f6b", uri="sip:127.0.0.1", '
            'response="00000000000000000000000000000000"' % user]


def test_country_hopping_is_flagged(kam):
    k = kam()
    dst = (k.ip, k.port)
    # a spoofed From without credentials does not count (anyone can
    # write a From header): carol "from" BR, then from JP
    spoof = h.SipClient("127.0.0.4")
    spoof.ask("INVITE", "sip:alice@127.0.0.1", dst, from_user="carol",
              from_host="127.0.0.1", timeout=0.5)
    spoof.close()
    # carol with credentials from DE (EU), then from JP (AS) minutes later
    c1 = h.SipClient("127.0.0.2")
    c1.ask("INVITE", "sip:alice@127.0.0.1", dst, from_user="carol",
           from_host="127.0.0.1", headers=creds("carol"), timeout=0.5)
    st = k.stats()
    assert st["reasons"]["country_hop"] == 0
    c2 = h.SipClient("127.0.0.6")
    assert c2.ask("INVITE", "sip:alice@127.0.0.1", dst, from_user="carol",
                  from_host="127.0.0.1", headers=creds("carol"),
                  timeout=0.7) is None
    st = k.stats()
    assert st["reasons"]["country_hop"] == 1
    assert st["reasons"]["continent_hop"] == 1
    assert re.search(r"country_hop,continent_hop.*from 127\.0\.0\.6",
                     k.read_log())
    # REGISTER counts as well: bob from US (127.0.0.1), then BR
    c3 = h.SipClient("127.0.0.1")
    c3.ask("REGISTER", "sip:127.0.0.1", dst, from_user="bob", to_user="bob",
           from_host="127.0.0.1", headers=creds("bob"), timeout=0.5)
    c4 = h.SipClient("127.0.0.4")
    assert c4.ask("REGISTER", "sip:127.0.0.1", dst, from_user="bob",
                  to_user="bob", from_host="127.0.0.1", headers=creds("bob"),
                  timeout=0.7) is None
    assert k.stats()["reasons"]["continent_hop"] == 2
    for x in (c1, c2, c3, c4):
        x.close()


def test_monitor_mode_alerts_without_blocking(kam, rules, tmp_path):
    with open(h.DATA + "/rules-test.yaml.in") as f:
        text = f.read()
    text = text.replace("      domain: enforce\n      user: enforce\n"
                        "      iplist: enforce\n      geo: enforce\n"
                        "      sdp: enforce\n      hopping: enforce\n"
                        "      ban: enforce\n",
                        "      domain: monitor\n      user: monitor\n"
                        "      iplist: monitor\n      geo: monitor\n"
                        "      sdp: monitor\n      hopping: monitor\n"
                        "      ban: monitor\n")
    assert "ban: monitor" in text
    k = kam(rules(text, "monitor.yaml"))
    # KP source: flagged, but the keepalive is answered
    assert h.keepalive(k, "127.0.0.3") == 200
    c = h.SipClient("127.0.0.7")
    for i in range(7):
        c.ask("OPTIONS", "sip:%d@127.0.0.1" % (100 + i), (k.ip, k.port),
              timeout=1.0)
    st = k.stats()
    assert st["blocked"] == 0
    assert st["alerts"] >= 8
    assert st["bans"] == 0
    assert "127.0.0.7" not in bans(k)
    assert re.search(r"antifraud: source rc=-1 \[geo_country[,\]].*"
                     r"from 127\.0\.0\.3:.*country=KP", k.read_log())
    c.close()


def test_reload_keeps_old_rules_on_error(srv, rules, tmp_path):
    path = rules()
    k = srv(path)
    with open(path) as f:
        good = f.read()
    with open(path, "w") as f:
        f.write(good.replace("users: [alice, bob, carol]",
                             "users: [alice, bob, carol\n"))
    p = k.rpc("antifraud.reload", check=False)
    assert p.returncode != 0
    assert path in (p.stdout + p.stderr)
    # the old rules still serve
    assert h.keepalive(k, "127.0.0.2") == 200
    with open(path, "w") as f:
        f.write(good.replace("deny_countries: [KP]",
                             "deny_countries: [KP, DE]"))
    time.sleep(1.1)  # reload_min_interval
    assert "Ok" in k.rpc("antifraud.reload").stdout
    assert h.keepalive(k, "127.0.0.2") is None
    st = k.stats()
    assert st["reloads"] == 1 and st["reload_errors"] == 1


def test_bad_rule_file_is_a_startup_error(tmp_path, rules, uas, server):
    bad = rules("version: 1\nprofiles:\n  default:\n    mode: {user: maybe}\n",
                "bad.yaml")
    k = server(str(tmp_path), bad, next_hop_port=uas)
    rc = k.start(expect_fail=True)
    assert rc != 0
    assert "bad.yaml:4" in k.read_log()
    k.stop()


def test_missing_geoip_db_is_a_startup_error(tmp_path, rules, uas):
    with open(h.DATA + "/rules-test.yaml.in") as f:
        text = f.read().replace("@GEO_DB@", "/nonexistent/geo.mmdb")
        text = text.replace("@ETC@", h.ETC)
    path = rules(text, "nogeo.yaml")
    k = h.Kamailio(str(tmp_path), path, next_hop_port=uas)
    assert k.start(expect_fail=True) != 0
    assert "/nonexistent/geo.mmdb" in k.read_log()
    k.stop()
    # with required: false it starts and runs without GeoIP
    path = rules(text.replace("required: true", "required: false"),
                 "nogeo2.yaml")
    k = h.Kamailio(str(tmp_path), path, next_hop_port=uas)
    k.start()
    try:
        assert h.keepalive(k, "127.0.0.3") == 200  # no GeoIP: KP unknown
    finally:
        k.stop()


def test_svwar_finds_nothing_and_is_banned(srv, tmp_path):
    k = srv()
    # Debian's svwar 0.3.3 ignores -b: it scans from 127.0.0.1
    p = subprocess.run(["svwar", "-e", "100-140",
                        "-m", "INVITE", "--force", "--maximumtime", "4",
                        "127.0.0.1", "-p", str(k.port)],
                       capture_output=True, text=True, timeout=120,
                       cwd=str(tmp_path))
    out = p.stdout + p.stderr
    # svwar prints a table of found extensions; there must be none
    b = bans(k)
    assert "127.0.0.1" in b, (b, out[-2000:])
    assert "found nothing" in out, out[-2000:]
    st = k.stats()
    assert st["bans"] == 1
    assert st["blocked"] >= 1, st


def test_malformed_requests_never_crash(kam):
    k = kam()
    c = h.SipClient("127.0.0.12")
    dst = (k.ip, k.port)
    junk = [
        b"\x00\x01\x02garbage\xff\xfe",
        b"INVITE sip:alice@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP",
        b"INVITE sip:alice@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.12:5"
        b"\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:alice@127.0.0.1>\r\nCall-ID: 1"
        b"\r\nCSeq: 1 INVITE\r\nContent-Length: 99999\r\n\r\nv=0",
        b"OPTIONS sip:@@@ SIP/2.0\r\n\r\n",
        b"INVITE sip:alice@[::1 SIP/2.0\r\nFrom: <<<>>>\r\nTo: ;;;\r\n\r\n",
        b"\r\n\r\n",
        b"SIP/2.0 200 OK\r\n\r\n",
        b"A" * 60000,
    ]
    for j in junk:
        c.send_raw(j, dst)
    # garbage SDP and a lying Content-Length on otherwise valid INVITEs
    c.request("INVITE", "sip:alice@127.0.0.1", dst, from_user="carol",
              body=b"v=0\r\nc=IN IP4 999.1.1.1\r\no=\r\nm=\r\n\x00\xff")
    c.request("INVITE", "sip:alice@127.0.0.1", dst, from_user="carol",
              body=h.sdp("127.0.0.2"), content_length=3)
    c.request("INVITE", "sip:alice@127.0.0.1", dst, from_user="carol",
              body=b"c=IN IP6 :::::\r\n" * 50)
    time.sleep(0.5)
    assert k.alive()
    assert not k.crashed()
    assert h.keepalive(k, "127.0.0.13") == 200
    c.close()
