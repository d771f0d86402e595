# antifraud integration tests: every antifraud.* RPC command called with
# hostile or careless arguments (missing, extra, too long, wrong type,
# control characters, invalid UTF-8, out-of-range numbers) through kamcmd
# against a running Debian kamailio with the built module. Each must
# answer with a short, clear fault that kamcmd shows, echo no raw input,
# and leave kamailio alive and working.
# SPDX-License-Identifier: GPL-2.0-or-later
import os
import re
import subprocess

import pytest

import afharness as h

# every command and the arguments of one valid call
COMMANDS = {
    "antifraud.reload": [],
    "antifraud.bans": [],
    "antifraud.ban": ["192.0.2.7", "60", "test"],
    "antifraud.unban": ["192.0.2.7"],
    "antifraud.accounts": [],
    "antifraud.account": ["alice@127.0.0.1"],
    "antifraud.account_release": ["alice@127.0.0.1"],
    "antifraud.stats": [],
    "antifraud.lookup": ["192.0.2.7", "default"],
    "antifraud.dest_stats": ["all"],
    "antifraud.dest_stats_reset": [],
    "antifraud.concurrency": ["10"],
    "antifraud.dest_explain": ["s:+33123456789", "alice", "default"],
    "antifraud.feeds": [],
    "antifraud.forget": ["source", "192.0.2.7"],
}

# the longest fault text kamcmd can carry is 255 bytes (ctl module);
# ours stay well below
FAULT_MAX = 240


@pytest.fixture(scope="module")
def k(tmp_path_factory, geo_db):
    d = tmp_path_factory.mktemp("rpc")
    with open(os.path.join(h.DATA, "rules-dest.yaml.in")) as f:
        text = f.read()
    text = (text.replace("@HOLIDAYS@", "").replace("@GEO_DB@", geo_db)
            .replace("@DATA@", h.DATA).replace("@ETC@", h.ETC))
    path = d / "rules.yaml"
    path.write_text(text)
    kam = h.Kamailio(str(d), str(path)).start()
    yield kam
    crashed = kam.crashed()
    kam.stop()
    assert not crashed, "kamailio crashed: %s" % crashed


def kamcmd(k, *args):
    """kamcmd with byte-string arguments: (exit status, stdout, stderr) as
    bytes."""
    argv = [b"kamcmd", b"-s", ("unix:" + k.ctl).encode(), b"--"]
    argv += [a if isinstance(a, bytes) else str(a).encode() for a in args]
    p = subprocess.run(argv, capture_output=True, timeout=10)
    return p.returncode, p.stdout, p.stderr


def alive(k):
    assert k.alive(), "kamailio exited:\n" + k.read_log()[-3000:]
    rc, out, err = kamcmd(k, "core.version")
    assert rc == 0 and out.strip(), (rc, out, err)


def fault(k, *args, code=400, says=None):
    """Calls kamcmd and asserts a fault: exit status 0 (kamcmd's habit),
    'error: <code> - <text>' on stdout, the text short, plain printable
    ASCII or UTF-8, containing says (a regex). Returns the text."""
    rc, out, err = kamcmd(k, *args)
    assert rc == 0, (args[:1], rc, out, err)
    m = re.fullmatch(rb"error: (\d+) - (.*)\n", out, re.S)
    assert m, "no fault for %r: %r %r" % (args[:1], out[:300], err[:300])
    text = m.group(2).decode("utf-8")  # strict: never invalid UTF-8
    assert int(m.group(1)) == code, (args[:1], out)
    assert 0 < len(m.group(2)) <= FAULT_MAX, (args[:1], out)
    assert not re.search(r"[\x00-\x1f\x7f-\x9f]", text), text
    if says:
        assert re.search(says, text), "%r does not say %r" % (text, says)
    alive(k)
    return text


def ok(k, *args):
    rc, out, err = kamcmd(k, *args)
    assert rc == 0 and not out.startswith(b"error:"), (args, out, err)
    return out.decode("utf-8")


# defect 6: faults that overflowed the reply (kamcmd printed nothing)

