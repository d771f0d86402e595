# antifraud integration: af_check_fingerprint with real kamailio, the real
# SIPVicious tools and sipp, on loopback.
# SPDX-License-Identifier: GPL-2.0-or-later
import glob
import os
import re
import subprocess
import time

import pytest

import afharness as h

CORPUS = os.path.join(h.DATA, "corpus")
TOOLS = sorted(glob.glob(os.path.join(CORPUS, "tools", "*.sip")))
LEGIT = sorted(glob.glob(os.path.join(CORPUS, "legit", "*.sip")))


def monitor_source_rules(rules):
    """The test rules with every source sub-check in monitor mode, so that
    the fingerprint verdict alone decides."""
    with open(os.path.join(h.DATA, "rules-test.yaml.in")) as f:
        text = f.read()
    for check in ("domain", "user", "iplist", "geo", "sdp", "hopping"):
        text = text.replace("      %s: enforce\n" % check,
                            "      %s: monitor\n" % check)
    return rules(text, "fp-monitor.yaml")


def stats(k):
    return k.stats()


def send_file(path, dst, src_ip):
    c = h.SipClient(src_ip)
    with open(path, "rb") as f:
        data = f.read()
    c.send_raw(data, dst)
    code = c.recv(0.6)
    c.close()
    return code


def test_corpus_is_there():
    assert len(TOOLS) >= 6, TOOLS
    assert len(LEGIT) >= 12, LEGIT


def test_each_tool_request_is_refused_at_once(kam, rules):
    k = kam(monitor_source_rules(rules))
    dst = (k.ip, k.port)
    initial = 0
    for i, path in enumerate(TOOLS):
        before = stats(k)["reasons"]["signature"]
        # a fresh source each time: refused on its very first request
        src = "127.0.2.%d" % (i + 1)
        assert send_file(path, dst, src) is None, path
        with open(path, "rb") as f:
            to = re.search(rb"^(?:To|t):[^\r\n]*", f.read(), re.M | re.I)
        if b"tag=" in to.group(0):
            # inside a dialog (svwar's ACK to a 404): not fingerprinted
            assert stats(k)["reasons"]["signature"] == before, path
            continue
        initial += 1
        assert stats(k)["reasons"]["signature"] == before + 1, path
    st = stats(k)
    assert initial >= len(TOOLS) - 4
    assert st["reasons"]["signature"] == initial


def test_legitimate_corpus_passes(kam, rules):
    k = kam(monitor_source_rules(rules))
    dst = (k.ip, k.port)
    for i, path in enumerate(LEGIT):
        send_file(path, dst, "127.0.3.%d" % (i + 1))
    st = stats(k)
    assert st["reasons"]["signature"] == 0, k.read_log()[-3000:]
    assert st["checks"] >= 2 * len(LEGIT)


def test_sipp_default_uac_passes(kam, tmp_path):
    """sipp's built-in UAC passes the fingerprint check (its BYE carries
    no Route, so the record-routing proxy answers it 404: not our
    business here)."""
    k = kam()
    p = subprocess.run(["sipp", "-sn", "uac", "-s", "bob", "-m", "2",
                        "-i", "127.0.0.1", "-p", str(h.free_port()),
                        "-timeout", "6s", "-nostdin",
                        "127.0.0.1:%d" % k.port],
                       capture_output=True, text=True, timeout=40,
                       cwd=str(tmp_path))
    st = stats(k)
    assert st["reasons"]["signature"] == 0, p.stdout[-2000:]
    assert st["blocked"] == 0
    # INVITE, ACK and BYE of two calls by af_check_source, the INVITEs by
    # af_check_fingerprint (ACK and BYE are inside the dialog)
    assert st["allowed"] >= 8, st
    assert st["norule"] >= 4, st


def test_sipvicious_structure_with_desk_phone_user_agent(kam, rules,
                                                         tmp_path):
    """A sipp scenario that copies what svwar sends, but says it is a
    Yealink: still refused."""
    k = kam(monitor_source_rules(rules))
    p = h.Sipp.uac(str(tmp_path), "127.0.0.1:%d" % k.port,
                   scenario="svwar-disguised.xml", src_ip="127.0.0.30",
                   caller="100", callee="100", timeout=4)
    assert p.returncode != 0  # no answer
    st = stats(k)
    assert st["reasons"]["signature"] >= 1, k.read_log()[-3000:]
    assert re.search(r"antifraud: fingerprint rc=-2 .* sig=\S*sipvicious",
                     k.read_log(), re.I)


