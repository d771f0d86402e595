/*
 * antifraud unit tests - addresses, CIDR parsing, the prefix trie, list
 * files and the string set.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "af_ip.h"
#include "af_strset.h"
#include "af_arena.h"
#include "host.h"

/* parses s, which must be valid */
static af_ip_t ip_of(const char *s)
{
	af_ip_t ip;

	assert_int_equal(af_ip_parse(s, strlen(s), &ip), 0);
	return ip;
}

/* formats ip into a static buffer */
static const char *ip_str(const af_ip_t *ip)
{
	static char buf[AF_IP_STRLEN];

	assert_true(af_ip_format(ip, buf, sizeof(buf)) > 0);
	return buf;
}

static int parse_str(const char *s)
{
	af_ip_t ip;

	return af_ip_parse(s, strlen(s), &ip);
}

static int cidr_str(const char *s, af_ip_t *net, int *plen, const char **why)
{
	return af_cidr_parse(s, strlen(s), net, plen, why);
}

/* adds the CIDR text s with value v to t */
static void add_str(af_trie_t *t, const char *s, uint32_t v)
{
	af_ip_t net;
	int plen;
	const char *why = NULL;

	assert_int_equal(cidr_str(s, &net, &plen, &why), 0);
	assert_int_equal(af_trie_add(t, &net, plen, v), 0);
}

/* looks the address text s up in t */
static int lookup_str(const af_trie_t *t, const char *s, uint32_t *v)
{
	af_ip_t ip = ip_of(s);

	return af_trie_lookup(t, &ip, v);
}

static void test_parse_v4(void **state)
{
	af_ip_t ip;

	ip = ip_of("192.0.2.1");
	assert_int_equal(ip.family, 4);
	assert_int_equal(ip.addr[0], 192);
	assert_int_equal(ip.addr[3], 1);
	assert_string_equal(ip_str(&ip), "192.0.2.1");
	ip = ip_of("0.0.0.0");
	assert_string_equal(ip_str(&ip), "0.0.0.0");
	ip = ip_of("255.255.255.255");
	assert_string_equal(ip_str(&ip), "255.255.255.255");

	assert_int_equal(parse_str(""), -1);
	assert_int_equal(parse_str("1.2.3"), -1);
	assert_int_equal(parse_str("1.2.3.4.5"), -1);
	assert_int_equal(parse_str("256.1.1.1"), -1);
	assert_int_equal(parse_str("1.2.3.-4"), -1);
	assert_int_equal(parse_str(" 1.2.3.4"), -1);
	assert_int_equal(parse_str("1.2.3.4 "), -1);
	assert_int_equal(parse_str("1.2.3.4/32"), -1);
	assert_int_equal(parse_str("a.b.c.d"), -1);
	assert_int_equal(parse_str("example.com"), -1);
	assert_int_equal(parse_str(".1.2.3.4"), -1);
	assert_int_equal(parse_str("1und1.de"), -1);
	assert_int_equal(parse_str("[192.0.2.1]"), -1);
	assert_int_equal(af_ip_parse(NULL, 0, &ip), -1);
	assert_int_equal(ip.family, 0);
	/* a host name is refused before inet_pton: ip is cleared all the same */
	ip = ip_of("192.0.2.1");
	assert_int_equal(af_ip_parse("example.com", 11, &ip), -1);
	assert_int_equal(ip.family, 0);
}

static void test_parse_v6(void **state)
{
	af_ip_t ip;

	ip = ip_of("2001:db8::1");
	assert_int_equal(ip.family, 6);
	assert_int_equal(ip.addr[0], 0x20);
	assert_int_equal(ip.addr[15], 1);
	assert_string_equal(ip_str(&ip), "2001:db8::1");
	ip = ip_of("[2001:DB8:0:0:0:0:0:1]");
	assert_int_equal(ip.family, 6);
	assert_string_equal(ip_str(&ip), "2001:db8::1");
	ip = ip_of("::");
	assert_int_equal(ip.family, 6);
	assert_string_equal(ip_str(&ip), "::");
	ip = ip_of("::1");
	assert_string_equal(ip_str(&ip), "::1");
	ip = ip_of("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255");
	assert_int_equal(ip.family, 6);

	assert_int_equal(parse_str("[2001:db8::1"), -1);
	assert_int_equal(parse_str("2001:db8::1]"), -1);
	assert_int_equal(parse_str("[]"), -1);
	assert_int_equal(parse_str("["), -1);
	assert_int_equal(parse_str("[1.2.3.4]"), -1);
	assert_int_equal(parse_str("[[::1]]"), -1);
	assert_int_equal(parse_str("2001:db8:::1"), -1);
	assert_int_equal(parse_str("2001:db8::1::2"), -1);
	assert_int_equal(parse_str("1:2:3:4:5:6:7:8:9"), -1);
	assert_int_equal(parse_str("2001:db8::g"), -1);
	assert_int_equal(parse_str("fe80::1%eth0"), -1);
	assert_int_equal(parse_str(":"), -1);
}

