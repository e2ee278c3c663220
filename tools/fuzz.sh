#!/bin/sh
# Fuzzes the wire protocol (tests/fuzz/fuzz_proto.c) with libFuzzer.
#
#   tools/fuzz.sh [SECONDS]     (default 60)
#
# Configures a separate clang build with -Dfuzz=true (FUZZ_BUILD_DIR, default
# build-fuzz), builds only the fuzz targets, writes the seed corpus, and runs
# the target for SECONDS with inputs up to 64 KiB. Needs clang and its
# libFuzzer runtime (Debian: clang, libclang-rt-14-dev). Findings are left in
# the build dir as crash-*/leak-*/timeout-* files. The last line is
# "fuzz: N passed, N failed".
set -u

secs=${1:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}
out=$build/tests/fuzz

fail() {
    echo "fuzz.sh: $*" >&2
    echo "fuzz: 0 passed, 1 failed"
    exit 1
}

case $secs in
    ''|*[!0-9]*) fail "SECONDS must be a whole number, not '$secs'" ;;
esac
command -v clang >/dev/null 2>&1 || fail "clang is not installed"

if [ -f "$build/build.ninja" ]; then
    meson configure "$build" -Dfuzz=true >/dev/null || fail "meson configure failed"
else
    mkdir -p "$build" || fail "cannot create $build"
    CC=clang meson setup "$build" "$root" -Dfuzz=true >"$build/setup.log" 2>&1 ||
        { cat "$build/setup.log" >&2; fail "meson setup failed"; }
fi
ninja -C "$build" -j2 tests/fuzz/fuzz-proto tests/fuzz/fuzz-corpus ||
    fail "the fuzz targets did not build (is CC=clang?)"

rm -rf "$out/seed"
mkdir -p "$out/seed" "$out/corpus" || fail "cannot create the corpus directories"
"$out/fuzz-corpus" "$out/seed" || fail "cannot write the seed corpus"

# The frame cap is 1 MiB but inputs stay small: what matters is the shape
# of headers, not the bytes of a body. The corpus directory grows across
# runs; the seeds are rewritten each time.
"$out/fuzz-proto" -max_len=65536 -max_total_time="$secs" -timeout=20 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$out/" \
    "$out/corpus" "$out/seed" >"$out/fuzz.log" 2>&1
rc=$?
tail -n 25 "$out/fuzz.log"
if [ "$rc" -eq 0 ]; then
    echo "fuzz: 1 passed, 0 failed"
else
    echo "fuzz.sh: libFuzzer exited with $rc; the log is $out/fuzz.log" >&2
    echo "fuzz: 0 passed, 1 failed"
    exit 1
fi
