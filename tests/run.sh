#!/usr/bin/env bash
# The whole test suite: builds (release, ASan+UBSan, fuzzers), unit tests under both builds,
# static analysis, every fuzzer for a short run, then the guest-booting integration tests
# against the ASan build. Last line: "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS=${FUZZ_SECONDS:-10}
passed=0
failed=0
failures=()

pass() { passed=$((passed + $1)); }
fail() { failed=$((failed + $1)); failures+=("$2"); }

step() { # name, command...
	local name=$1; shift
	if "$@" >"build/logs/$name.log" 2>&1; then
		pass 1; echo "PASS $name"
	else
		fail 1 "$name"; echo "FAIL $name (see build/logs/$name.log)"; tail -n 30 "build/logs/$name.log"
	fi
}

mkdir -p build/logs
step build-release make -j2
step build-asan make -j2 VARIANT=asan
step build-fuzz make -j2 fuzz
step cppcheck make lint
step clang-format make format-check

# cmocka binaries: count their test cases.
for variant in release asan; do
	for t in build/$variant/tests/test_*; do
		[ -x "$t" ] || continue
		name="$variant/$(basename "$t")"
		log="build/logs/${variant}-$(basename "$t").log"
		if "$t" >"$log" 2>&1; then rc=0; else rc=$?; fi
		ok=$(sed -n 's/.*\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
		bad=$(sed -n 's/.*\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
		ok=${ok:-0}; bad=${bad:-0}
		if [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ]; then bad=1; fi # crashed or sanitizer report
		pass "$ok"
		if [ "$bad" -gt 0 ]; then
			fail "$bad" "$name"; echo "FAIL $name ($bad failed, exit $rc)"; tail -n 40 "$log"
		else
			echo "PASS $name ($ok cases)"
		fi
	done
done

# Fuzzers: a short run each from their seed corpus, one per core at a time (each gets a whole
# core, so each fuzzes as long as it would alone); any crash fails.
FUZZ_JOBS=${FUZZ_JOBS:-$(nproc)}
fuzz_run() { # fuzzer binary; its exit status goes to build/logs/NAME.rc
	local f=$1 n corpus seeds
	n=$(basename "$f")
	corpus=$(mktemp -d)
	seeds=tests/fuzz/corpus/$n
	[ -d "$seeds" ] || seeds=
	"$f" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 "$corpus" $seeds \
		>"build/logs/$n.log" 2>&1
	echo $? >"build/logs/$n.rc"
	rm -rf "$corpus"
}
fuzzers=()
for f in build/fuzz/fuzz_*; do [ -x "$f" ] && fuzzers+=("$f"); done
for ((i = 0; i < ${#fuzzers[@]}; i += FUZZ_JOBS)); do
	for f in "${fuzzers[@]:i:FUZZ_JOBS}"; do
		rm -f "build/logs/$(basename "$f").rc"
		fuzz_run "$f" &
	done
	wait
done
for f in "${fuzzers[@]}"; do
	n=$(basename "$f")
	if [ "$(cat "build/logs/$n.rc" 2>/dev/null)" = 0 ]; then
		pass 1; echo "PASS $n"
	else
		fail 1 "$n"; echo "FAIL $n (see build/logs/$n.log)"; tail -n 30 "build/logs/$n.log"
	fi
done

# The guest image itself under plain QEMU: vmlinux and bzImage boot, memscan works.
log=build/logs/guest-image.log
tests/guest/test_guest_image.sh >"$log" 2>&1
ip=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$log" | tail -1)
if_=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$log" | tail -1)
if [ -z "$ip" ]; then
	fail 1 "guest image tests did not run"; tail -n 20 "$log"
else
	pass "$ip"; echo "guest image: $ip passed, $if_ failed"
	[ "$if_" -gt 0 ] && { fail "$if_" "guest image tests"; tail -n 30 "$log"; }
fi

# Guest partitions: real Debian kernels booted through the monitor (ASan build).
log=build/logs/guest.log
ULTRA_BUILD=$PWD/build/asan python3 tests/guest/run.py 2>&1 | tee "$log"
gp=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$log" | tail -1)
gf=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$log" | tail -1)
if [ -z "$gp" ]; then
	fail 1 "guest tests did not run"
else
	pass "$gp"
	[ "$gf" -gt 0 ] && fail "$gf" "guest tests"
fi

if [ "$failed" -gt 0 ]; then
	echo "failed: ${failures[*]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