static void test_parse_mapped(void **state)
{
	af_ip_t ip, v4;

	ip = ip_of("::ffff:192.0.2.7");
	assert_int_equal(ip.family, 4);
	assert_string_equal(ip_str(&ip), "192.0.2.7");
	v4 = ip_of("192.0.2.7");
	assert_true(af_ip_equal(&ip, &v4));
	ip = ip_of("[::FFFF:c000:0207]");
	assert_int_equal(ip.family, 4);
	assert_true(af_ip_equal(&ip, &v4));
	/* IPv4-compatible and other embeddings stay IPv6 */
	ip = ip_of("::192.0.2.7");
	assert_int_equal(ip.family, 6);
	ip = ip_of("::ffff:0:192.0.2.7");
	assert_int_equal(ip.family, 6);
	ip = ip_of("64:ff9b::192.0.2.7");
	assert_int_equal(ip.family, 6);
}

static void test_parse_unterminated(void **state)
{
	const char text[] = "10.20.30.40XYZ";
	const char v6[] = "[2001:db8::5]:5060";
	char long_text[128];
	char *exact;
	af_ip_t ip;

	assert_int_equal(af_ip_parse(text, 11, &ip), 0);
	assert_string_equal(ip_str(&ip), "10.20.30.40");
	assert_int_equal(af_ip_parse(text, 4, &ip), -1); /* "10.2" */
	assert_int_equal(af_ip_parse(text, 12, &ip), -1);
	assert_int_equal(af_ip_parse(v6, 13, &ip), 0);
	assert_string_equal(ip_str(&ip), "2001:db8::5");
	assert_int_equal(af_ip_parse(v6, 12, &ip), -1);
	/* exactly sized heap buffers: ASan catches any read past them */
	exact = malloc(7);
	assert_non_null(exact);
	memcpy(exact, "1.2.3.4", 7);
	assert_int_equal(af_ip_parse(exact, 7, &ip), 0);
	assert_string_equal(ip_str(&ip), "1.2.3.4");
	free(exact);
	exact = malloc(45);
	assert_non_null(exact);
	memcpy(exact, "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", 45);
	assert_int_equal(af_ip_parse(exact, 45, &ip), 0);
	assert_int_equal(ip.family, 6);
	free(exact);
	/* an embedded NUL ends nothing: it is invalid */
	assert_int_equal(af_ip_parse("1.2.3.4\0", 8, &ip), -1);
	assert_int_equal(af_ip_parse("1.2.3.4\0junk", 12, &ip), -1);
	/* too long for any address */
	memset(long_text, '1', sizeof(long_text));
	assert_int_equal(af_ip_parse(long_text, sizeof(long_text), &ip), -1);
	memcpy(long_text, "0000:0000:0000:0000:0000:0000:0000:0000:0", 41);
	assert_int_equal(af_ip_parse(long_text, 41, &ip), -1);
	assert_int_equal(af_ip_parse("", 0, &ip), -1);
}

static void test_format_equal(void **state)
{
	af_ip_t a, b, unset;
	char small[8], buf[AF_IP_STRLEN];

	memset(&unset, 0, sizeof(unset));
	assert_int_equal(af_ip_format(&unset, buf, sizeof(buf)), -1);
	a = ip_of("203.0.113.200");
	assert_int_equal(af_ip_format(&a, buf, sizeof(buf)), 13);
	assert_int_equal(af_ip_format(&a, small, sizeof(small)), -1);
	a = ip_of("2001:db8:1234:5678:9abc:def0:1234:5678");
	assert_int_equal(af_ip_format(&a, buf, sizeof(buf)), 38);
	assert_string_equal(buf, "2001:db8:1234:5678:9abc:def0:1234:5678");
	assert_int_equal(af_ip_format(&a, buf, 38), -1);

	a = ip_of("10.0.0.1");
	b = ip_of("10.0.0.1");
	b.addr[7] = 0x55; /* beyond an IPv4 address: ignored */
	assert_true(af_ip_equal(&a, &b));
	b = ip_of("10.0.0.2");
	assert_false(af_ip_equal(&a, &b));
	b = ip_of("::a00:1");
	assert_false(af_ip_equal(&a, &b));
	a = ip_of("2001:db8::1");
	b = ip_of("[2001:db8:0::1]");
	assert_true(af_ip_equal(&a, &b));
	b = ip_of("2001:db8::2");
	assert_false(af_ip_equal(&a, &b));
}

