#!/usr/bin/env bash
# antifraud - prepares the OpenSIPS tree the OpenSIPS glue is compiled and
# tested against: the upstream release tarball (OpenSIPS is not packaged
# in Debian) unpacked into DIR, its core and the modules the sample
# configuration and the tests load built once. A stamp file per step keeps
# the result: a second run does nothing.
#
# usage: opensips-src.sh DIR TARBALL
#   DIR already holding an OpenSIPS tree (OPENSIPS_SRC=...): only built.
# SPDX-License-Identifier: GPL-2.0-or-later
set -euo pipefail

dir=${1:?usage: opensips-src.sh DIR TARBALL}
tarball=${2:?usage: opensips-src.sh DIR TARBALL}
jobs=${AF_JOBS:-2}

# the modules the sample configuration and the tests load
MODULES="sl tm dialog rr maxfwd sipmsgops signaling mi_fifo auth auth_db
	db_text registrar usrloc cfgutils event_routing"

if [ ! -f "$dir/Makefile.defs" ]; then
	[ -r "$tarball" ] || { echo "opensips-src: no $tarball" >&2; exit 1; }
	tmp=$(mktemp -d "$(dirname "$dir")/.opensips.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	tar -xJf "$tarball" -C "$tmp"
	top=$(ls "$tmp")
	[ "$(echo "$top" | wc -l)" -eq 1 ] && [ -f "$tmp/$top/Makefile.defs" ] \
		|| { echo "opensips-src: $tarball is not an OpenSIPS tree" >&2; exit 1; }
	rm -rf "$dir"
	mv "$tmp/$top" "$dir"
fi

cd "$dir"
if [ ! -f .af-core.stamp ] || [ ! -x opensips ]; then
	echo "opensips-src: building the OpenSIPS core in $dir"
	make -j"$jobs" app include_modules="" >build-core.log 2>&1 \
		|| { tail -n 30 build-core.log >&2; exit 1; }
	touch .af-core.stamp
fi
want=$(for m in $MODULES; do echo "modules/$m"; done | tr '\n' ' ')
if [ ! -f .af-modules.stamp ] || [ "$(cat .af-modules.stamp)" != "$want" ]; then
	echo "opensips-src: building the OpenSIPS modules $MODULES"
	make -j"$jobs" modules modules="$want" >build-modules.log 2>&1 \
		|| { tail -n 30 build-modules.log >&2; exit 1; }
	echo "$want" >.af-modules.stamp
fi
echo "opensips-src: $dir ready ($(./opensips -V | head -n 1))"
