# antifraud - top-level build.
#   make            build modules/antifraud/antifraud.so
#   make run        start Kamailio with the module on 127.0.0.1:5060
#   make test       unit tests (ASan/UBSan) + integration tests
#   make opensips   build/opensips-module/antifraud.so for OpenSIPS 3.6
#                   (OPENSIPS_SRC; by default the release tarball unpacked
#                   and built once in build/)
#   make bench      core ns/check and Kamailio CPU per call
#   make deb        Debian package for the installed kamailio (build/*.deb)
#   make bench-cdr  af-cdr: CDRs per second and memory for a month
#   make fuzz       each libFuzzer harness FUZZ_TIME seconds (default 60)
#   make test-valgrind  integration scenarios with kamailio under memcheck
#   make soak       20 min of mixed legitimate and hostile traffic
#                   (SOAK_MINUTES=n), report in build/soak-report.txt
#   make hostile    100,000 mutated requests, 10,000 mutated rule files,
#                   1,000 reloads under traffic; report in build/hostile-report.txt
# SPDX-License-Identifier: GPL-2.0-or-later

SHELL := /bin/bash
TOP := $(CURDIR)
BUILD := $(TOP)/build
MOD := $(TOP)/modules/antifraud
# the core: checks, rules, stores; no SIP-server header
CORE := $(MOD)/core
# Kamailio source tree of the installed version (prepared by utils/kamailio-src.sh)
KAMAILIO_SRC ?= $(BUILD)/kamailio-src
PYTHON ?= /usr/bin/python3
# OpenSIPS: the release tree (not packaged in Debian), unpacked from
# OPENSIPS_TARBALL and built once (utils/opensips-src.sh)
OPENSIPS_VERSION := 3.6.8
OPENSIPS_TARBALL ?= $(firstword $(wildcard \
	$(TOP)/../shared/opensips/opensips-$(OPENSIPS_VERSION).tar.xz \
	$(TOP)/../../shared/opensips/opensips-$(OPENSIPS_VERSION).tar.xz) \
	$(TOP)/../shared/opensips/opensips-$(OPENSIPS_VERSION).tar.xz)
OPENSIPS_SRC ?= $(BUILD)/opensips-$(OPENSIPS_VERSION)
OS_MOD := $(BUILD)/opensips-module/antifraud.so
# release of the module and tools (the Debian package's upstream version)
AF_VERSION := 0.1.0

