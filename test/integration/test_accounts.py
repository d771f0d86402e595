# antifraud integration tests of account protection (failed
# authentications, bans, accounts under attack, logins from new countries):
# Debian's kamailio running the sample etc/kamailio.cfg with -A AF_AUTH
# (registrar and digest authentication against a db_text subscriber table
# written per test) or as a proxy in front of a registrar that answers 401
# (sipp), svcrack and sipp as attackers and phones, raw UDP requests with
# Python digests, kamcmd.
# SPDX-License-Identifier: GPL-2.0-or-later
import os
import re
import subprocess
import time

import pytest

import afharness as h

# the subscriber table of the AF_AUTH block (plain-text passwords)
ACCOUNTS = {
    "alice": "al1ce-Secret",
    "bob": "b0b-Secret",
    "carol": "car0l-Secret",
    "dave": "1012",          # svcrack's target: inside its range 1000-1019
    "erin": "3rin-Secret",
}
# thresholds of rules-accounts.yaml.in
SOURCE_FAILURES = 5
ACCOUNT_SOURCES = 3
ALERT_FAILURES = 3
COOLING = 600


@pytest.fixture
def acct_rules(rules):
    """The account rules with the profile's accounts mode."""
    def make(mode="enforce"):
        with open(os.path.join(h.DATA, "rules-accounts.yaml.in")) as f:
            text = f.read()
        assert "      accounts: enforce\n" in text
        text = text.replace("      accounts: enforce\n",
                            "      accounts: %s\n" % mode)
        return rules(text, name="accounts-%s.yaml" % mode)
    return make


def account_servers(server, tmp_path, acct_rules, uas):
    """A start() for server with the account rules: by default with AF_AUTH
    (it authenticates ACCOUNTS and is their registrar), calls going to the
    sipp UAS; auth=False: the plain checking proxy relaying everything to
    next_hop_port. Yields it, then stops what it started."""
    started = []

    def start(mode="enforce", auth=True, next_hop_port=None,
              nonce_expire=None):
        k = server(str(tmp_path), acct_rules(mode),
                   next_hop_port=next_hop_port or uas,
                   accounts=ACCOUNTS if auth else None,
                   nonce_expire=nonce_expire)
        started.append(k)
        return k.start()
    yield start
    for k in started:
        crashed = k.crashed()
        k.stop()
        assert not crashed, "%s crashed: %s" % (k.name, crashed)


@pytest.fixture
def ka(tmp_path, acct_rules, uas):
    """kamailio with the account rules (account_servers)."""
    yield from account_servers(h.Kamailio, tmp_path, acct_rules, uas)


@pytest.fixture
def ka_any(server, tmp_path, acct_rules, uas):
    """The same on each server in turn."""
    yield from account_servers(server, tmp_path, acct_rules, uas)


@pytest.fixture
def uas401(tmp_path):
    """A downstream registrar that answers every REGISTER 401."""
    port = h.free_port()
    p = h.Sipp.uas(str(tmp_path), port, scenario="uas-auth401.xml")
    yield port
    h.Sipp.stop(p)


def listing(k, method, *args):
    parsed = h.parse_kamcmd(k.rpc(method, *args).stdout)
    if isinstance(parsed, dict):
        parsed = [parsed]
    return [x for x in parsed if isinstance(x, dict)]


def bans(k):
    return {b["ip"]: b for b in listing(k, "antifraud.bans") if "ip" in b}


def accounts(k):
    return {a["account"]: a for a in listing(k, "antifraud.accounts")
            if "account" in a}


def account(k, acct):
    info = h.parse_kamcmd(k.rpc("antifraud.account", acct).stdout)
    known = info.get("known") or []
    info["known"] = [known] if isinstance(known, dict) and known else \
        (known if isinstance(known, list) else [])
    return info


