#!/usr/bin/env python3
# antifraud reliability: mutated rule files through the core loader.
#
# Builds N rule files from the sample rules (etc/antifraud.yaml) and the
# test rules (test/data/rules-*.yaml.in), each mutated with a fixed seed:
# YAML-aware mutations (a key dropped, a value of the wrong type, huge and
# negative numbers, 64 KB strings, deep nesting, an alias bomb, unknown or
# duplicated keys, values swapped between keys) and byte-level ones (bits
# flipped, bytes inserted, deleted or duplicated, NUL and invalid UTF-8,
# tabs in the indentation, truncation), one to three at a time. Loads them
# all with build/san/rules-load (the core loader under ASan/UBSan) and
# checks that each one is accepted as a complete snapshot or refused with
# "file:line: ..."; never a crash, a sanitizer report, a leak or a
# partial load.
#
#   rules_mutate.py [--count N] [--seed S] [--loader PATH] [--keep DIR]
#
# Exit status 0 when every file passed; the summary line gives the counts.
# SPDX-License-Identifier: GPL-2.0-or-later
import argparse
import itertools
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "test", "data")
ETC = os.path.join(ROOT, "etc")
LOADER = os.path.join(ROOT, "build", "san", "rules-load")
# what the sample rules name by relative path (linked into the work dir)
ETC_FILES = ["antifraud-blocklist.txt", "antifraud-numplan.csv",
             "antifraud-highrisk.csv", "antifraud-signatures.yaml"]
# "file:line: message" (the file may be another one the rules name)
FILE_LINE = re.compile(r"^[^\s:][^:]*:\d+: \S")

HUGE = [2 ** 31, 2 ** 32, 2 ** 63, 2 ** 64, 10 ** 30, -1, -2 ** 31, -2 ** 63,
        0, 1e308, -1e308, float("inf"), float("nan"), 4294967295,
        "99999999999999999999999", "-0", "0x7fffffff", "1e9", ".inf"]


def sources(workdir, geo_db):
    """(name, text) of the rule files mutations start from, rendered so
    that the files they name exist."""
    out = []
    with open(os.path.join(ETC, "antifraud.yaml")) as f:
        out.append(("sample", f.read()))
    for name in ("rules-test.yaml.in", "rules-dest.yaml.in",
                 "rules-accounts.yaml.in", "rules-soak.yaml.in"):
        path = os.path.join(DATA, name)
        if not os.path.exists(path):
            continue
        with open(path) as f:
            text = f.read()
        text = (text.replace("@GEO_DB@", geo_db).replace("@DATA@", DATA)
                .replace("@ETC@", ETC).replace("@HOLIDAYS@", '"12-25"'))
        out.append((name.split(".")[0], text))
    return out


