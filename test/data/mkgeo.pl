#!/usr/bin/perl
#
# antifraud - builds a small GeoIP2-Country-like MaxMind DB for the tests.
#
#   mkgeo.pl [--asn] OUT.mmdb MAPFILE
#
# MAPFILE has one network a line: "CIDR COUNTRY CONTINENT ASN", e.g.
#   127.0.0.2/32  DE  EU  3320
# Blank lines and '#' comments are ignored; an ASN of 0 or "-" stores none.
# The database is an IPv6 tree with IPv4 aliased (so IPv4 addresses are
# found through IPv4-mapped, 6to4 and Teredo forms too). Each record has
# country{iso_code,names{en}}, continent{code}, registered_country{iso_code}
# and, when known, autonomous_system_number/organization, so that the same
# file serves as both the country and the ASN database.
#
# With --asn it writes a GeoLite2-ASN-like database instead: only
# autonomous_system_number/organization (COUNTRY and CONTINENT are read
# but not stored), for tests of a separate ASN database.
#
# Reserved networks (loopback, documentation ranges) are kept
# (remove_reserved_networks => 0): the tests map 127.0.0.x and ::1.
#
# Copyright (C) 2026 antifraud authors
# SPDX-License-Identifier: GPL-2.0-or-later

use strict;
use warnings;

use MaxMind::DB::Writer::Tree;

my %types = (
	country                        => 'map',
	registered_country             => 'map',
	continent                      => 'map',
	names                          => 'map',
	iso_code                       => 'utf8_string',
	code                           => 'utf8_string',
	en                             => 'utf8_string',
	autonomous_system_number       => 'uint32',
	autonomous_system_organization => 'utf8_string',
);

my $asn_only = 0;
if (@ARGV && $ARGV[0] eq '--asn') {
	$asn_only = 1;
	shift @ARGV;
}
die "usage: $0 [--asn] OUT.mmdb MAPFILE\n" unless @ARGV == 2;
my ($out, $map) = @ARGV;

my $tree = MaxMind::DB::Writer::Tree->new(
	ip_version               => 6,
	record_size              => 28,
	database_type            => $asn_only ? 'GeoLite2-ASN' : 'GeoIP2-Country',
	languages                => ['en'],
	description              => { en => 'antifraud test GeoIP database' },
	alias_ipv6_to_ipv4       => 1,
	remove_reserved_networks => 0,
	map_key_type_callback    => sub {
		my $t = $types{ $_[0] };
		die "mkgeo.pl: no type for key '$_[0]'\n" unless defined $t;
		return $t;
	},
);

open my $in, '<', $map or die "$map: $!\n";
my $n = 0;
while (my $line = <$in>) {
	$line =~ s/#.*//;
	next unless $line =~ /\S/;
	my ($cidr, $cc, $cont, $asn, @rest) = split ' ', $line;
	die "$map:$.: expected 'CIDR COUNTRY CONTINENT ASN'\n"
		if !defined $asn || @rest;
	die "$map:$.: bad country '$cc'\n" unless $cc =~ /^[A-Z]{2}$/;
	die "$map:$.: bad continent '$cont'\n" unless $cont =~ /^[A-Z]{2}$/;
	die "$map:$.: bad ASN '$asn'\n" unless $asn =~ /^(?:\d+|-)$/;
	$cidr .= ($cidr =~ /:/ ? '/128' : '/32') unless $cidr =~ m{/};

	my %rec;
	%rec = (
		country            => { iso_code => $cc, names => { en => $cc } },
		registered_country => { iso_code => $cc, names => { en => $cc } },
		continent          => { code => $cont, names => { en => $cont } },
	) unless $asn_only;
	if ($asn ne '-' && $asn > 0) {
		$rec{autonomous_system_number}       = $asn + 0;
		$rec{autonomous_system_organization} = "AS$asn test";
	}
	next unless %rec;
	$tree->insert_network($cidr, \%rec);
	$n++;
}
close $in;
die "$map: no networks\n" unless $n;

open my $fh, '>:raw', "$out.tmp" or die "$out.tmp: $!\n";
$tree->write_tree($fh);
close $fh or die "$out.tmp: $!\n";
rename "$out.tmp", $out or die "$out: $!\n";