static void test_cidr(void **state)
{
	af_ip_t net;
	int plen;
	const char *why;

	assert_int_equal(cidr_str("10.1.2.3/8", &net, &plen, &why), 0);
	assert_int_equal(plen, 8);
	assert_string_equal(ip_str(&net), "10.0.0.0");
	assert_int_equal(cidr_str("192.168.255.255/17", &net, &plen, &why), 0);
	assert_string_equal(ip_str(&net), "192.168.128.0");
	assert_int_equal(cidr_str("1.2.3.4/0", &net, &plen, &why), 0);
	assert_int_equal(plen, 0);
	assert_string_equal(ip_str(&net), "0.0.0.0");
	assert_int_equal(cidr_str("1.2.3.4/32", &net, &plen, &why), 0);
	assert_string_equal(ip_str(&net), "1.2.3.4");
	assert_int_equal(cidr_str("1.2.3.4", &net, &plen, &why), 0);
	assert_int_equal(plen, 32);
	assert_int_equal(cidr_str("2001:db8:abcd:1234::1/36", &net, &plen, &why),
			0);
	assert_int_equal(plen, 36);
	assert_string_equal(ip_str(&net), "2001:db8:a000::");
	assert_int_equal(cidr_str("[2001:db8::ff]/127", &net, &plen, &why), 0);
	assert_string_equal(ip_str(&net), "2001:db8::fe");
	assert_int_equal(cidr_str("2001:db8::1", &net, &plen, &why), 0);
	assert_int_equal(plen, 128);
	assert_int_equal(cidr_str("ffff::/0", &net, &plen, &why), 0);
	assert_string_equal(ip_str(&net), "::");
	/* mapped: the prefix counts the 96 bits of ::ffff:0:0/96 */
	assert_int_equal(cidr_str("::ffff:10.1.2.3/104", &net, &plen, &why), 0);
	assert_int_equal(net.family, 4);
	assert_int_equal(plen, 8);
	assert_string_equal(ip_str(&net), "10.0.0.0");
	assert_int_equal(cidr_str("::ffff:10.1.2.3", &net, &plen, &why), 0);
	assert_int_equal(plen, 32);

	why = NULL;
	assert_int_equal(cidr_str("10.0.0.0/33", &net, &plen, &why), -1);
	assert_string_equal(why, "prefix length out of range (0..32)");
	assert_int_equal(cidr_str("2001:db8::/129", &net, &plen, &why), -1);
	assert_string_equal(why, "prefix length out of range (0..128)");
	assert_int_equal(cidr_str("10.0.0.0/", &net, &plen, &why), -1);
	assert_string_equal(why, "missing prefix length");
	assert_int_equal(cidr_str("10.0.0.0/-1", &net, &plen, &why), -1);
	assert_string_equal(why, "invalid prefix length");
	assert_int_equal(cidr_str("10.0.0.0/+8", &net, &plen, &why), -1);
	assert_string_equal(why, "invalid prefix length");
	assert_int_equal(cidr_str("10.0.0.0/8a", &net, &plen, &why), -1);
	assert_int_equal(cidr_str("10.0.0.0/8/8", &net, &plen, &why), -1);
	assert_int_equal(cidr_str("10.0.0.0/ 8", &net, &plen, &why), -1);
	assert_int_equal(
			cidr_str("10.0.0.0/99999999999999999999", &net, &plen, &why),
			-1);
	assert_string_equal(why, "invalid prefix length");
	assert_int_equal(cidr_str("::ffff:10.0.0.0/95", &net, &plen, &why), -1);
	assert_string_equal(why,
			"prefix length out of range (96..128 for IPv4-mapped)");
	assert_int_equal(cidr_str("10.0.0/8", &net, &plen, &why), -1);
	assert_string_equal(why, "invalid IP address");
	assert_int_equal(cidr_str("/8", &net, &plen, &why), -1);
	assert_string_equal(why, "invalid IP address");
	assert_int_equal(cidr_str("", &net, &plen, &why), -1);
	assert_int_equal(net.family, 0);
	/* why may be NULL */
	assert_int_equal(cidr_str("10.0.0.0/40", &net, &plen, NULL), -1);
	/* not NUL-terminated: only len bytes count */
	assert_int_equal(af_cidr_parse("10.9.8.7/16XX", 11, &net, &plen, &why), 0);
	assert_int_equal(plen, 16);
	assert_string_equal(ip_str(&net), "10.9.0.0");
	assert_int_equal(af_cidr_parse("10.9.8.7/16", 9, &net, &plen, &why), -1);
	assert_string_equal(why, "missing prefix length");
}

static void test_trie_nested_v4(void **state)
{
	long live = test_host_shm_live();
	af_arena_t *a = af_arena_new(0);
	af_trie_t *t = af_trie_new(a);
	uint32_t v = 0;

	assert_non_null(t);
	assert_int_equal(lookup_str(t, "10.1.2.3", &v), -1);
	/* added out of order, shortest last */
	add_str(t, "10.1.2.0/24", 3);
	add_str(t, "10.1.2.3/32", 4);
	add_str(t, "10.1.0.0/16", 2);
	add_str(t, "10.0.0.0/8", 1);
	add_str(t, "10.1.2.128/25", 5);
	assert_int_equal(af_trie_count(t), 5);
	assert_int_equal(lookup_str(t, "10.1.2.3", &v), 32);
	assert_int_equal(v, 4);
	assert_int_equal(lookup_str(t, "10.1.2.4", &v), 24);
	assert_int_equal(v, 3);
	assert_int_equal(lookup_str(t, "10.1.2.200", &v), 25);
	assert_int_equal(v, 5);
	assert_int_equal(lookup_str(t, "10.1.3.1", &v), 16);
	assert_int_equal(v, 2);
	assert_int_equal(lookup_str(t, "10.200.0.1", &v), 8);
	assert_int_equal(v, 1);
	v = 77;
	assert_int_equal(lookup_str(t, "11.1.2.3", &v), -1);
	assert_int_equal(v, 77);
	assert_int_equal(lookup_str(t, "9.255.255.255", NULL), -1);
	assert_int_equal(lookup_str(t, "10.1.2.3", NULL), 32);
	/* a mapped address is searched as IPv4 */
	assert_int_equal(lookup_str(t, "::ffff:10.1.2.3", &v), 32);
	/* an IPv6 address never matches IPv4 prefixes */
	assert_int_equal(lookup_str(t, "a01:203::", &v), -1);
	/* siblings that part deep */
	add_str(t, "10.1.2.2/32", 6);
	assert_int_equal(lookup_str(t, "10.1.2.2", &v), 32);
	assert_int_equal(v, 6);
	assert_int_equal(lookup_str(t, "10.1.2.3", &v), 32);
	assert_int_equal(v, 4);
	assert_int_equal(lookup_str(t, "10.1.2.1", &v), 24);
	af_arena_free(a);
	assert_int_equal(test_host_shm_live(), live);
}