def register(tmp_path, k, user, password, src_ip, scenario="reg-auth.xml",
             calls=1, tcp=False):
    """REGISTERs of user with password from src_ip with sipp (reg-auth.xml:
    a call succeeds on 200; reg-guess.xml: on the second 401). Not -nd:
    with it sipp would go on retransmitting after an unexpected reply (each
    retransmission one more guess)."""
    extra = ["-s", user, "-au", user, "-ap", password]
    if tcp:
        extra += ["-t", "t1"]
    return h.Sipp.uac(str(tmp_path), "%s:%d" % (k.ip, k.port),
                      scenario=scenario, src_ip=src_ip, calls=calls,
                      rate=20, extra=extra)


def screen(p):
    """The message rows of sipp's last scenario screen, in scenario order:
    [name, messages, retransmissions, timeouts, unexpected]."""
    text = p.stdout
    i = text.rfind("Scenario Screen")
    rows = []
    for line in text[i:].splitlines():
        m = re.match(r"\s*(\S+)\s+(?:<-+|-+>)\s+(\d+)\s+(\d+)\s+(\d+)"
                     r"(?:\s+(\d+))?\s*$", line)
        if m:
            rows.append([m.group(1)] + [int(x or 0) for x in m.groups()[1:]])
    return rows


def reg_result(p):
    """What a one-call reg-auth.xml/reg-guess.xml run got: 'ok' (the
    scenario's final answer: 200, or the second 401 for reg-guess), 'silence'
    (not even the challenge came), 'challenge-only' (the 401, then silence
    for the request with credentials), or 'unexpected NNN'."""
    if p.returncode == 0:
        return "ok"
    m = re.search(r"unexpected message.*?received 'SIP/2\.0 (\d{3})",
                  p.stderr, re.S)
    if m:
        return "unexpected " + m.group(1)
    rows = screen(p)
    # REGISTER, 100, 401, REGISTER, 100, 200|401; a recv timeout counts
    # on the recv sipp waited at
    assert len(rows) == 6 and sum(r[3] for r in rows) == 1, \
        p.stdout[-3000:] + p.stderr[-2000:]
    return "challenge-only" if rows[2][1] == 1 else "silence"


def svcrack(tmp_path, k, user, rng):
    """svcrack against the proxy (Debian's sends from 127.0.0.1); its
    output. After the last answer it waits --maximumtime s, then 10 s more
    for a late one (its socket timeout)."""
    p = subprocess.run(["svcrack", "-u", user, "-r", rng,
                        "--maximumtime", "2", "-p", str(k.port), k.ip],
                       capture_output=True, text=True, timeout=60,
                       cwd=str(tmp_path))
    return p.stdout + p.stderr


def registered(k, user):
    """Whether the registrar has a binding of user."""
    if k.name == "opensips":
        return "result" in k.mi("ul_show_contact", "location", user)
    return k.rpc("ul.lookup", "location", user, check=False).returncode == 0


def test_svcrack_is_banned_before_it_finds_the_password(ka_any, tmp_path):
    # control: nothing protects the account (accounts: off), svcrack
    # finds dave's password 1012 (its 14th guess: dave, 1000, 1001, ...)
    k = ka_any(mode="off")
    out = svcrack(tmp_path, k, "dave", "1000-1019")
    assert re.search(r"\|\s*dave\s*\|\s*1012\s*\|", out), out[-2000:]
    assert registered(k, "dave")
    k.stop()

    k = ka_any()
    t0 = time.time()
    out = svcrack(tmp_path, k, "dave", "1000-1019")
    assert "1012" not in out, out[-2000:]
    assert "found nothing" in out, out[-2000:]
    assert not registered(k, "dave")
    b = bans(k)
    assert "127.0.0.1" in b, (b, out[-2000:])
    assert b["127.0.0.1"]["reason"].startswith("auth_failures"), b
    assert 600 - (time.time() - t0) - 2 <= b["127.0.0.1"]["expires"] <= 600
    st = k.stats()
    # the guesses before the ban (a few more may have been in flight)
    assert SOURCE_FAILURES <= st["auth_failed"] <= SOURCE_FAILURES + 3, st
    assert st["auth_ok"] == 0
    assert st["reasons"]["auth_failures"] == 1
    assert st["bans"] == 1
    assert re.search(r"banned 127\.0\.0\.1 for \d+ s: auth_failures",
                     k.read_log())
    # a password guesser is not an account under attack: one source
    assert "dave@127.0.0.1" not in accounts(k)


