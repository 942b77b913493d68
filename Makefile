# Ultravisor build. Variants: `make` (release, build/release) and `make VARIANT=asan`
# (ASan+UBSan, build/asan). Every folder listed in PROGRAMS builds one executable from
# all its .c files plus libultra; every tests/unit/test_*.c is one cmocka test binary.

VARIANT ?= release
B       := build/$(VARIANT)
CC      ?= cc
PKGS    := json-c libseccomp liburing sqlite3 openssl
CFLAGS_BASE := -std=gnu11 -g -Wall -Wextra -Werror -Wshadow -Wformat=2 \
	-Wmissing-prototypes -Wstrict-prototypes -Wno-unused-parameter \
	-D_GNU_SOURCE -Iinclude -Ilib $(shell pkg-config --cflags $(PKGS))
LIBS    := $(shell pkg-config --libs $(PKGS)) -lpthread -lm

ifeq ($(VARIANT),asan)
CFLAGS_V := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDFLAGS_V := -fsanitize=address,undefined
else
CFLAGS_V := -O2 -D_FORTIFY_SOURCE=2
LDFLAGS_V :=
endif
CFLAGS  := $(CFLAGS_BASE) $(CFLAGS_V) $(EXTRA_CFLAGS)
LDFLAGS := $(LDFLAGS_V) $(EXTRA_LDFLAGS)

# program folder -> executable name
PROGRAMS := monitor:ultra-monitor ultravisor:ultravisor tools/uvctl:uvctl boot:ultra-boot io:ultra-io command:ultra-command tools/ultra:ultra
PROGRAMS += ops:ultra-ops
PROGRAMS += command/gw:ultra-cmdgw
PROGRAMS += witness:ultra-witness
PROGRAMS += $(EXTRA_PROGRAMS)

LIB_SRC := $(wildcard lib/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(B)/%.o)
LIBA    := $(B)/libultra.a

prog_dir  = $(word 1,$(subst :, ,$(1)))
prog_name = $(word 2,$(subst :, ,$(1)))
BINS := $(foreach p,$(PROGRAMS),$(B)/bin/$(call prog_name,$(p)))

TEST_SRC := $(wildcard tests/unit/test_*.c)
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(B)/tests/%)

GUEST_TOOLS := $(patsubst guest/tools/%.c,$(B)/guest/%,$(wildcard guest/tools/*.c))

BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(B)/bench/%)

FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)

.PRECIOUS: $(B)/%.o $(B)/tests/unit/%.o $(B)/bench/%.o
.PHONY: all tests fuzz clean check lint format format-check
all: $(BINS) $(TEST_BIN) $(GUEST_TOOLS) $(BENCH_BIN)
tests: $(TEST_BIN)

$(B)/%.o: %.c $(wildcard include/ultra/*.h lib/*.h)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS) -MMD -c $< -o $@

$(LIBA): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

define prog_rule
$(B)/bin/$(call prog_name,$(1)): $(patsubst %.c,$(B)/%.o,$(wildcard $(call prog_dir,$(1))/*.c)) $(LIBA)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LIBS)
endef
$(foreach p,$(PROGRAMS),$(eval $(call prog_rule,$(p))))

$(B)/tests/%: $(B)/tests/unit/%.o $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) -lcmocka

$(B)/bench/%: $(B)/bench/%.o $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# Tools that run inside guests: static, no sanitizers (the guest has no libc). One .c file each;
# a tool that needs library code #includes the lib/*.c files it uses.
$(B)/guest/%: guest/tools/%.c $(wildcard include/ultra/*.h lib/*.h lib/channel*.c)
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -Iinclude -static -o $@ $<

# libFuzzer targets: clang, ASan+UBSan, linked against the library sources directly.
build/fuzz/%: tests/fuzz/%.c $(LIB_SRC)
	@mkdir -p $(dir $@)
	clang $(CFLAGS_BASE) -O1 -fsanitize=fuzzer,address,undefined -o $@ $^ $(LIBS)
fuzz: $(FUZZ_BIN)

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
		--suppress=missingIncludeSystem --inline-suppr -Iinclude -Ilib lib monitor ultravisor tools boot io command ops witness

# Every tracked C source and header, formatted by .clang-format.
C_SOURCES = $(shell git ls-files '*.c' '*.h')
format:
	clang-format -i $(C_SOURCES)
format-check:
	clang-format --dry-run --Werror $(C_SOURCES)

check:
	tests/run.sh

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