static void test_trie_nested_v6(void **state)
{
	long live = test_host_shm_live();
	af_arena_t *a = af_arena_new(0);
	af_trie_t *t = af_trie_new(a);
	uint32_t v = 0;

	add_str(t, "2001:db8::/32", 1);
	add_str(t, "2001:db8:1::/48", 2);
	add_str(t, "2001:db8:1:2::/64", 3);
	add_str(t, "2001:db8:1:2::1/128", 4);
	add_str(t, "2001:db8:1:2:8000::/65", 5);
	add_str(t, "2001:db8:1:2::/127", 6);
	assert_int_equal(lookup_str(t, "2001:db8:1:2::1", &v), 128);
	assert_int_equal(v, 4);
	assert_int_equal(lookup_str(t, "2001:db8:1:2::", &v), 127);
	assert_int_equal(v, 6);
	assert_int_equal(lookup_str(t, "2001:db8:1:2::2", &v), 64);
	assert_int_equal(v, 3);
	assert_int_equal(lookup_str(t, "2001:db8:1:2:ffff::1", &v), 65);
	assert_int_equal(v, 5);
	assert_int_equal(lookup_str(t, "2001:db8:1:3::1", &v), 48);
	assert_int_equal(v, 2);
	assert_int_equal(lookup_str(t, "2001:db8:ffff::1", &v), 32);
	assert_int_equal(v, 1);
	assert_int_equal(lookup_str(t, "2001:db9::1", &v), -1);
	assert_int_equal(lookup_str(t, "10.0.0.1", &v), -1);
	/* two /128 that differ in the last bit */
	add_str(t, "::", 7);
	add_str(t, "::1", 8);
	assert_int_equal(lookup_str(t, "::", &v), 128);
	assert_int_equal(v, 7);
	assert_int_equal(lookup_str(t, "::1", &v), 128);
	assert_int_equal(v, 8);
	assert_int_equal(lookup_str(t, "::2", &v), -1);
	af_arena_free(a);
	assert_int_equal(test_host_shm_live(), live);
}

static void test_trie_default_route(void **state)
{
	long live = test_host_shm_live();
	af_arena_t *a = af_arena_new(0);
	af_trie_t *t = af_trie_new(a);
	uint32_t v = 0;

	add_str(t, "192.0.2.0/24", 1);
	add_str(t, "0.0.0.0/0", 9);
	assert_int_equal(lookup_str(t, "192.0.2.1", &v), 24);
	assert_int_equal(v, 1);
	assert_int_equal(lookup_str(t, "8.8.8.8", &v), 0);
	assert_int_equal(v, 9);
	assert_int_equal(lookup_str(t, "255.255.255.255", &v), 0);
	/* the IPv4 default route is no IPv6 one */
	assert_int_equal(lookup_str(t, "2001:db8::1", &v), -1);
	add_str(t, "::/0", 10);
	assert_int_equal(lookup_str(t, "2001:db8::1", &v), 0);
	assert_int_equal(v, 10);
	assert_int_equal(lookup_str(t, "8.8.8.8", &v), 0);
	assert_int_equal(v, 9);
	assert_int_equal(af_trie_count(t), 3);
	af_arena_free(a);
	assert_int_equal(test_host_shm_live(), live);
}

static void test_trie_replace_and_errors(void **state)
{
	long live = test_host_shm_live();
	af_arena_t *a = af_arena_new(0);
	af_trie_t *t = af_trie_new(a);
	af_ip_t ip, unset;
	uint32_t v = 0;

	add_str(t, "10.0.0.0/8", 1);
	add_str(t, "10.0.0.0/16", 2);
	add_str(t, "10.0.0.0/8", 3);
	add_str(t, "10.255.1.2/8", 4); /* same prefix once the host bits go */
	assert_int_equal(af_trie_count(t), 2);
	assert_int_equal(lookup_str(t, "10.1.0.0", &v), 8);
	assert_int_equal(v, 4);
	/* a valueless fork that gets a value */
	add_str(t, "10.0.0.0/24", 5);
	add_str(t, "10.0.1.0/24", 6);
	assert_int_equal(af_trie_count(t), 4);
	add_str(t, "10.0.0.0/23", 7);
	assert_int_equal(af_trie_count(t), 5);
	assert_int_equal(lookup_str(t, "10.0.1.1", &v), 24);
	assert_int_equal(v, 6);
	assert_int_equal(lookup_str(t, "10.0.1.1", &v), 24);
	add_str(t, "10.0.1.0/24", 8);
	assert_int_equal(lookup_str(t, "10.0.1.1", &v), 24);
	assert_int_equal(v, 8);
	assert_int_equal(af_trie_count(t), 5);

	ip = ip_of("10.0.0.0");
	assert_int_equal(af_trie_add(t, &ip, 33, 1), -1);
	assert_int_equal(af_trie_add(t, &ip, -1, 1), -1);
	ip = ip_of("2001:db8::");
	assert_int_equal(af_trie_add(t, &ip, 129, 1), -1);
	memset(&unset, 0, sizeof(unset));
	assert_int_equal(af_trie_add(t, &unset, 0, 1), -1);
	assert_int_equal(af_trie_lookup(t, &unset, &v), -1);
	assert_int_equal(af_trie_lookup(NULL, &ip, &v), -1);
	assert_int_equal(af_trie_count(NULL), 0);
	assert_int_equal(af_trie_count(t), 5);
	af_arena_free(a);
	assert_int_equal(test_host_shm_live(), live);
}

