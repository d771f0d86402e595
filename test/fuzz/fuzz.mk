# antifraud - libFuzzer harnesses (included by the top-level Makefile).
#   make fuzz-build       build every harness into build/fuzz/
#   make fuzz             run each harness FUZZ_TIME seconds (default 60)
#
# The core is compiled again with clang (ASan, UBSan, coverage); the
# Kamailio harness also links the Kamailio core, compiled once from
# build/kamailio-src with clang into build/fuzz/libkamcore.a (cached: it
# depends only on that tree).
# SPDX-License-Identifier: GPL-2.0-or-later

FUZZ_CC ?= clang
FUZZ_TIME ?= 60
FUZZ_DIR := $(BUILD)/fuzz
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer
FUZZ_CFLAGS := -std=gnu11 -O1 -g $(WARN) $(FUZZ_SAN) \
	-fsanitize=fuzzer-no-link -D_GNU_SOURCE -DAF_UNIT_TEST
FUZZ_OBJ := $(patsubst $(MOD)/%.c,$(FUZZ_DIR)/core/%.o,$(CORE_SRC))
FUZZ_SRC := $(filter-out test/fuzz/fuzz_host.c test/fuzz/fuzz_kam_%.c \
	test/fuzz/kam_%.c,$(wildcard test/fuzz/*.c))
FUZZ_BIN := $(patsubst test/fuzz/%.c,$(FUZZ_DIR)/%,$(FUZZ_SRC))
FUZZ_KAM_BIN := $(FUZZ_DIR)/fuzz_kam_request
FUZZ_HOST := test/fuzz/fuzz_host.c test/fuzz/fuzz_host.h
# the core's folders (fuzz_redis_reply includes the Redis store's source)
FUZZ_CORE_INC = $(addprefix -I,$(sort $(dir $(CORE_SRC)))) -I$(GEN)
FUZZ_INC = $(FUZZ_CORE_INC) -Itest/fuzz

# Kamailio's core: every .c of src/core (the generated cfg parser aside:
# its symbols are stubbed in test/fuzz/kam_stubs.c) and main.c with its
# main() renamed; pkg memory is the system malloc (as upstream's fuzzing
# build does with MEMPKG=sys) so that ASan sees every buffer.
KAM_SRCDIR := $(KAMAILIO_SRC)/src
KAM_CORE_SRC = $(shell cd $(KAM_SRCDIR) 2>/dev/null && \
	find core -name '*.c' | sort) main.c
KAM_CORE_OBJ = $(patsubst %.c,$(FUZZ_DIR)/kam/%.o,$(KAM_CORE_SRC))
KAM_DEFS = $(filter-out -DPKG_MALLOC,$(shell sed -n -e \
	"/^C_DEFS=/{s/^C_DEFS=//;s/-DCOMPILER='[^']*'//;p}" \
	$(KAM_SRCDIR)/config.mak 2>/dev/null)) -DCOMPILER='"clang"'
KAM_CFLAGS = -std=gnu99 -O1 -g -w -fPIC -fno-omit-frame-pointer \
	-fsanitize=address,fuzzer-no-link -pthread $(KAM_DEFS) \
	-DMODS_DIR='"/usr/lib/kamailio/modules/"'
KAM_LIBS := -ldl -lresolv -lm -lpthread

.PHONY: fuzz fuzz-build fuzz-clean

$(FUZZ_DIR)/core/%.o: $(MOD)/%.c $(CORE_HDR) $(GEN_HDR)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -I$(GEN) -c $< -o $@

$(FUZZ_DIR)/libafcore.a: $(FUZZ_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_DIR)/%: test/fuzz/%.c $(FUZZ_HOST) $(FUZZ_DIR)/libafcore.a \
		$(CORE_SRC) $(GEN_HDR)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(FUZZ_INC) $< \
		test/fuzz/fuzz_host.c $(FUZZ_DIR)/libafcore.a -o $@ $(CORE_LIBS)

$(FUZZ_DIR)/kam/%.o: $(KAM_SRCDIR)/%.c $(KAM_SRCDIR)/config.mak
	@mkdir -p $(@D)
	@$(FUZZ_CC) $(KAM_CFLAGS) -Dmain=kam_fuzz_unused_main -c $< -o $@

$(FUZZ_DIR)/libkamcore.a: $(KAM_SRCDIR)/config.mak
	@echo "fuzz: compiling Kamailio's core with clang (once)"
	@$(MAKE) --no-print-directory $(KAM_CORE_OBJ)
	@rm -f $@
	@ar rcs $@ $(KAM_CORE_OBJ)

# the glue's extraction, compiled as the module compiles it but with
# clang and the sanitizers
$(FUZZ_DIR)/glue/%.o: $(MOD)/kamailio/%.c $(MOD)/kamailio/af_kam.h \
		$(CORE_HDR) $(KAM_SRCDIR)/config.mak
	@mkdir -p $(@D)
	$(FUZZ_CC) -std=gnu99 -O1 -g $(FUZZ_SAN) -fsanitize=fuzzer-no-link \
		-w -pthread $(KAM_DEFS) -I$(KAM_SRCDIR) $(FUZZ_CORE_INC) -c $< -o $@

$(FUZZ_KAM_BIN): test/fuzz/fuzz_kam_request.c test/fuzz/kam_stubs.c \
		$(FUZZ_HOST) $(FUZZ_DIR)/glue/af_kam_msg.o \
		$(FUZZ_DIR)/libafcore.a $(FUZZ_DIR)/libkamcore.a
	$(FUZZ_CC) -std=gnu99 -O1 -g $(FUZZ_SAN) -fsanitize=fuzzer -w -pthread \
		$(KAM_DEFS) -I$(KAM_SRCDIR) $(FUZZ_INC) -I$(MOD)/kamailio \
		test/fuzz/fuzz_kam_request.c test/fuzz/kam_stubs.c \
		test/fuzz/fuzz_host.c $(FUZZ_DIR)/glue/af_kam_msg.o \
		$(FUZZ_DIR)/libafcore.a $(FUZZ_DIR)/libkamcore.a -o $@ \
		$(CORE_LIBS) $(KAM_LIBS)

fuzz-build: $(KAMAILIO_SRC)/src/config.mak $(FUZZ_BIN) $(FUZZ_KAM_BIN)

# make clean keeps Kamailio's compiled core (build/fuzz/kam,
# libkamcore.a) and the working corpora; make distclean removes them
fuzz-clean:
	rm -rf $(FUZZ_DIR)/core $(FUZZ_DIR)/glue $(FUZZ_DIR)/libafcore.a \
		$(FUZZ_BIN) $(FUZZ_KAM_BIN)

fuzz: deps fuzz-build
	@$(PYTHON) test/fuzz/run.py --time $(FUZZ_TIME) $(FUZZ_DIR)
