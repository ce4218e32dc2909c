#!/usr/bin/env bash
# Builds the wire decoder's libFuzzer target and runs it.
#   scripts/fuzz-wire.sh [SECONDS]   (default 300)
# The corpus starts from the golden vectors; crashes are written as crash-* files in the working
# directory and replayed with `swift run ReplogWireFuzzer crash-...`.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-300}"
swift build -c release --scratch-path .build-fuzz --product ReplogWireFuzzer \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING
corpus=fuzz-corpus
mkdir -p "$corpus"
for vector in Protocol/vectors/*.hex; do
    name=$(basename "$vector" .hex)
    tr -d ' \n' <"$vector" | xxd -r -p >"$corpus/$name"
done
exec .build-fuzz/release/ReplogWireFuzzer "$corpus" -max_total_time="$seconds" -max_len=4096 -print_final_stats=1