/* a prefix of the brute-force reference, as two left-aligned words */
typedef struct ref_prefix {
	uint64_t hi, lo;
	int plen;
	uint32_t value;
} ref_prefix_t;

static uint64_t mask64(int n)
{
	return n <= 0 ? 0 : n >= 64 ? ~(uint64_t)0 : ~(uint64_t)0 << (64 - n);
}

static void ref_words(const af_ip_t *ip, uint64_t *hi, uint64_t *lo)
{
	int i, n = ip->family == 4 ? 4 : 16;

	*hi = *lo = 0;
	for(i = 0; i < n; i++) {
		if(i < 8)
			*hi |= (uint64_t)ip->addr[i] << (56 - 8 * i);
		else
			*lo |= (uint64_t)ip->addr[i] << (56 - 8 * (i - 8));
	}
}

/* the longest match by scanning every prefix; the last added wins ties */
static int ref_lookup(const ref_prefix_t *p, size_t n, const af_ip_t *ip,
		uint32_t *value)
{
	uint64_t hi, lo;
	size_t i;
	int best = -1;

	ref_words(ip, &hi, &lo);
	for(i = 0; i < n; i++) {
		if(p[i].plen < best)
			continue;
		if(((hi ^ p[i].hi) & mask64(p[i].plen)) != 0
				|| ((lo ^ p[i].lo) & mask64(p[i].plen - 64)) != 0)
			continue;
		best = p[i].plen;
		*value = p[i].value;
	}
	return best;
}

static int ref_cmp(const void *x, const void *y)
{
	const ref_prefix_t *a = x, *b = y;

	if(a->hi != b->hi)
		return a->hi < b->hi ? -1 : 1;
	if(a->lo != b->lo)
		return a->lo < b->lo ? -1 : 1;
	return a->plen - b->plen;
}

/* number of distinct prefixes in p (sorts a copy) */
static size_t ref_distinct(const ref_prefix_t *p, size_t n)
{
	ref_prefix_t *c = malloc(n * sizeof(*c));
	size_t i, d = 0;

	assert_non_null(c);
	memcpy(c, p, n * sizeof(*c));
	qsort(c, n, sizeof(*c), ref_cmp);
	for(i = 0; i < n; i++)
		if(i == 0 || ref_cmp(&c[i - 1], &c[i]) != 0)
			d++;
	free(c);
	return d;
}

/* a random prefix length for family fam, mostly long, sometimes short */
static int random_plen(int fam)
{
	int max = fam == 4 ? 32 : 128;
	uint64_t r = test_rnd() % 100;

	if(r < 2)
		return (int)(test_rnd() % 9); /* 0..8 */
	if(r < 40)
		return max;
	return (int)(test_rnd() % (uint64_t)(max + 1));
}

/* a random address; clustered ones fall in 10.0.0.0/8 or 2001:db8::/32 */
static void random_ip(af_ip_t *ip, int fam, int clustered)
{
	uint64_t r1 = test_rnd(), r2 = test_rnd();

	memset(ip, 0, sizeof(*ip));
	ip->family = (uint8_t)fam;
	memcpy(ip->addr, &r1, 8);
	memcpy(ip->addr + 8, &r2, 8);
	if(fam == 4)
		memset(ip->addr + 4, 0, 12);
	if(!clustered)
		return;
	if(fam == 4) {
		ip->addr[0] = 10;
	} else {
		ip->addr[0] = 0x20;
		ip->addr[1] = 0x01;
		ip->addr[2] = 0x0d;
		ip->addr[3] = 0xb8;
	}
}

/* replaces the first p->plen bits of ip by p's */
static void ref_overlay(af_ip_t *ip, const ref_prefix_t *p)
{
	uint64_t w;
	uint8_t m;
	int k, left;

	for(k = 0; k < (ip->family == 4 ? 4 : 16); k++) {
		w = k < 8 ? p->hi : p->lo;
		left = p->plen - k * 8;
		if(left <= 0)
			break;
		m = left >= 8 ? 0xff : (uint8_t)(0xff00 >> left);
		ip->addr[k] = (uint8_t)((ip->addr[k] & ~m)
								| ((uint8_t)(w >> (56 - (k % 8) * 8)) & m));
	}
}

/* the address of a reference prefix */
static void ref_ip(const ref_prefix_t *p, int fam, af_ip_t *ip)
{
	int k;

	memset(ip, 0, sizeof(*ip));
	ip->family = (uint8_t)fam;
	for(k = 0; k < 8; k++) {
		ip->addr[k] = (uint8_t)(p->hi >> (56 - 8 * k));
		if(fam == 6)
			ip->addr[8 + k] = (uint8_t)(p->lo >> (56 - 8 * k));
	}
}