def test_account_under_attack_keeps_its_phone(ka, tmp_path):
    k = ka()
    acct = "alice@127.0.0.1"
    pw = ACCOUNTS["alice"]
    phone = "127.0.0.30"
    # alice's phone registers: a known good source of the account
    assert reg_result(register(tmp_path, k, "alice", pw, phone)) == "ok"
    assert accounts(k) == {}
    # guesses from three addresses, each below source_failures: every
    # guess is answered 401 (refused, not dropped)
    for src, n in (("127.0.0.11", 2), ("127.0.0.12", 2), ("127.0.0.13", 1)):
        p = register(tmp_path, k, "alice", "guess-" + src, src,
                     scenario="reg-guess.xml", calls=n)
        assert p.returncode == 0, (src, p.stdout[-3000:], p.stderr[-2000:])
    a = accounts(k)
    assert acct in a, a
    assert COOLING - 5 <= a[acct]["expires"] <= COOLING
    assert abs(a[acct]["since"] - time.time()) < 10
    assert a[acct]["attempts"] == 0
    # per-account logic: no guessing address is banned
    b = bans(k)
    assert not set(b) & {"127.0.0.11", "127.0.0.12", "127.0.0.13"}, b
    # the phone keeps registering and calling during the attack
    assert reg_result(register(tmp_path, k, "alice", pw, phone)) == "ok"
    p = h.Sipp.uac(str(tmp_path), "%s:%d" % (k.ip, k.port),
                   scenario="uac-auth.xml", src_ip=phone, callee="bob",
                   extra=["-s", "alice", "-au", "alice", "-ap", pw])
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]
    # a new address with the right password: challenged (no credentials
    # yet), then its REGISTER with credentials is dropped
    new = "127.0.0.31"
    assert reg_result(register(tmp_path, k, "alice", pw, new)) == \
        "challenge-only"
    assert accounts(k)[acct]["attempts"] >= 1
    info = account(k, acct)
    assert info["account"] == acct
    assert info["under_attack"] == 1
    assert 0 < info["expires"] <= COOLING
    assert info["failures"] == 5
    assert info["failing_sources"] == ACCOUNT_SOURCES
    assert phone in [x["ip"] for x in info["known"]], info
    assert new not in [x["ip"] for x in info["known"]], info
    st = k.stats()
    assert st["account_attacks"] == 1
    assert st["auth_failed"] == 5
    assert st["auth_ok"] >= 3  # two REGISTERs and the call of the phone
    # the reason counts the event that marked the account and each
    # refusal of the new address (sipp retransmits into the silence)
    assert st["reasons"]["account_attack"] >= 2
    assert st["reasons"]["auth_failures"] == 0
    assert re.search(r"account alice@127\.0\.0\.1 under attack",
                     k.read_log())
    # released by the operator: the new address registers
    r = h.parse_kamcmd(k.rpc("antifraud.account_release", acct).stdout)
    assert r["account"] == acct and r["released"] == 1
    assert acct not in accounts(k)
    assert account(k, acct)["under_attack"] == 0
    assert reg_result(register(tmp_path, k, "alice", pw, new)) == "ok"
    p = k.rpc("antifraud.account_release", acct, check=False)
    assert p.returncode != 0
    assert "not under attack" in p.stdout + p.stderr


def test_failures_over_tcp_ban_the_source(ka, tmp_path):
    k = ka()
    src = "127.0.0.40"
    p = register(tmp_path, k, "bob", "wrong", src, scenario="reg-guess.xml",
                 calls=SOURCE_FAILURES - 1, tcp=True)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]
    assert src not in bans(k)
    assert k.stats()["auth_failed"] == SOURCE_FAILURES - 1
    # the last guess is still answered; then the source is banned
    p = register(tmp_path, k, "bob", "wrong2", src, scenario="reg-guess.xml",
                 tcp=True)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]
    b = bans(k)
    assert src in b, b
    assert b[src]["reason"].startswith("auth_failures")
    # even the right password over TCP gets nothing now
    assert reg_result(register(tmp_path, k, "bob", ACCOUNTS["bob"], src,
                               tcp=True)) == "silence"
    assert not registered(k, "bob")
    st = k.stats()
    assert st["auth_failed"] == SOURCE_FAILURES
    assert st["auth_ok"] == 0


