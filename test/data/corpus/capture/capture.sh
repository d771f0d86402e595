#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 antifraud authors
#
# Captures what Debian's sipvicious (svmap, svwar, svcrack) sends, on
# loopback only: a listener on 127.0.0.1:PORT answers like a PBX (200 to
# OPTIONS, 401 for extensions 100/101, 404 otherwise, 403 to credentials),
# tshark records lo, and every request is also saved as one file with its
# exact bytes.
#
# usage: capture.sh OUTDIR [PORT]     (root, for tshark on lo)
set -euo pipefail
out=${1:?usage: capture.sh OUTDIR [PORT]}
port=${2:-25060}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out/requests"
python3 "$here/listener.py" "$port" "$out/requests" &
lpid=$!
tshark -i lo -f "udp port $port" -w "$out/sipvicious.pcapng" >/dev/null 2>&1 &
tpid=$!
trap 'kill $lpid $tpid 2>/dev/null || true' EXIT
sleep 3
t() { timeout 60 "$@" >/dev/null 2>&1 || true; }
t svmap -p"$port" 127.0.0.1
t svmap -p"$port" -m INVITE -e 100 127.0.0.1
t svmap -p"$port" -m REGISTER 127.0.0.1
t svmap -c -p"$port" 127.0.0.1
t svmap -c -p"$port" -m INVITE -e 100 127.0.0.1
t svmap -p"$port" --fromname=alice 127.0.0.1
t svwar -p"$port" -e98-103 127.0.0.1
t svwar -p"$port" -m INVITE -e98-103 127.0.0.1
t svwar -p"$port" -m OPTIONS -e98-103 127.0.0.1
t svcrack -p"$port" -u100 -r1000-1004 127.0.0.1
printf 'secret\npassword\n1234\n' > "$out/dict.txt"
t svcrack -p"$port" -u101 -d "$out/dict.txt" 127.0.0.1
t svcrack -p"$port" -u100 -r1-2 -m INVITE 127.0.0.1
t svwar -c -p"$port" -e99-101 127.0.0.1
t svcrack -c -p"$port" -u100 -r1-2 127.0.0.1
sleep 2
echo "$(ls "$out/requests" | wc -l) requests in $out/requests, capture $out/sipvicious.pcapng"