def test_long_profile_name_gives_a_short_fault(k):
    prof = "p" * 256
    for cmd, args in (("antifraud.lookup", ["192.0.2.1"]),
                      ("antifraud.dest_explain", ["s:+33123456789", "alice"])):
        fault(k, cmd, *(args + [prof]),
              says="^profile: too long \\(256 bytes, at most 64\\)$")
        # the longest name accepted, unknown: quoted as a short excerpt
        text = fault(k, cmd, *(args + ["q" * 64]), code=404,
                     says="^No profile 'q{32}\\.\\.\\.'$")
        assert len(text) < 60


def test_long_account_gives_a_short_fault(k):
    acct = "a" * 300 + "@127.0.0.1"
    fault(k, "antifraud.account_release", acct,
          says="account: too long .* at most 255")
    fault(k, "antifraud.account", acct, says="account: too long")


def test_64k_argument_to_every_command(k):
    """A 64 KB string in each argument position of every command: a fault
    (or kamcmd's own refusal), never silence or a crash."""
    big = "x" * 65536
    for cmd, args in COMMANDS.items():
        for i in range(len(args) + 1):
            call = list(args[:i]) + [big] + list(args[i + 1:])
            rc, out, err = kamcmd(k, cmd, *call)
            if rc == 0:
                assert out.startswith(b"error: "), (cmd, i, out[:200])
                assert len(out) < FAULT_MAX + 20, (cmd, i, out[:300])
            else:
                assert err, (cmd, i, rc)  # kamcmd refused to send it
            alive(k)


def test_long_arguments_refused_up_front(k):
    for cmd, args in COMMANDS.items():
        for i in range(len(args)):
            call = list(args)
            call[i] = "s:" + "7" * 300
            fault(k, cmd, *call, says="too long|at most")


# defect 7: numbers cut at 127 characters

def test_dest_explain_refuses_a_number_too_long(k):
    number = "112" + "-" * 150 + "4990012345678"
    fault(k, "antifraud.dest_explain", "s:" + number, says="number: too long")
    # within the limit but longer than the number plan allows: invalid,
    # never emergency 112
    number = "112" + "-" * 100 + "4990012345678"
    out = h.parse_kamcmd(ok(k, "antifraud.dest_explain", "s:" + number))
    assert out["kind"] == "invalid" and out["reason"] == "dest_invalid", out
    assert out["number"] != "112"


def test_dest_explain_long_caller_refused(k):
    fault(k, "antifraud.dest_explain", "s:+33123456789", "c" * 200,
          says="caller: too long")


# defect 8: lax input

@pytest.mark.parametrize("ip", [
    "0.0.0.0", "::", "255.255.255.255", "224.0.0.1", "239.255.255.250",
    "ff02::1", "::ffff:0.0.0.0", "[::]"])
def test_ban_refuses_addresses_that_are_no_source(k, ip):
    fault(k, "antifraud.ban", ip, 60, "x",
          says="cannot be banned|not a source")
    assert ip.strip("[]") not in ok(k, "antifraud.bans")


@pytest.mark.parametrize("reason", [
    b"red \x1b[31mALERT\x1b[0m", b"two\nlines", b"tab\there", b"nul\x01x",
    b"bad utf8 \xff\xfe", b"csi \xc2\x9b" b"2J", b"rtl \xe2\x80\xae" b"txt",
    b"r" * 64])
def test_ban_refuses_reasons_that_are_not_plain(k, reason):
    fault(k, "antifraud.ban", "192.0.2.30", 60, reason, says="reason")
    assert "192.0.2.30" not in ok(k, "antifraud.bans")


def test_ban_keeps_a_plain_utf8_reason(k):
    reason = "Z\u00fcrich honeypot \u20ac"
    ok(k, "antifraud.ban", "192.0.2.31", 60, reason.encode())
    bans = h.parse_kamcmd(ok(k, "antifraud.bans"))
    bans = bans if isinstance(bans, list) else [bans]
    mine = [b for b in bans if b["ip"] == "192.0.2.31"]
    assert mine and mine[0]["reason"] == reason, bans
    ok(k, "antifraud.unban", "192.0.2.31")