def test_downstream_401_counts(ka, uas401, tmp_path):
    # no AF_AUTH: the proxy relays REGISTERs to a registrar that answers
    # every one of them 401
    k = ka(auth=False, next_hop_port=uas401)
    src = "127.0.0.41"
    # each call: a REGISTER without credentials (its 401 is no failure),
    # then one with (fake) credentials answered 401: a failure
    p = register(tmp_path, k, "erin", "guess", src, scenario="reg-guess.xml",
                 calls=SOURCE_FAILURES - 1)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]
    assert src not in bans(k)
    assert k.stats()["auth_failed"] == SOURCE_FAILURES - 1
    p = register(tmp_path, k, "erin", "guess", src, scenario="reg-guess.xml")
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]
    b = bans(k)
    assert src in b, b
    assert b[src]["reason"].startswith("auth_failures")
    assert reg_result(register(tmp_path, k, "erin", "guess", src,
                               scenario="reg-guess.xml")) == "silence"
    # another address is not affected: still relayed and challenged
    assert reg_result(register(tmp_path, k, "erin", "guess", "127.0.0.42",
                               scenario="reg-guess.xml")) == "ok"
    assert k.stats()["auth_failed"] == SOURCE_FAILURES + 1


def test_new_country_login_alert(ka, tmp_path):
    k = ka()
    pw = ACCOUNTS["carol"]

    def new_country_alerts():
        return k.stats()["reasons"]["new_country_login"]
    # carol's usual places: DE, then BR (a new country, but no failures
    # before it: no alert)
    assert reg_result(register(tmp_path, k, "carol", pw, "127.0.0.2")) == "ok"
    assert reg_result(register(tmp_path, k, "carol", pw, "127.0.0.4")) == "ok"
    assert new_country_alerts() == 0
    # alert_failures wrong passwords from FR (below the source threshold)
    p = register(tmp_path, k, "carol", "guess", "127.0.0.5",
                 scenario="reg-guess.xml", calls=ALERT_FAILURES)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]
    assert "127.0.0.5" not in bans(k)
    # a success from a known country: no alert
    assert reg_result(register(tmp_path, k, "carol", pw, "127.0.0.2")) == "ok"
    assert new_country_alerts() == 0
    # a success from JP, where carol never was: alert (monitor-like: it
    # registers)
    assert reg_result(register(tmp_path, k, "carol", pw, "127.0.0.6")) == "ok"
    assert new_country_alerts() == 1
    k.wait_log(r"antifraud: auth rc=-?\d+ \[[^\]]*new_country_login")
    lines = [ln for ln in k.read_log().splitlines()
             if re.search(r"antifraud: auth rc=-?\d+ \[[^\]]*"
                          r"new_country_login", ln)]
    assert len(lines) == 1, k.read_log()[-3000:]
    assert "127.0.0.6" in lines[0], lines
    st = k.stats()
    assert st["auth_failed"] == ALERT_FAILURES
    assert st["auth_ok"] == 4


