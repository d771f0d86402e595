# antifraud integration: hostile and careless rule files. Files the rules
# name that are devices, FIFOs, directories or secrets are refused at
# once on antifraud.reload, at the rule-file line naming them, without
# echoing their content, the old rules kept; `kamailio -c` and
# build/af-rules-check validate with the module's own loader.
# SPDX-License-Identifier: GPL-2.0-or-later
import os
import random
import re
import subprocess
import time

import afharness as h

CHECK = os.path.join(h.ROOT, "build", "af-rules-check")
SIGS = os.path.join(h.ETC, "antifraud-signatures.yaml")
BLOCKLIST = os.path.join(h.DATA, "blocklist-test.txt")
SECRET = ("root:$y$j9T$SALTSALTSALTSALTSALT$"
          "HASHHASHHASHHASHHASHHASHHASHHASHHASHHASH:19000:0:99999:7:::\n")


def timed_reload(k):
    t0 = time.monotonic()
    p = k.rpc("antifraud.reload", check=False)
    return p, time.monotonic() - t0


def test_reload_refuses_special_files_promptly(kam, rules, geo_db, tmp_path):
    path = rules()
    k = kam(path)
    with open(path) as f:
        good = f.read()
    assert BLOCKLIST in good and SIGS in good and geo_db in good
    fifo = str(tmp_path / "fifo")
    os.mkfifo(fifo)
    empty = tmp_path / "empty.mmdb"
    empty.write_text("")
    cases = [
        (BLOCKLIST, "/dev/zero", "lists.blocklist.file: ip list",
         "a character device, not a regular file"),
        (BLOCKLIST, fifo, "lists.blocklist.file: ip list",
         "a FIFO, not a regular file"),
        (BLOCKLIST, str(tmp_path), "lists.blocklist.file: ip list",
         "a directory, not a regular file"),
        (BLOCKLIST, "/nonexistent/list.txt", "lists.blocklist.file: ip list",
         "No such file or directory"),
        (SIGS, "/dev/zero", "fingerprint.signatures: signature file",
         "a character device, not a regular file"),
        (SIGS, fifo, "fingerprint.signatures: signature file",
         "a FIFO, not a regular file"),
        (geo_db, fifo, "geoip.country_db: GeoIP database",
         "a FIFO, not a regular file"),
        (geo_db, "/dev/zero", "geoip.country_db: GeoIP database",
         "a character device, not a regular file"),
        (geo_db, str(empty), "geoip.country_db: GeoIP database",
         "empty file"),
    ]
    for old, new, where, what in cases:
        with open(path, "w") as f:
            f.write(good.replace(old, new))
        p, took = timed_reload(k)
        out = p.stdout + p.stderr
        assert p.returncode != 0, (new, out)
        assert took < 3, (new, took)
        # the fault says where (a fault is cut to fit the ctl module's
        # limit), the log has all of it
        full = (re.escape(path) + r":\d+: " + re.escape(where) + r" '"
                + re.escape(new) + "': " + re.escape(what))
        assert re.search(re.escape(path) + r":\d+: ", out), (new, out)
        assert re.search(full, out) or re.search(full, k.read_log()), \
            (new, out)
        # the old rules still serve, and the RPC process answers
        assert h.keepalive(k, "127.0.0.2") == 200
        assert h.keepalive(k, "127.0.0.3") is None  # KP, denied
    st = k.stats()
    assert st["reload_errors"] == len(cases)
    assert st["reloads"] == 0
    # the same file made good again reloads
    with open(path, "w") as f:
        f.write(good)
    assert "Ok" in k.rpc("antifraud.reload").stdout
    assert k.alive()


def test_reload_error_does_not_echo_file_content(kam, rules, tmp_path):
    path = rules()
    k = kam(path)
    with open(path) as f:
        good = f.read()
    secret = tmp_path / "shadow"
    secret.write_text(SECRET)
    ctl = tmp_path / "ctl.txt"
    ctl.write_bytes(b"\x1b[2J\x1b]0owned\x07\xff\n")
    for name in (str(secret), str(ctl)):
        with open(path, "w") as f:
            f.write(good.replace(BLOCKLIST, name))
        p = k.rpc("antifraud.reload", check=False)
        out = p.stdout + p.stderr
        assert p.returncode != 0
        assert name + ":1: invalid IP address: '" in out, out
        assert "HASH" not in out and ":19000:" not in out, out
        assert "\x1b" not in out and "\x07" not in out, out
    assert "'\\x1b[2J\\x1b]0owned\\x07\\xff'" in out, out
    log = k.read_log()
    assert "HASHHASH" not in log
    assert "\x1b]0owned" not in log


