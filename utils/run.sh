#!/usr/bin/env bash
# antifraud - `make run`: Kamailio in the foreground with etc/kamailio.cfg,
# the built module and the sample rules, UDP and TCP on 127.0.0.1:5060,
# and the default ctl socket so that plain `kamcmd antifraud.stats` works.
# SPDX-License-Identifier: GPL-2.0-or-later
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
port=${AF_PORT:-5060}
next=${AF_NEXT_HOP:-sip:127.0.0.1:5080}
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO mkdir -p /run/kamailio
echo "antifraud: kamailio on 127.0.0.1:$port (udp, tcp), next hop $next;"
echo "antifraud: try 'kamcmd antifraud.stats' in another shell; Ctrl-C stops"
exec $SUDO kamailio -f "$top/etc/kamailio.cfg" -DD -E -m 128 \
	-Y /run/kamailio \
	-A "AF_PORT=$port" \
	-A "AF_NEXT_HOP=\"$next\"" \
	-A "AF_MODULE=\"$top/modules/antifraud/antifraud.so\"" \
	-A "AF_RULES=\"$top/etc/antifraud.yaml\"" \
	-A "AF_MPATH=\"$(dirname "$(dpkg -L kamailio | grep '/modules/tm.so$')")/\""