def test_stale_nonce_is_not_a_failure(ka):
    k = ka(nonce_expire=1)
    dst = (k.ip, k.port)
    src = "127.0.0.45"
    pw = ACCOUNTS["bob"]
    kw = dict(from_user="bob", to_user="bob", from_host="127.0.0.1")
    ruri = "sip:127.0.0.1"
    c = h.SipClient(src)
    try:
        code, msg = c.ask_msg("REGISTER", ruri, dst, **kw)
        assert code == 401, msg
        old = h.parse_challenge(msg)
        assert "stale" not in old
        time.sleep(2.2)  # past the nonce's expiry
        for i in range(SOURCE_FAILURES + 1):
            auth = h.digest_header(old, "REGISTER", ruri, "bob", pw, nc=i + 1)
            code, msg = c.ask_msg("REGISTER", ruri, dst, headers=[auth], **kw)
            assert code == 401, (i, msg)
            assert h.parse_challenge(msg).get("stale", "").lower() == \
                "true", msg
        assert src not in bans(k)
        st = k.stats()
        assert st["auth_failed"] == 0, st
        # the fresh nonce of the stale challenge authenticates
        auth = h.digest_header(h.parse_challenge(msg), "REGISTER", ruri,
                               "bob", pw)
        code, msg = c.ask_msg("REGISTER", ruri, dst, headers=[auth], **kw)
        assert code == 200, msg
        assert k.stats()["auth_ok"] == 1
        # while a wrong password on a fresh nonce is a failure
        code, msg = c.ask_msg("REGISTER", ruri, dst, **kw)
        assert code == 401, msg
        auth = h.digest_header(h.parse_challenge(msg), "REGISTER", ruri,
                               "bob", "wrong")
        code, msg = c.ask_msg("REGISTER", ruri, dst, headers=[auth], **kw)
        assert code == 401, msg
        assert "stale" not in h.parse_challenge(msg)
        assert k.stats()["auth_failed"] == 1
    finally:
        c.close()


def test_script_reports_authentication_results(tmp_path, acct_rules, uas):
    """af_auth_failed() and af_auth_ok() for a configuration that
    authenticates elsewhere (here: a header stands for the external
    verdict). A failure reported by the script and then answered 403 is
    counted once, not again from the reply; the fifth bans the source; a
    reported success records a known source."""
    with open(h.SAMPLE_CFG) as f:
        text = f.read()
    anchor = "\taf_check_fingerprint();\n\tif ($rc == -2) {\n\t\tdrop;\n\t}\n"
    assert anchor in text
    text = text.replace(anchor, anchor + (
        '\tif (is_method("REGISTER") && $hdr(X-Ext-Auth) == "bad") {\n'
        '\t\taf_auth_failed();\n'
        '\t\txlog("L_NOTICE", "ext-auth failed rc=$rc\\n");\n'
        '\t\tsl_send_reply("403", "Forbidden");\n'
        '\t\texit;\n'
        '\t}\n'
        '\tif (is_method("REGISTER") && $hdr(X-Ext-Auth) == "good") {\n'
        '\t\taf_auth_ok();\n'
        '\t\tsl_send_reply("200", "OK");\n'
        '\t\texit;\n'
        '\t}\n'), 1)
    cfg = tmp_path / "ext-auth.cfg"
    cfg.write_text(text)
    k = h.Kamailio(str(tmp_path), acct_rules(), next_hop_port=uas)
    k.cfg = str(cfg)
    k.start()
    try:
        creds = ['Authorization: Digest username="erin", '
                 'realm="127.0.0.1", nonce="1", uri="sip:127.0.0.1", '
                 'response="%032d"' % 0]

        def reg(src, verdict):
            c = h.SipClient(src)
            try:
                return c.ask("REGISTER", "sip:127.0.0.1", (k.ip, k.port),
                             from_user="erin", to_user="erin",
                             from_host="127.0.0.1",
                             headers=creds + ["X-Ext-Auth: " + verdict],
                             timeout=1.0)
            finally:
                c.close()
        assert reg("127.0.0.8", "good") == 200
        for i in range(SOURCE_FAILURES):
            assert reg("127.0.0.7", "bad") == 403
        st = k.stats()
        assert st["auth_failed"] == SOURCE_FAILURES
        assert st["auth_ok"] == 1
        assert "127.0.0.7" in bans(k)
        assert bans(k)["127.0.0.7"]["reason"].startswith("auth_failures")
        assert reg("127.0.0.7", "good") is None
        # the fifth report raised the ban: -1 to the script
        assert len(re.findall(r"ext-auth failed rc=1\b", k.read_log())) \
            == SOURCE_FAILURES - 1
        assert len(re.findall(r"ext-auth failed rc=-1\b", k.read_log())) == 1
        info = account(k, "erin@127.0.0.1")
        assert info["failures"] == SOURCE_FAILURES
        assert [x["ip"] for x in info["known"]] == ["127.0.0.8"]
    finally:
        crashed = k.crashed()
        k.stop()
        assert not crashed, "kamailio crashed: %s" % crashed
