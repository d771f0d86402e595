#!/usr/bin/env bash
# antifraud - prepares the Kamailio source tree the module is compiled
# against: the Debian source package of the installed kamailio version,
# configured with the options Debian built it with, so that the module's
# version string and compile flags are those of the installed binary.
#
# usage: kamailio-src.sh DIR
#   DIR already holding a Kamailio tree (KAMAILIO_SRC=...): only configured.
#   Otherwise the source package is fetched into DIR (a deb-src entry is
#   derived from the machine's own apt sources when there is none).
# SPDX-License-Identifier: GPL-2.0-or-later
set -euo pipefail

dir=${1:?usage: kamailio-src.sh DIR}
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo

ver=$(dpkg-query -W -f='${Version}' kamailio 2>/dev/null || true)
[ -n "$ver" ] || { echo "kamailio-src: kamailio is not installed (make deps)" >&2; exit 1; }

have_src_entry() {
	grep -rqsE '^(deb-src |Types:.*deb-src)' /etc/apt/sources.list \
		/etc/apt/sources.list.d/
}

add_src_entry() {
	# a copy of every 'Types: deb' stanza (deb822) and 'deb ' line as deb-src
	local tmp
	tmp=$(mktemp)
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -e "$f" ] || continue
		awk 'BEGIN { RS = ""; ORS = "\n\n" }
			/(^|\n)Types:[ \t]*deb[ \t]*(\n|$)/ {
				sub(/Types:[^\n]*/, "Types: deb-src"); print }' "$f" >>"$tmp"
	done
	[ -s "$tmp" ] && $SUDO cp "$tmp" /etc/apt/sources.list.d/antifraud-deb-src.sources
	: >"$tmp"
	[ -f /etc/apt/sources.list ] && grep -E '^deb ' /etc/apt/sources.list \
		| sed 's/^deb /deb-src /' >"$tmp" || true
	[ -s "$tmp" ] && $SUDO cp "$tmp" /etc/apt/sources.list.d/antifraud-deb-src.list
	rm -f "$tmp"
	$SUDO apt-get update -q
}

if [ ! -f "$dir/src/Makefile.defs" ]; then
	mkdir -p "$dir.dl"
	cd "$dir.dl"
	if ! apt-get source --download-only -q "kamailio=$ver" >/dev/null 2>&1; then
		have_src_entry || add_src_entry
		apt-get source --download-only -q "kamailio=$ver"
	fi
	dsc=$(ls kamailio_*.dsc | head -n 1)
	rm -rf "$dir"
	dpkg-source --no-check -x "$dsc" "$dir" >/dev/null
	cd - >/dev/null
	rm -rf "$dir.dl"
fi

# Debian's debian/rules: make cfg with these options and dpkg-buildflags
cd "$dir"
make cfg quiet=silent prefix=/usr cfg_target=/etc/kamailio/ \
	FLAVOUR=kamailio \
	CC_EXTRA_OPTS="$(dpkg-buildflags --get CPPFLAGS) $(dpkg-buildflags --get CFLAGS) -DVERSION_NODATE" \
	LD_EXTRA_OPTS="$(dpkg-buildflags --get LDFLAGS)" \
	group_include="kstandard" >/dev/null
test -f src/config.mak
echo "kamailio-src: $dir configured for kamailio $ver"