def kamailio_check(tmp_path, rules_path):
    """kamailio -c on the sample cfg with rules_path; (rc, output)."""
    args = ["kamailio", "-c", "-f", h.SAMPLE_CFG, "-Y", str(tmp_path),
            "-A", "AF_IP=127.0.0.1", "-A", "AF_PORT=%d" % h.free_port(),
            "-A", 'AF_NEXT_HOP="sip:127.0.0.1:5099"',
            "-A", 'AF_RULES="%s"' % rules_path,
            "-A", 'AF_MODULE="%s"' % h.MODULE,
            "-A", 'AF_CTL="unix:%s"' % (tmp_path / "ctl-check"),
            "-A", 'AF_MPATH="%s"' % h.kamailio_mpath(),
            "-A", "AF_CHILDREN=1"]
    p = subprocess.run(args, capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout + p.stderr


def rules_check(*args):
    p = subprocess.run([CHECK] + list(args), capture_output=True, text=True,
                       timeout=30)
    return p.returncode, p.stdout, p.stderr


def test_af_rules_check(rules, tmp_path):
    good = rules()
    rc, out, err = rules_check(good)
    assert rc == 0, err
    assert out.startswith(good + ": ok: 3 lists"), out
    assert "GeoIP yes" in out, out
    rc, out, err = rules_check(os.path.join(h.ETC, "antifraud.yaml"))
    assert rc == 0 and ": ok: " in out, err
    assert rules_check("-q", good) == (0, "", "")
    fifo = str(tmp_path / "fifo")
    os.mkfifo(fifo)
    with open(good) as f:
        text = f.read()
    bad = {
        "yaml.yaml": (text.replace("users: [alice, bob, carol]",
                                   "users: [alice, bob, carol\n"),
                      r"yaml\.yaml:\d+: YAML: "),
        "zero.yaml": (text.replace(BLOCKLIST, "/dev/zero"),
                      r"zero\.yaml:9: lists\.blocklist\.file: ip list "
                      r"'/dev/zero': a character device"),
        "fifo.yaml": (text.replace(SIGS, fifo),
                      r"fifo\.yaml:25: fingerprint\.signatures: signature"
                      r" file '.*': a FIFO"),
        "exempt.yaml": ("version: 1\nprofiles:\n  default:\n"
                        "    dest: {country: DE, exempt_numbers: ['::/0']}\n",
                        r"exempt\.yaml:4: profiles\.default\.dest"),
        "slash0.yaml": ("version: 1\nlists:\n  t: {entries: [1.2.3.4/0]}\n"
                        "profiles:\n  default:\n    trusted: [t]\n",
                        r"slash0\.yaml:6: profiles\.default\.trusted: list"
                        r" 't' holds an IPv4 /0 prefix"),
    }
    for name, (body, want) in bad.items():
        p = tmp_path / name
        p.write_text(body)
        t0 = time.monotonic()
        rc, out, err = rules_check(str(p))
        assert time.monotonic() - t0 < 5, name
        assert rc == 1 and out == "", (name, out, err)
        assert re.match(re.escape(str(tmp_path)) + "/" + want, err), \
            (name, err)
    # the size limits can be set from the command line
    rc, _, err = rules_check("--limits", "list=1,rules=1", good)
    assert rc == 0, err
    assert rules_check("--limits", "list=0", good)[0] == 2
    assert rules_check()[0] == 2
    assert rules_check("--nope", good)[0] == 2


def test_kamailio_c_validates_the_rule_file(rules, tmp_path):
    rc, out = kamailio_check(tmp_path, rules())
    assert rc == 0, out[-3000:]
    assert "antifraud" in out and ": ok: 3 lists" in out, out[-3000:]
    bad = rules("version: 1\nprofiles:\n  default:\n    mode: {user: maybe}\n",
                "bad.yaml")
    rc, out = kamailio_check(tmp_path, bad)
    assert rc != 0
    assert bad + ":4: profiles.default.mode.user: unknown mode" in out, \
        out[-3000:]


def mutate(text, rng):
    """One random edit of a rule file: a line dropped, doubled or
    re-indented, a character changed, or the file cut short."""
    lines = text.split("\n")
    i = rng.randrange(len(lines))
    op = rng.randrange(5)
    if op == 0:
        del lines[i]
    elif op == 1:
        lines.insert(i, lines[i])
    elif op == 2:
        lines[i] = " " + lines[i]
    elif op == 3 and lines[i]:
        j = rng.randrange(len(lines[i]))
        lines[i] = lines[i][:j] + rng.choice("[]{}:,'-x0/&*") + \
            lines[i][j + 1:]
    else:
        return text[:rng.randrange(len(text))]
    return "\n".join(lines)


def test_kamailio_c_and_af_rules_check_agree(rules, tmp_path):
    """Mutated rule files: kamailio -c refuses exactly those
    af-rules-check refuses, with the same file:line message."""
    with open(rules()) as f:
        good = f.read()
    rng = random.Random(18)
    refused = 0
    for n in range(24):
        path = tmp_path / ("m%02d.yaml" % n)
        path.write_text(mutate(good, rng))
        rc1, _, err = rules_check(str(path))
        rc2, out = kamailio_check(tmp_path, str(path))
        assert (rc1 == 0) == (rc2 == 0), (n, err, out[-2000:])
        if rc1:
            refused += 1
            assert err.strip() in out, (n, err, out[-2000:])
    assert refused >= 8, refused