static int ref_cmp_longest(const void *x, const void *y)
{
	return ((const ref_prefix_t *)y)->plen - ((const ref_prefix_t *)x)->plen;
}

static int ref_cmp_shortest(const void *x, const void *y)
{
	return ((const ref_prefix_t *)x)->plen - ((const ref_prefix_t *)y)->plen;
}

/*
 * Adds n random prefixes of family fam (half spread over the whole space,
 * half clustered, some repeated with a new value) in random order (order
 * 0), longest first (1) or shortest first (2), and checks lookups against
 * the reference.
 */
static void check_random(int fam, size_t n, size_t queries, int order)
{
	long live = test_host_shm_live();
	af_arena_t *a = af_arena_new(0);
	af_trie_t *t = af_trie_new(a);
	ref_prefix_t *ref = malloc(n * sizeof(*ref));
	af_ip_t ip;
	uint32_t v1, v2;
	size_t i;
	int l1, l2, plen, hits = 0;

	assert_non_null(ref);
	for(i = 0; i < n; i++) {
		if(i > 0 && test_rnd() % 20 == 0) {
			ref[i] = ref[test_rnd() % i];
			continue;
		}
		random_ip(&ip, fam, (test_rnd() & 1) != 0);
		plen = random_plen(fam);
		if(test_rnd() % 4 == 0 && (fam == 4 ? plen < 8 : plen < 32))
			plen = fam == 4 ? 8 : 32;
		ref_words(&ip, &ref[i].hi, &ref[i].lo);
		ref[i].hi &= mask64(plen);
		ref[i].lo &= mask64(plen - 64);
		ref[i].plen = plen;
	}
	if(order == 1)
		qsort(ref, n, sizeof(*ref), ref_cmp_longest);
	else if(order == 2)
		qsort(ref, n, sizeof(*ref), ref_cmp_shortest);
	for(i = 0; i < n; i++) {
		ref[i].value = (uint32_t)i;
		ref_ip(&ref[i], fam, &ip);
		assert_int_equal(af_trie_add(t, &ip, ref[i].plen, ref[i].value), 0);
	}
	assert_int_equal(af_trie_count(t), ref_distinct(ref, n));
	for(i = 0; i < queries; i++) {
		random_ip(&ip, fam, (test_rnd() & 1) != 0);
		/* every other one inside a stored prefix, random below it */
		if(i % 2)
			ref_overlay(&ip, &ref[test_rnd() % n]);
		v1 = v2 = 0;
		l1 = af_trie_lookup(t, &ip, &v1);
		l2 = ref_lookup(ref, n, &ip, &v2);
		if(l1 != l2 || v1 != v2)
			fail_msg("%s: trie %d/%u, reference %d/%u", ip_str(&ip), l1,
					(unsigned)v1, l2, (unsigned)v2);
		hits += l2 > 0;
	}
	assert_true(hits > (int)queries / 2);
	free(ref);
	af_arena_free(a);
	assert_int_equal(test_host_shm_live(), live);
}

static void test_trie_random_v4(void **state)
{
	check_random(4, 100000, 3000, 0);
}

static void test_trie_random_v6(void **state)
{
	check_random(6, 100000, 2000, 0);
}

static void test_trie_random_orders(void **state)
{
	check_random(4, 20000, 1000, 1);
	check_random(4, 20000, 1000, 2);
	check_random(6, 20000, 1000, 1);
	check_random(6, 20000, 1000, 2);
}

/* a few prefixes added after many: exercises refills of crowded blocks */
static void test_trie_late_short_prefixes(void **state)
{
	long live = test_host_shm_live();
	af_arena_t *a = af_arena_new(0);
	af_trie_t *t = af_trie_new(a);
	char buf[64];
	uint32_t v = 0;
	int i;

	for(i = 0; i < 5000; i++) {
		snprintf(buf, sizeof(buf), "10.%d.%d.%d/32", i % 3, (i / 3) % 256,
				i % 251);
		add_str(t, buf, 1);
	}
	assert_int_equal(lookup_str(t, "10.0.200.7", &v), -1);
	add_str(t, "10.0.128.0/17", 2);
	assert_int_equal(lookup_str(t, "10.0.200.7", &v), 17);
	assert_int_equal(v, 2);
	add_str(t, "10.0.0.0/15", 3);
	assert_int_equal(lookup_str(t, "10.1.5.7", &v), 15);
	assert_int_equal(v, 3);
	add_str(t, "10.0.128.0/17", 4);
	assert_int_equal(lookup_str(t, "10.0.200.7", &v), 17);
	assert_int_equal(v, 4);
	add_str(t, "0.0.0.0/0", 5);
	assert_int_equal(lookup_str(t, "10.2.5.7", &v), 0);
	assert_int_equal(v, 5);
	add_str(t, "0.0.0.0/0", 6);
	assert_int_equal(lookup_str(t, "10.2.5.7", &v), 0);
	assert_int_equal(v, 6);
	add_str(t, "10.0.0.0/8", 7);
	assert_int_equal(lookup_str(t, "10.2.5.7", &v), 8);
	assert_int_equal(v, 7);
	assert_int_equal(lookup_str(t, "10.0.0.0", &v), 32);
	assert_int_equal(v, 1);
	af_arena_free(a);
	assert_int_equal(test_host_shm_live(), live);
}