def paths_of(node, prefix=()):
    """Every (path, value) of a parsed YAML tree, containers included."""
    yield prefix, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from paths_of(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from paths_of(v, prefix + (i,))


def get_parent(tree, path):
    node = tree
    for p in path[:-1]:
        node = node[p]
    return node


def wrong_value(rng, old):
    """A value of another type (or a hostile one of the same)."""
    choices = [
        lambda: rng.choice(HUGE),
        lambda: "x" * rng.choice([1, 255, 256, 4096, 65536]),
        lambda: rng.choice([True, False, None, "", "~", "yes", "null"]),
        lambda: [rng.choice(HUGE) for _ in range(rng.randint(0, 5))],
        lambda: {"k%d" % i: rng.choice(HUGE) for i in range(rng.randint(0, 4))},
        lambda: "".join(chr(rng.randint(1, 0x2FFF)) for _ in range(rng.randint(1, 40))),
        lambda: rng.choice(["^(", "[z-a]", "(a+)+$", "\\", "%s%n%x", "../../etc/passwd",
                            "/dev/zero", "/nonexistent", "25:61-99:99", "mon-xyz",
                            "127.0.0.1/33", "::ffff:1.2.3.4/200", "300.1.1.1", "+", "*"]),
    ]
    if isinstance(old, list) and len(old) < 100:
        choices.append(lambda: old * rng.randint(2, 20))
    if isinstance(old, str) and len(old) < 1000:
        choices.append(lambda: old * rng.randint(2, 50))
    return rng.choice(choices)()


def nest(rng, value, depth):
    for _ in range(depth):
        value = [value] if rng.random() < 0.5 else {"n": value}
    return value


def yaml_mutation(rng, tree):
    """One mutation of the parsed tree, in place (returns the new tree)."""
    items = list(itertools.islice(paths_of(tree), 20000))  # alias bombs
    path, value = rng.choice(items)
    kind = rng.randrange(8)
    if not path:
        return wrong_value(rng, tree) if kind == 0 else tree
    parent = get_parent(tree, path)
    key = path[-1]
    if kind == 0:  # a key or item dropped
        del parent[key]
    elif kind in (1, 2):  # a value of the wrong type, a hostile value
        parent[key] = wrong_value(rng, value)
    elif kind == 3:  # deep nesting
        parent[key] = nest(rng, value, rng.choice([10, 50, 150]))
    elif kind == 4 and isinstance(parent, dict):  # an unknown key
        parent["unknown_%d" % rng.randrange(1000)] = wrong_value(rng, value)
    elif kind == 5:  # values swapped between two places
        path2, value2 = rng.choice(items)
        if path2 and not (path2[:len(path)] == path or path[:len(path2)] == path2):
            get_parent(tree, path2)[path2[-1]] = value
            parent[key] = value2
    elif kind == 6 and isinstance(parent, dict):  # a profile or list copied
        parent["%s_copy%d" % (key, rng.randrange(100))] = value
    elif kind == 7:  # many entries
        parent[key] = [rng.choice(HUGE) for _ in range(rng.randint(100, 2000))]
    return tree


def dump(tree):
    try:
        return yaml.safe_dump(tree, sort_keys=False, allow_unicode=True,
                              width=1 << 20).encode("utf-8", "surrogatepass")
    except (RecursionError, yaml.YAMLError):
        return None


def text_mutation(rng, data):
    """One mutation of the text (bytes)."""
    kind = rng.randrange(12)
    n = len(data)
    pos = rng.randrange(n + 1)
    if kind == 0 and n:  # bits flipped
        b = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(n)
            b[i] ^= 1 << rng.randrange(8)
        return bytes(b)
    if kind == 1:  # bytes inserted
        ins = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        return data[:pos] + ins + data[pos:]
    if kind == 2:  # a range deleted
        return data[:pos] + data[pos + rng.randint(1, 200):]
    if kind == 3:  # truncated
        return data[:pos]
    if kind == 4:  # a line duplicated (duplicate keys)
        lines = data.split(b"\n")
        i = rng.randrange(len(lines))
        lines.insert(i, lines[i])
        return b"\n".join(lines)
    if kind == 5:  # NUL, invalid UTF-8, a BOM, CR
        ins = rng.choice([b"\0", b"\xff\xfe", b"\xc3\x28", b"\xed\xa0\x80",
                          b"\xef\xbb\xbf", b"\r", b"\x1b[31m", b"\xf4\x90\x80\x80"])
        return data[:pos] + ins + data[pos:]
    if kind == 6:  # tabs in the indentation
        return re.sub(rb"\n  ", b"\n\t", data, count=rng.randint(1, 5))
    if kind == 7:  # a number made huge
        m = list(re.finditer(rb"\d+", data))
        if m:
            x = rng.choice(m)
            repl = rng.choice([b"9" * rng.randint(10, 400), b"-" + x.group(),
                               b"0x" + x.group(), x.group() + b".5e999"])
            return data[:x.start()] + repl + data[x.end():]
    if kind == 8:  # YAML syntax: anchors, aliases, tags, flow, documents
        ins = rng.choice([b"*undefined ", b"&a ", b"!!binary ", b"!!python/object ",
                          b"{", b"[", b"}", b"]", b"---\n", b"...\n", b"? ",
                          b"%YAML 1.1\n", b"<<: *a\n", b"|\n", b">-\n", b"'", b'"'])
        return data[:pos] + ins + data[pos:]
    if kind == 9:  # an alias bomb
        bomb = b"bomb0: &b0 [x, x, x, x, x, x, x, x, x, x]\n"
        for i in range(1, 12):
            bomb += b"bomb%d: &b%d [%s]\n" % (i, i, b", ".join([b"*b%d" % (i - 1)] * 10))
        return bomb + data if rng.random() < 0.5 else data + b"\n" + bomb
    if kind == 10:  # a block copied elsewhere
        a = rng.randrange(n + 1)
        return data[:pos] + data[a:a + rng.randint(1, 500)] + data[pos:]
    if rng.random() < 0.5:  # deep nesting in flow style
        depth = rng.choice([100, 1000, 10000, 100000])
        ins = b"deep: " + b"[" * depth + b"x" + b"]" * depth + b"\n"
        return data[:pos] + ins + data[pos:]
    # a long line
    return data[:pos] + b"#" + b"A" * 65536 + b"\n" + data[pos:]


MAX_SIZE = 4 << 20


def mutate(rng, text):
    data = text.encode()
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        if rng.random() < 0.5 and len(data) < (1 << 20):
            try:
                tree = yaml.safe_load(data.decode("utf-8"))
                out = dump(yaml_mutation(rng, tree)) \
                    if isinstance(tree, (dict, list)) else None
            except Exception:  # noqa: BLE001 - already broken: bytes only
                out = None
            if out is not None:
                data = out[:MAX_SIZE]
                continue
        data = text_mutation(rng, data)[:MAX_SIZE]
    return data


def prepare(workdir):
    for f in ETC_FILES:
        dst = os.path.join(workdir, f)
        if not os.path.exists(dst):
            os.symlink(os.path.join(ETC, f), dst)
    geo = os.path.join(workdir, "test-country.mmdb")
    if not os.path.exists(geo):
        subprocess.run(["perl", os.path.join(DATA, "mkgeo.pl"), geo,
                        os.path.join(DATA, "geo.map")], check=True,
                       capture_output=True)
    return geo


def run_loader(loader, files, env):
    """Loads files; yields (path, verdict, detail). A crash yields
    (path, 'CRASH', output tail) and the loader goes on after it."""
    pending = list(files)
    while pending:
        p = subprocess.run([loader], input="\n".join(pending) + "\n",
                           capture_output=True, text=True, env=env,
                           errors="replace", timeout=3600)
        done = set()
        current = None
        for line in p.stdout.splitlines():
            parts = line.split("\t", 2)
            if parts[0] == "LOAD":
                current = parts[1]
            elif parts[0] in ("OK", "REFUSED", "LEAK", "PARTIAL"):
                done.add(parts[1])
                yield parts[1], parts[0], parts[2] if len(parts) > 2 else ""
                current = None
        if "DONE" in p.stdout.splitlines() and p.returncode == 0:
            return
        if current is None:  # died outside a load (at exit: leak report)
            yield "(exit)", "CRASH", (p.stderr or p.stdout)[-4000:]
            return
        done.add(current)
        yield current, "CRASH", p.stderr[-4000:]
        pending = [f for f in pending if f not in done]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--loader", default=LOADER)
    ap.add_argument("--keep", help="copy failing files into this folder")
    ap.add_argument("--workdir")
    args = ap.parse_args(argv)
    if not os.access(args.loader, os.X_OK):
        print("rules_mutate: %s not built (make unit-build)" % args.loader)
        return 2
    t0 = time.time()
    workdir = args.workdir or tempfile.mkdtemp(prefix="af-rules-mutate-")
    os.makedirs(workdir, exist_ok=True)
    geo = prepare(workdir)
    srcs = sources(workdir, geo)
    rng = random.Random(args.seed)
    files = []
    for i in range(args.count):
        name, text = srcs[i % len(srcs)]
        path = os.path.join(workdir, "m%05d-%s.yaml" % (i, name))
        with open(path, "wb") as f:
            f.write(mutate(rng, text))
        files.append(path)
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    counts = {}
    failures = []
    seen = set()
    for path, verdict, detail in run_loader(args.loader, files, env):
        seen.add(path)
        if verdict == "REFUSED" and not FILE_LINE.match(detail):
            verdict = "NO_FILE_LINE"
        counts[verdict] = counts.get(verdict, 0) + 1
        if verdict not in ("OK", "REFUSED"):
            failures.append((path, verdict, detail))
    missing = [f for f in files if f not in seen]
    for f in missing:
        failures.append((f, "NO_RESULT", ""))
    for path, verdict, detail in failures[:20]:
        print("FAIL %s %s: %s" % (verdict, path, detail[:2000]))
        if args.keep and os.path.exists(path):
            os.makedirs(args.keep, exist_ok=True)
            shutil.copy(path, args.keep)
    print("rules_mutate: %d files (seed %d) in %.1f s: %d accepted, %d refused "
          "with file:line, %d failures %s" % (
              len(files), args.seed, time.time() - t0, counts.get("OK", 0),
              counts.get("REFUSED", 0), len(failures),
              {k: v for k, v in counts.items() if k not in ("OK", "REFUSED")}))
    if not args.workdir and not failures:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