@pytest.mark.parametrize("seconds", [
    "0", "-1", "-2147483648", "s:99999999999", "31536001", "abc", "s:",
    "s:12abc", "s: 12", "1.5", "s:0x10"])
def test_ban_refuses_bad_durations(k, seconds):
    fault(k, "antifraud.ban", "192.0.2.32", seconds,
          says="seconds|Usage")
    assert "192.0.2.32" not in ok(k, "antifraud.bans")


def test_ban_longest_duration(k):
    ok(k, "antifraud.ban", "192.0.2.33", 31536000)
    ok(k, "antifraud.unban", "192.0.2.33")


def test_every_command_refuses_extra_arguments(k):
    before = h.parse_kamcmd(ok(k, "antifraud.stats"))
    for cmd, args in COMMANDS.items():
        fault(k, cmd, *(args + ["extra"]), says="^Too many arguments")
    # antifraud.reload /etc/shadow reloaded nothing
    text = fault(k, "antifraud.reload", "/etc/shadow",
                 says="^Too many arguments")
    assert "shadow" not in text
    after = h.parse_kamcmd(ok(k, "antifraud.stats"))
    assert after["reloads"] == before["reloads"]
    assert after["reload_errors"] == before["reload_errors"]


def test_missing_arguments_give_the_usage(k):
    for cmd in ("antifraud.ban", "antifraud.unban", "antifraud.account",
                "antifraud.account_release", "antifraud.lookup",
                "antifraud.dest_explain"):
        fault(k, cmd, says="^Usage: " + re.escape(cmd))
    fault(k, "antifraud.ban", "192.0.2.7", says="^Usage: antifraud.ban")


@pytest.mark.parametrize("acct", [
    "@", "alice@", "@127.0.0.1", "", "s:", "ali\x01ce@127.0.0.1",
    "alice@127.0.0.1\x1b[2J"])
def test_account_syntax(k, acct):
    for cmd in ("antifraud.account", "antifraud.account_release"):
        fault(k, cmd, acct, says="account")


def test_account_valid_answers(k):
    out = h.parse_kamcmd(ok(k, "antifraud.account", "alice@127.0.0.1"))
    assert out["account"] == "alice@127.0.0.1" and out["failures"] == 0
    # a digest user name with its own domain is an account too
    ok(k, "antifraud.account", "alice@example.com@127.0.0.1")
    fault(k, "antifraud.account_release", "alice@127.0.0.1", code=404,
          says="not under attack")


@pytest.mark.parametrize("arg", [
    b"\xff\xfe", b"1.2.3.4\x1b[2J", b"x" * 100])
def test_bad_addresses_are_quoted_escaped_and_short(k, arg):
    for cmd in ("antifraud.ban", "antifraud.unban", "antifraud.lookup"):
        call = [arg, 60] if cmd == "antifraud.ban" else [arg]
        text = fault(k, cmd, *call, says="IP address|too long|control")
        assert "\x1b" not in text


def test_lookup_profile_not_plain(k):
    text = fault(k, "antifraud.lookup", "192.0.2.1", b"pro\xff" b"file",
                 code=404, says="No profile")
    assert "pro\\xfffile" in text
    fault(k, "antifraud.lookup", "192.0.2.1", b"pro\x1b[2Jfile",
          says="^profile: control characters are not accepted$")


@pytest.mark.parametrize("arg", ["-1", "abc", "s:", "s:5x", "100001"])
def test_concurrency_refuses_bad_max(k, arg):
    fault(k, "antifraud.concurrency", arg, says="max")


def test_concurrency_valid_max(k):
    for arg in ("0", "1", "100000"):
        out = h.parse_kamcmd(ok(k, "antifraud.concurrency", arg))
        assert "total" in out


@pytest.mark.parametrize("arg", ["ALL", "none", "1", "s:"])
def test_dest_stats_refuses_unknown_parameter(k, arg):
    fault(k, "antifraud.dest_stats", arg, says="all")