CORE_SRC := $(wildcard $(CORE)/af_*.c)
CORE_HDR := $(wildcard $(CORE)/af_*.h) $(wildcard $(CORE)/af_*.def)
GLUE_SRC := $(wildcard $(MOD)/kamailio/*.c) $(wildcard $(MOD)/kamailio/*.h)
OS_GLUE_SRC := $(wildcard $(MOD)/opensips/*.c) $(wildcard $(MOD)/opensips/*.h) \
	$(MOD)/opensips/Makefile
# the Redis store's Lua scripts, embedded as C strings at build time
LUA_SRC := $(wildcard $(CORE)/lua/*.lua)
GEN := $(BUILD)/gen
GEN_HDR := $(GEN)/af_store_redis_lua.h
CORE_LIBS := -lmaxminddb -lhiredis -lpcre2-8 -lyaml -lpthread -lm

WARN := -Wall -Wextra -Wno-unused-parameter -Wshadow -Wstrict-prototypes
CORE_CFLAGS := -std=gnu11 -O2 -g $(WARN) -fPIC -fvisibility=hidden \
	-fstack-protector-strong -D_FORTIFY_SOURCE=2 -D_GNU_SOURCE
SAN_CFLAGS := -std=gnu11 -O1 -g $(WARN) -fsanitize=address,undefined \
	-fno-omit-frame-pointer -fno-sanitize-recover=undefined -D_GNU_SOURCE \
	-DAF_UNIT_TEST

PIC_OBJ := $(patsubst $(CORE)/%.c,$(BUILD)/pic/%.o,$(CORE_SRC))
SAN_OBJ := $(patsubst $(CORE)/%.c,$(BUILD)/san/%.o,$(CORE_SRC))
UNIT_SRC := $(wildcard test/unit/test_*.c)
UNIT_BIN := $(patsubst test/unit/%.c,$(BUILD)/san/%,$(UNIT_SRC))
UNIT_HOST := test/unit/host.c

.PHONY: all deps module run test unit integration bench bench-cdr clean \
	distclean kamailio-src opensips opensips-src deb soak hostile \
	test-valgrind

all: module $(BUILD)/af-fingerprint $(BUILD)/af-rules-check $(BUILD)/af-cdr

deps:
	@utils/deps.sh

$(KAMAILIO_SRC)/src/config.mak:
	@utils/kamailio-src.sh "$(KAMAILIO_SRC)"

kamailio-src: $(KAMAILIO_SRC)/src/config.mak

# core: position-independent static library linked into the module
$(GEN_HDR): $(LUA_SRC) utils/lua2c.sh
	@mkdir -p $(@D)
	utils/lua2c.sh $@ af_rds_lua_exec=$(CORE)/lua/af_store_redis_exec.lua

$(BUILD)/pic/%.o: $(CORE)/%.c $(CORE_HDR) $(GEN_HDR)
	@mkdir -p $(@D)
	$(CC) $(CORE_CFLAGS) -I$(GEN) -c $< -o $@

$(BUILD)/libafcore.a: $(PIC_OBJ)
	@rm -f $@
	ar rcs $@ $^

# the module, with Kamailio's own build system so that version and
# compile flags match the installed binary
module: $(MOD)/antifraud.so

$(MOD)/antifraud.so: $(BUILD)/libafcore.a $(GLUE_SRC) \
		$(KAMAILIO_SRC)/src/config.mak
	@rm -f $(MOD)/kamailio/antifraud.so # relink: the core is not its dependency
	$(MAKE) -C $(MOD)/kamailio COREPATH=$(KAMAILIO_SRC)/src \
		AF_CORE_LIB=$(BUILD)/libafcore.a quiet=silent
	@undef=$$(nm -u $(MOD)/kamailio/antifraud.so | grep -E ' (af|AF)_' || true); \
	if [ -n "$$undef" ]; then echo "antifraud.so: undefined core symbols: $$undef"; exit 1; fi
	cp $(MOD)/kamailio/antifraud.so $@.tmp && mv $@.tmp $@

# OpenSIPS: its core and the modules the sample and the tests load, built
# once (stamp files in the tree); then the glue with the tree's own
# definitions, so that `opensips -V` flags and the module's match
$(OPENSIPS_SRC)/.af-modules.stamp: utils/opensips-src.sh
	@utils/opensips-src.sh "$(OPENSIPS_SRC)" "$(OPENSIPS_TARBALL)"

opensips-src: $(OPENSIPS_SRC)/.af-modules.stamp

opensips: $(OS_MOD)

$(OS_MOD): $(BUILD)/libafcore.a $(OS_GLUE_SRC) $(OPENSIPS_SRC)/.af-modules.stamp
	@rm -f $(MOD)/opensips/antifraud.so # relink: the core is not its dependency
	$(MAKE) -C $(MOD)/opensips OPENSIPS_SRC=$(OPENSIPS_SRC) \
		AF_CORE_LIB=$(BUILD)/libafcore.a Q=@ FASTER=1
	@undef=$$(nm -u $(MOD)/opensips/antifraud.so | grep -E ' (af|AF)_' || true); \
	if [ -n "$$undef" ]; then echo "antifraud.so: undefined core symbols: $$undef"; exit 1; fi
	@mkdir -p $(@D)
	cp $(MOD)/opensips/antifraud.so $@.tmp && mv $@.tmp $@

# operator tool: fingerprints and signature checks of captured requests
$(BUILD)/af-fingerprint: utils/af_fingerprint.c $(BUILD)/libafcore.a
	$(CC) -std=gnu11 -O2 -g $(WARN) -D_GNU_SOURCE -I$(CORE) $< \
		$(BUILD)/libafcore.a -o $@ $(CORE_LIBS)

# operator tool: validates a rule file with the module's loader
$(BUILD)/af-rules-check: utils/af_rules_check.c $(BUILD)/libafcore.a
	$(CC) -std=gnu11 -O2 -g $(WARN) -D_GNU_SOURCE -I$(CORE) $< \
		$(BUILD)/libafcore.a -o $@ $(CORE_LIBS)

# operator tool: past CDRs replayed through the core (af_check_dest and
# the call outcomes), with a summary, suggestions and an HTML report
CDR_SRC := utils/af_cdr.c utils/af_cdr_read.c
$(BUILD)/af-cdr: $(CDR_SRC) utils/af_cdr.h $(BUILD)/libafcore.a
	$(CC) -std=gnu11 -O2 -g $(WARN) -D_GNU_SOURCE -I$(CORE) -Iutils \
		$(CDR_SRC) $(BUILD)/libafcore.a -o $@ $(CORE_LIBS)

# unit tests: the core under ASan/UBSan with a malloc + pthread host
$(BUILD)/san/%.o: $(CORE)/%.c $(CORE_HDR) $(GEN_HDR)
	@mkdir -p $(@D)
	$(CC) $(SAN_CFLAGS) -I$(GEN) -c $< -o $@

$(BUILD)/san/test_%: test/unit/test_%.c $(UNIT_HOST) $(wildcard test/unit/*.h) \
		$(SAN_OBJ)
	$(CC) $(SAN_CFLAGS) -I$(CORE) -Itest/unit $< $(UNIT_HOST) $(SAN_OBJ) \
		-o $@ -lcmocka $(CORE_LIBS)

# reliability: the core's rule loader under ASan/UBSan, fed mutated rule
# files by test/reliability/rules_mutate.py
$(BUILD)/san/rules-load: test/reliability/rules_load.c $(UNIT_HOST) \
		test/unit/host.h $(SAN_OBJ)
	$(CC) $(SAN_CFLAGS) -I$(CORE) -Itest/unit $< $(UNIT_HOST) $(SAN_OBJ) \
		-o $@ $(CORE_LIBS)

unit-build: $(UNIT_BIN) $(BUILD)/san/rules-load

unit: deps unit-build
	@$(PYTHON) -m pytest -q test/unit

integration: deps module opensips $(BUILD)/af-fingerprint \
		$(BUILD)/af-rules-check $(BUILD)/af-cdr
	@$(PYTHON) -m pytest -q test/integration

run: deps module
	@utils/run.sh

test: deps module opensips unit-build $(BUILD)/af-fingerprint \
		$(BUILD)/af-rules-check $(BUILD)/af-cdr fuzz-build
	$(PYTHON) -m pytest -q test

bench: deps module
	@$(PYTHON) utils/bench.py

bench-cdr: $(BUILD)/af-cdr
	@$(PYTHON) utils/bench_cdr.py

# reliability runs (README, Reliability): too long for make test
SOAK_MINUTES ?= 20
soak: deps module
	SOAK_MINUTES=$(SOAK_MINUTES) $(PYTHON) test/reliability/soak.py

hostile: deps module unit-build
	$(PYTHON) test/reliability/hostile.py

test-valgrind: deps module
	AF_VALGRIND=1 $(PYTHON) -m pytest -q -s test/reliability/valgrind_scenarios.py


# Debian package of the module, tools, sample rules and docs
deb: module $(BUILD)/af-fingerprint $(BUILD)/af-rules-check
	@utils/mkdeb.sh $(BUILD) $(AF_VERSION)

include $(TOP)/test/fuzz/fuzz.mk

clean: fuzz-clean
	rm -rf $(BUILD)/pic $(BUILD)/san $(GEN) $(BUILD)/libafcore.a $(BUILD)/bench \
		$(BUILD)/af-fingerprint $(BUILD)/af-rules-check $(BUILD)/af-cdr \
		$(MOD)/antifraud.so $(BUILD)/opensips-module
	-$(MAKE) -C $(MOD)/opensips OPENSIPS_SRC=$(OPENSIPS_SRC) clean \
		2>/dev/null
	-$(MAKE) -C $(MOD)/kamailio COREPATH=$(KAMAILIO_SRC)/src clean \
		quiet=silent 2>/dev/null

distclean: clean
	rm -rf $(BUILD)
