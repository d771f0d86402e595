# antifraud: the default signature set against the capture corpus, and the
# operator tools (build/af-fingerprint, utils/af-learn).
# SPDX-License-Identifier: GPL-2.0-or-later
import glob
import os
import re
import subprocess

import yaml

import afharness as h

CLI = os.path.join(h.ROOT, "build", "af-fingerprint")
LEARN = os.path.join(h.ROOT, "utils", "af-learn")
SIGS = os.path.join(h.ETC, "antifraud-signatures.yaml")
CORPUS = os.path.join(h.DATA, "corpus")


def check(files, sigs=SIGS):
    """{file: [(signature, action), ...]} from af-fingerprint --check."""
    out = subprocess.run([CLI, "--check", sigs, "--tsv"] + files,
                         capture_output=True, text=True, check=True).stdout
    res = {}
    for line in out.splitlines():
        cols = line.split("\t")
        hits = [tuple(x.split(":")) for x in cols[5].split(",") if x] \
            if len(cols) > 5 else []
        res[cols[0]] = hits
    assert len(res) == len(files)
    return res


def test_every_captured_tool_request_is_blocked():
    files = sorted(glob.glob(os.path.join(CORPUS, "tools", "*.sip")))
    res = check(files)
    missed = [f for f, hits in res.items()
              if not any(a == "block" for _, a in hits)]
    assert not missed, missed
    # and not only by the User-Agent: a structural signature matches too
    ua_only = [f for f, hits in res.items()
               if all("user-agent" in n for n, _ in hits)]
    assert not ua_only, ua_only


def test_reconstructed_tools_are_recognized():
    files = sorted(glob.glob(os.path.join(CORPUS, "tools-reconstructed",
                                          "*.sip")))
    res = check(files)
    for f, hits in res.items():
        assert hits, f
        if "sipsak" in f:  # an admin tool too: alert only
            assert all(a == "alert" for _, a in hits), (f, hits)
        else:
            assert any(a == "block" for _, a in hits), (f, hits)


def test_no_legitimate_request_matches():
    files = sorted(glob.glob(os.path.join(CORPUS, "legit", "*.sip")))
    assert len(files) >= 40
    res = check(files)
    hit = {f: x for f, x in res.items() if x}
    assert not hit, hit


def test_every_default_signature_is_exercised():
    """No dead signature: each matches some request of the tool corpus."""
    with open(SIGS) as f:
        names = {s["name"] for s in yaml.safe_load(f)["signatures"]}
    files = sorted(glob.glob(os.path.join(CORPUS, "tools*", "*.sip")))
    seen = {n for hits in check(files).values() for n, _ in hits}
    assert names <= seen, sorted(names - seen)


def test_learner_proposes_a_signature_that_catches_the_tool(tmp_path):
    pcap = os.path.join(CORPUS, "pcap", "sipvicious-0.3.3.pcapng")
    p = subprocess.run([LEARN, "--no-signatures", "--cli", CLI, pcap],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert re.search(r"== 127\.0\.0\.1: \d+ requests", out), out
    # the candidates, as printed, form a valid signature file
    block = out[out.index("candidate signatures"):].split("\n", 1)[1]
    lines = [ln for ln in block.splitlines()
             if ln.startswith("  ") and not ln.strip().startswith("#")]
    sigfile = tmp_path / "learned.yaml"
    sigfile.write_text("version: 1\nsignatures:\n" + "\n".join(lines) + "\n")
    learned = yaml.safe_load(sigfile.read_text())["signatures"]
    assert any(s["name"].endswith("-structure") for s in learned)
    assert "catches 72/72" in out
    # ... that catches the requests of the same tool (Debian's 0.3.3, see
    # test/data/corpus/README.md) and no legitimate one
    tools = [os.path.join(CORPUS, "tools", "%s-%d.sip" % (t, i))
             for t, n in (("svmap", 6), ("svwar", 9), ("svcrack", 7))
             for i in range(1, n + 1)]
    res = check(tools, str(sigfile))
    assert all(res.values()), [f for f, x in res.items() if not x]
    legit = sorted(glob.glob(os.path.join(CORPUS, "legit", "*.sip")))
    assert not any(check(legit, str(sigfile)).values())


def test_learner_reads_kamailio_sipdump():
    data = os.path.join(CORPUS, "sipdump", "kamailio-5.6.3-sipdump.data")
    p = subprocess.run([LEARN, "--cli", CLI, "--signatures", SIGS, data],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert re.search(r"sipdump, \d+ SIP requests", p.stdout + p.stderr)
    assert "sipvicious" in p.stdout


def test_bad_signature_file_names_the_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nsignatures:\n  - name: x\n    source: s\n"
                   "    match: {user_agent: '(unclosed'}\n")
    p = subprocess.run([CLI, "--check", str(bad),
                        os.path.join(CORPUS, "tools", "svmap-1.sip")],
                       capture_output=True, text=True)
    assert p.returncode != 0
    assert "%s:5:" % bad in p.stderr + p.stdout