def run_tool(args, cwd):
    return subprocess.run(args, capture_output=True, text=True, timeout=120,
                          cwd=cwd)


TOOL_RUNS = {
    "svmap": ["svmap", "-p", "{port}", "127.0.0.1"],
    "svwar": ["svwar", "-e", "100-105", "-m", "INVITE", "--force",
              "--maximumtime", "3", "127.0.0.1", "-p", "{port}"],
    "svcrack": ["svcrack", "-u", "100", "-r", "1000-1010",
                "--maximumtime", "3", "127.0.0.1", "-p", "{port}"],
}


@pytest.mark.parametrize("tool", sorted(TOOL_RUNS))
def test_real_sipvicious_tool_is_refused(srv, rules, tmp_path, tool):
    """Debian's svmap, svwar and svcrack: the first request is refused by
    its signature, the tool learns nothing and its source is banned."""
    k = srv(monitor_source_rules(rules))
    args = [a.format(port=k.port) for a in TOOL_RUNS[tool]]
    out = run_tool(args, str(tmp_path))
    text = out.stdout + out.stderr
    st = stats(k)
    # the first request matched (and banned the source: threshold 5,
    # signature scores 10); later ones were refused as banned
    assert st["reasons"]["signature"] == 1, (st, text)
    assert st["bans"] == 1, st
    assert "127.0.0.1" in k.rpc("antifraud.bans").stdout
    # nothing answered: the tools report nothing found
    assert re.search(r"found nothing|could not|timeout|no response"
                     r"|not found|seems to be down", text, re.I), text[-2000:]


def test_fingerprint_and_signature_are_exposed(kam, rules):
    k = kam(monitor_source_rules(rules))
    send_file(TOOLS[0], (k.ip, k.port), "127.0.0.31")
    log = k.read_log()
    m = re.search(r"antifraud: fingerprint rc=-2 \[[^\]]*signature[^\]]*\]"
                  r".* fp=(af1-[0-9a-f]{16}) sig=(\S+)", log)
    assert m, log[-3000:]
    assert m.group(2) != "<null>"


def test_signatures_reload_at_run_time(kam, rules, tmp_path):
    sigs = tmp_path / "sigs.yaml"
    with open(os.path.join(h.ETC, "antifraud-signatures.yaml")) as f:
        base = f.read()
    sigs.write_text(base)
    with open(os.path.join(h.DATA, "rules-test.yaml.in")) as f:
        text = f.read().replace("@ETC@/antifraud-signatures.yaml", str(sigs))
    for check in ("domain", "user", "iplist", "geo", "sdp", "hopping"):
        text = text.replace("      %s: enforce\n" % check,
                            "      %s: monitor\n" % check)
    k = kam(rules(text, "reload.yaml"))
    phone = os.path.join(CORPUS, "legit", "yealink-t46s-invite.sip")
    send_file(phone, (k.ip, k.port), "127.0.0.40")
    assert stats(k)["reasons"]["signature"] == 0
    # a broken signature file is refused with its line; the set in use stays
    sigs.write_text(base + "  - name: broken\n    source: x\n"
                    "    match: {user_agent: '(unclosed'}\n")
    p = k.rpc("antifraud.reload", check=False)
    assert p.returncode != 0 and str(sigs) in p.stdout, p.stdout
    # pin the phone's exact fingerprint (as an operator would) and reload
    out = subprocess.run([os.path.join(h.ROOT, "build", "af-fingerprint"),
                          "--tsv", phone], capture_output=True, text=True,
                         check=True).stdout
    fp = out.split("\t")[1]
    sigs.write_text(base + "  - name: pinned-test\n    source: test\n"
                    "    action: alert\n    score: 0\n"
                    "    match: {fingerprint: %s}\n" % fp)
    time.sleep(1.1)  # reload_min_interval
    assert "Ok" in k.rpc("antifraud.reload").stdout
    send_file(phone, (k.ip, k.port), "127.0.0.41")
    st = stats(k)
    assert st["reasons"]["signature"] == 1
    assert "sig=pinned-test" in k.read_log()