static void test_load_file(void **state)
{
	long live = test_host_shm_live();
	af_arena_t *a = af_arena_new(0);
	af_trie_t *t = af_trie_new(a);
	const char *path;
	char err[256];
	uint32_t v = 0;

	path = test_write_file("list.txt",
			"# a feed with comments\r\n"
			"\r\n"
			"192.0.2.0/24\r\n"
			"  198.51.100.7   ; inline comment\n"
			"203.0.113.0/25\tSpamhaus\t2024-01-01\n"
			"\t \n"
			"; whole line comment\n"
			"2001:db8::/32 # v6 too\n"
			"10.0.0.0/8#no blank before the comment\n"
			"172.16.0.0/12;same\n"
			"192.0.2.0/24 duplicate\n"
			"::ffff:100.64.0.0/106\n"
			"[2001:db8:ffff::1]\n"
			"198.18.0.0/15"); /* no newline at the end */
	assert_non_null(path);
	assert_int_equal(af_trie_load_file(t, path, 42, err, sizeof(err)), 9);
	assert_int_equal(af_trie_count(t), 9);
	assert_int_equal(lookup_str(t, "192.0.2.9", &v), 24);
	assert_int_equal(v, 42);
	assert_int_equal(lookup_str(t, "198.51.100.7", &v), 32);
	assert_int_equal(lookup_str(t, "198.51.100.8", &v), -1);
	assert_int_equal(lookup_str(t, "203.0.113.127", &v), 25);
	assert_int_equal(lookup_str(t, "203.0.113.128", &v), -1);
	assert_int_equal(lookup_str(t, "2001:db8::1", &v), 32);
	assert_int_equal(lookup_str(t, "2001:db8:ffff::1", &v), 128);
	assert_int_equal(lookup_str(t, "10.9.9.9", &v), 8);
	assert_int_equal(lookup_str(t, "172.31.0.1", &v), 12);
	assert_int_equal(lookup_str(t, "100.127.0.1", &v), 10);
	assert_int_equal(lookup_str(t, "198.19.0.1", &v), 15);
	/* a second file into the same trie: only new prefixes count */
	path = test_write_file("more.txt", "10.0.0.0/8\n11.0.0.0/8\n");
	assert_int_equal(af_trie_load_file(t, path, 43, err, sizeof(err)), 1);
	assert_int_equal(lookup_str(t, "10.9.9.9", &v), 8);
	assert_int_equal(v, 43);
	/* an empty file */
	path = test_write_file("empty.txt", "");
	assert_int_equal(af_trie_load_file(t, path, 1, err, sizeof(err)), 0);
	path = test_write_file("comments.txt", "# nothing\n\n;\n");
	assert_int_equal(af_trie_load_file(t, path, 1, err, sizeof(err)), 0);
	af_arena_free(a);
	assert_int_equal(test_host_shm_live(), live);
}

/* loads text as a file into a new trie; returns the result, err filled */
static int load_text(const char *name, const char *text, char *err,
		size_t errlen, char *path_out)
{
	long live = test_host_shm_live();
	af_arena_t *a = af_arena_new(0);
	af_trie_t *t = af_trie_new(a);
	const char *path;
	int r;

	path = test_write_file(name, text);
	assert_non_null(path);
	strcpy(path_out, path);
	r = af_trie_load_file(t, path, 1, err, errlen);
	af_arena_free(a);
	assert_int_equal(test_host_shm_live(), live);
	return r;
}

static void test_load_file_errors(void **state)
{
	char err[256], path[512], want[600], small[16];
	af_arena_t *a;
	af_trie_t *t;

	assert_int_equal(load_text("bad1.txt",
							 "# header\n10.0.0.0/8\nfoo bar\n1.2.3.4\n", err,
							 sizeof(err), path),
			-1);
	snprintf(want, sizeof(want), "%s:3: invalid IP address: 'foo'", path);
	assert_string_equal(err, want);

	assert_int_equal(load_text("bad2.txt", "\r\n\r\n1.2.3.0/33\r\n", err,
							 sizeof(err), path),
			-1);
	snprintf(want, sizeof(want),
			"%s:3: prefix length out of range (0..32): '1.2.3.0/33'", path);
	assert_string_equal(err, want);

	assert_int_equal(load_text("bad3.txt", "2001:db8::/129 # too long\n", err,
							 sizeof(err), path),
			-1);
	snprintf(want, sizeof(want),
			"%s:1: prefix length out of range (0..128): '2001:db8::/129'",
			path);
	assert_string_equal(err, want);

	assert_int_equal(load_text("bad4.txt", "1.2.3.4\n10.0.0.0/\n", err,
							 sizeof(err), path),
			-1);
	snprintf(want, sizeof(want), "%s:2: missing prefix length: '10.0.0.0/'",
			path);
	assert_string_equal(err, want);

	/* a NUL inside a line is an error, not the end of the field */
	assert_int_equal(load_text("bad5.txt", "1.2.3.4\n", err, sizeof(err),
							 path),
			1);
	{
		FILE *f = fopen(path, "wb");

		assert_non_null(f);
		fwrite("1.2.3.4\n5.6.7.8\0x\n", 1, 18, f);
		fclose(f);
		a = af_arena_new(0);
		t = af_trie_new(a);
		assert_int_equal(af_trie_load_file(t, path, 1, err, sizeof(err)), -1);
		snprintf(want, sizeof(want), "%s:2: invalid IP address: '5.6.7.8",
				path);
		assert_memory_equal(err, want, strlen(want));
		af_arena_free(a);
	}

	/* a very long field is cut in the message */
	{
		char text[400];

		memset(text, 'x', 300);
		strcpy(text + 300, "\n");
		assert_int_equal(load_text("bad6.txt", text, err, sizeof(err), path),
				-1);
		assert_true(strlen(err) < strlen(path) + 120);
	}

	a = af_arena_new(0);
	t = af_trie_new(a);
	assert_int_equal(af_trie_load_file(t, "/nonexistent/list.txt", 1, err,
							 sizeof(err)),
			-1);
	assert_string_equal(err,
			"ip list '/nonexistent/list.txt': No such file or directory");
	/* a small error buffer is cut, still terminated */
	assert_int_equal(af_trie_load_file(t, "/nonexistent/list.txt", 1, small,
							 sizeof(small)),
			-1);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_int_equal(
			af_trie_load_file(t, "/nonexistent/list.txt", 1, NULL, 0), -1);
	af_arena_free(a);
}