def test_dest_explain_number_not_plain(k):
    text = fault(k, "antifraud.dest_explain", b"s:+49\x1b[2J30123",
                 says="number")
    assert "\x1b" not in text


# defect 8: what the store holds is shown escaped (a Redis shared by the
# nodes may hold reasons and keys written by anyone with access to it)

def test_store_text_is_escaped_on_output(tmp_path, geo_db):
    r = h.Redis(str(tmp_path)).start()
    k2 = None
    try:
        with open(os.path.join(h.DATA, "rules-dest.yaml.in")) as f:
            text = f.read()
        text = (text.replace("@HOLIDAYS@", "").replace("@GEO_DB@", geo_db)
                .replace("@DATA@", h.DATA).replace("@ETC@", h.ETC))
        (tmp_path / "rules.yaml").write_text(text)
        k2 = h.Kamailio(str(tmp_path), str(tmp_path / "rules.yaml"),
                        defines={"AF_REDIS": '"redis://127.0.0.1:%d/0"'
                                 % r.port,
                                 "AF_REDIS_FALLBACK": '"local"'}).start()
        ok(k2, "antifraud.ban", "192.0.2.9", 600, "plain")

        def cli(*args):
            p = subprocess.run([b"redis-cli", b"-p", str(r.port).encode()]
                               + list(args), capture_output=True, timeout=10)
            assert p.returncode == 0, p.stderr
            return p.stdout

        raw = b"\x1b[31mred\x1b[0m \xff\xfe \xc2\x9b2J\r\nnext"
        # a ban is since, until (20 digits each), hits (10), reason
        key = b"af:v2:ban:{192.0.2.9}"
        head = cli(b"GETRANGE", key, b"0", b"49").strip()
        assert len(head) == 50, head
        cli(b"SET", key, head + raw, b"KEEPTTL")
        # an account under attack whose name and reason are hostile
        acct = b"acct|ev\x1b]0;pwned\x07il@x\xff"
        cli(b"SET", b"af:v2:ban:{" + acct + b"}",
            b"%020d" % 1 + head[20:40] + b"%010d" % 0 + raw, b"PX", b"600000")
        outs = [ok(k2, "antifraud.bans"), ok(k2, "antifraud.accounts"),
                ok(k2, "antifraud.lookup", "192.0.2.9")]
        for out in outs:  # ok() decodes strictly: valid UTF-8
            assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", out), out
        assert "\\x1b[31mred\\x1b[0m \\xff\\xfe \\xc2\\x9b2J\\x0d\\x0anext" \
            in outs[0], outs[0]
        assert "ev\\x1b]0;pwned\\x07il@x\\xff" in outs[1], outs[1]
        assert "\\x1b[31mred" in outs[2], outs[2]
        alive(k2)
    finally:
        if k2:
            crashed = k2.crashed()
            k2.stop()
            assert not crashed, crashed
        r.kill()


def test_long_reload_error_is_cut_not_lost(tmp_path, geo_db):
    """A reload error longer than a fault can carry (the rule file's path
    alone is 300 bytes here) is cut to fit and logged whole; before, the
    ctl module sent nothing and kamcmd printed nothing."""
    d = tmp_path / ("d" * 150) / ("e" * 150)
    d.mkdir(parents=True)
    with open(os.path.join(h.DATA, "rules-test.yaml.in")) as f:
        text = f.read()
    text = (text.replace("@GEO_DB@", geo_db).replace("@DATA@", h.DATA)
            .replace("@ETC@", h.ETC))
    path = d / "rules.yaml"
    path.write_text(text)
    k2 = h.Kamailio(str(tmp_path), str(path)).start()
    try:
        path.write_text(text + "\nnot_a_section: 1\n")
        msg = fault(k2, "antifraud.reload", code=500, says="d{20}")
        assert msg.endswith("..."), msg
        assert "not_a_section" in k2.read_log()
        stats = h.parse_kamcmd(ok(k2, "antifraud.stats"))
        assert stats["reload_errors"] == 1
    finally:
        crashed = k2.crashed()
        k2.stop()
        assert not crashed, crashed
