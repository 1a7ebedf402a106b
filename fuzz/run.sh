#!/usr/bin/env bash
# Fuzzes the host's handling of mod output. cargo-fuzz needs a nightly
# toolchain (for its sanitizer flags); the seeds in fuzz/seeds are recorded
# ticks of the example mods plus hostile variants of them
# (`cargo test --release -p mod-tests --test fuzz_cases -- --ignored` writes them).
#
#   bash fuzz/run.sh [seconds]        # default 600
#
# New inputs go to fuzz/corpus/ (not checked in); a finding is written to
# fuzz/artifacts/mod_output/ and replays with
#   cargo +nightly fuzz run mod_output fuzz/artifacts/mod_output/<file>
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
mkdir -p fuzz/corpus/mod_output
cargo +nightly fuzz run mod_output fuzz/corpus/mod_output fuzz/seeds/mod_output -- \
    -max_total_time="$seconds" -print_final_stats=1