static void test_strset(void **state)
{
	long live = test_host_shm_live();
	af_arena_t *a = af_arena_new(0);
	af_strset_t *set = af_strset_new(a, 4);
	const char buf[] = "example.comXYZ";
	char s[32];
	int i;

	assert_non_null(set);
	assert_int_equal(af_strset_count(set), 0);
	assert_int_equal(af_strset_has(set, "a", 1), 0);
	assert_int_equal(af_strset_add(set, buf, 11), 1);
	assert_int_equal(af_strset_add(set, "example.com", 11), 0);
	assert_int_equal(af_strset_has(set, "example.com", 11), 1);
	assert_int_equal(af_strset_has(set, "example.co", 10), 0);
	assert_int_equal(af_strset_has(set, "example.comX", 12), 0);
	assert_int_equal(af_strset_has(set, "EXAMPLE.COM", 11), 0);
	assert_int_equal(af_strset_count(set), 1);
	/* the empty string and binary strings are members like any other */
	assert_int_equal(af_strset_has(set, "", 0), 0);
	assert_int_equal(af_strset_add(set, "", 0), 1);
	assert_int_equal(af_strset_has(set, "", 0), 1);
	assert_int_equal(af_strset_add(set, "a\0b", 3), 1);
	assert_int_equal(af_strset_has(set, "a\0b", 3), 1);
	assert_int_equal(af_strset_has(set, "a\0c", 3), 0);
	assert_int_equal(af_strset_has(set, "a", 1), 0);
	assert_int_equal(af_strset_count(set), 3);
	/* grows far past the hint */
	for(i = 0; i < 20000; i++) {
		snprintf(s, sizeof(s), "user%d", i);
		assert_int_equal(af_strset_add(set, s, strlen(s)), 1);
	}
	for(i = 0; i < 20000; i += 7) {
		snprintf(s, sizeof(s), "user%d", i);
		assert_int_equal(af_strset_add(set, s, strlen(s)), 0);
	}
	assert_int_equal(af_strset_count(set), 20003);
	for(i = 0; i < 20000; i++) {
		snprintf(s, sizeof(s), "user%d", i);
		assert_int_equal(af_strset_has(set, s, strlen(s)), 1);
		snprintf(s, sizeof(s), "user%d", i + 20000);
		assert_int_equal(af_strset_has(set, s, strlen(s)), 0);
	}
	assert_int_equal(af_strset_has(set, "example.com", 11), 1);
	assert_int_equal(af_strset_has(set, "", 0), 1);
	assert_int_equal(af_strset_has(NULL, "x", 1), 0);
	assert_int_equal(af_strset_count(NULL), 0);
	/* a zero hint works too */
	set = af_strset_new(a, 0);
	assert_non_null(set);
	assert_int_equal(af_strset_add(set, "x", 1), 1);
	assert_int_equal(af_strset_has(set, "x", 1), 1);
	af_arena_free(a);
	assert_int_equal(test_host_shm_live(), live);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
			cmocka_unit_test(test_parse_v4),
			cmocka_unit_test(test_parse_v6),
			cmocka_unit_test(test_parse_mapped),
			cmocka_unit_test(test_parse_unterminated),
			cmocka_unit_test(test_format_equal),
			cmocka_unit_test(test_cidr),
			cmocka_unit_test(test_trie_nested_v4),
			cmocka_unit_test(test_trie_nested_v6),
			cmocka_unit_test(test_trie_default_route),
			cmocka_unit_test(test_trie_replace_and_errors),
			cmocka_unit_test(test_trie_random_v4),
			cmocka_unit_test(test_trie_random_v6),
			cmocka_unit_test(test_trie_random_orders),
			cmocka_unit_test(test_trie_late_short_prefixes),
			cmocka_unit_test(test_load_file),
			cmocka_unit_test(test_load_file_errors),
			cmocka_unit_test(test_strset),
	};

	test_host_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
