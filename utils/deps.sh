#!/usr/bin/env bash
# antifraud - installs the Debian packages the build, `make run` and the
# tests need. Idempotent: installs only what is missing; uses sudo when not
# root.
# SPDX-License-Identifier: GPL-2.0-or-later
set -euo pipefail

PKGS=(
	# build
	gcc make pkg-config dpkg-dev binutils
	# OpenSIPS built from its release tarball (make opensips)
	bison flex xz-utils
	# fuzzing (make fuzz, and the harnesses in make test): clang, libFuzzer
	clang libclang-rt-14-dev
	libmaxminddb-dev libhiredis-dev libpcre2-dev libyaml-dev libcmocka-dev
	# run
	kamailio kamailio-lua-modules tzdata
	# make bench: the floor of one Redis round trip per call (ndb_redis)
	kamailio-redis-modules
	# tests and tools
	python3 python3-pytest python3-yaml python3-phonenumbers python3-regex redis-server redis-sentinel sip-tester sipvicious lua5.1
	mmdb-bin libmaxmind-db-writer-perl tshark valgrind lintian
	# af-cdr's HTML report (plots) and its test (headless rendering)
	python3-matplotlib chromium
)

missing=()
for p in "${PKGS[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null \
			| grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer no
echo "wireshark-common wireshark-common/install-setuid boolean false" \
	| $SUDO debconf-set-selections
$SUDO apt-get update -q
# the Debian package starts kamailio and redis-server where an init system
# runs: keep them stopped so the project's own instances get their ports
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
	$SUDO chmod 755 /usr/sbin/policy-rc.d
	trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
