# antifraud: reads the valgrind memcheck logs of a kamailio run under
# AF_VALGRIND=1 (one log per process) and says what is wrong: any invalid
# read, write or free anywhere, and any definite loss whose stack passes
# through the module (antifraud.so, its core af_*.c or its glue).
# SPDX-License-Identifier: GPL-2.0-or-later
import glob
import os
import re

PREFIX = re.compile(r"^==(\d+)== ?(.*)$")
# a frame of the module: the core and glue sources, or the object itself
MODULE_FRAME = re.compile(
    r"\((?:af_\w+|antifraud_mod)\.[ch]:\d+\)|antifraud\.so|\baf_kam_\w+ \(")
INVALID = re.compile(r"^(Invalid (read|write|free)|Mismatched free|"
                     r"Source and destination overlap|"
                     r"Syscall param .* points to unaddressable)")
UNINIT = re.compile(r"^(Conditional jump or move depends on uninitialised|"
                    r"Use of uninitialised value|Syscall param .* "
                    r"uninitialised)")
LOST = re.compile(r"^([\d,]+) (?:\([\d,]+ direct, [\d,]+ indirect\) )?bytes "
                  r"in [\d,]+ blocks are (definitely|indirectly|possibly) lost")


def blocks(path):
    """(pid, [lines]) of each message of a valgrind log."""
    cur, pid = [], None
    with open(path, errors="replace") as f:
        for raw in f:
            m = PREFIX.match(raw.rstrip("\n"))
            if not m:
                continue
            pid = int(m.group(1))
            line = m.group(2)
            if not line.strip():
                if cur:
                    yield pid, cur
                cur = []
            else:
                cur.append(line)
    if cur:
        yield pid, cur


def check(logdir):
    """(figures, failures) of the logs in logdir. figures: processes,
    processes whose leak check ran, errors and losses by kind;
    failures: messages, each with its stack."""
    fig = {"processes": 0, "leak_checked": 0, "invalid": 0,
           "uninit_module": 0, "uninit_other": 0,
           "definite_module": 0, "definite_other": 0,
           "possible_module": 0, "bytes_definite_other": 0}
    fails = []
    for path in sorted(glob.glob(os.path.join(logdir, "vg-*.log"))):
        fig["processes"] += 1
        checked = False
        for pid, b in blocks(path):
            head = b[0].strip()
            stack = "\n".join(b[:32])
            in_module = any(MODULE_FRAME.search(x) for x in b[1:])
            if head.startswith("LEAK SUMMARY") or \
                    head.startswith("All heap blocks were freed"):
                checked = True
            if INVALID.match(head):
                fig["invalid"] += 1
                fails.append("pid %d: %s" % (pid, stack))
            elif UNINIT.match(head):
                fig["uninit_module" if in_module else "uninit_other"] += 1
                if in_module:
                    fails.append("pid %d: %s" % (pid, stack))
            else:
                m = LOST.match(head)
                if not m:
                    continue
                kind = m.group(2)
                if kind == "definitely":
                    if in_module:
                        fig["definite_module"] += 1
                        fails.append("pid %d: %s" % (pid, stack))
                    else:
                        fig["definite_other"] += 1
                        fig["bytes_definite_other"] += int(
                            m.group(1).replace(",", ""))
                elif kind == "possibly" and in_module:
                    fig["possible_module"] += 1
        if checked:
            fig["leak_checked"] += 1
    return fig, fails
