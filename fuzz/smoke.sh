#!/usr/bin/env bash
# Run every fuzz target for N seconds (default 60), starting from its
# committed seeds (fuzz/seeds/<target>) and the local corpus
# (fuzz/corpus/<target>, git-ignored). Exits non-zero on the first crash,
# leak, timeout or out-of-memory; the input is left in fuzz/artifacts/<target>/.
#
#   fuzz/smoke.sh 60                 # no sanitizer, stable toolchain
#   SANITIZER=address fuzz/smoke.sh  # ASan (needs nightly or RUSTC_BOOTSTRAP=1)
#   TARGETS="decode" fuzz/smoke.sh 300
#
# Needs cargo-fuzz 0.13 (`cargo install cargo-fuzz --locked`).
set -euo pipefail

seconds=${1:-60}
sanitizer=${SANITIZER:-none}
targets=${TARGETS:-"container_parse decode roundtrip"}
cd "$(dirname "$0")/.."

if [[ "$sanitizer" != none && -z "${RUSTC_BOOTSTRAP:-}" ]] && ! rustc --version | grep -q nightly; then
    export RUSTC_BOOTSTRAP=1 # sanitizers need -Z flags; allow them on stable
fi

for target in $targets; do
    mkdir -p "fuzz/corpus/$target"
    echo "== $target: ${seconds}s, sanitizer $sanitizer"
    # -timeout: one input may take at most 20 s; -rss_limit_mb: the cm model of
    # level 9 allocates ~212 MiB per chunk, so leave room above libFuzzer's 2 GiB.
    cargo fuzz run --fuzz-dir fuzz "$target" --sanitizer "$sanitizer" "fuzz/corpus/$target" "fuzz/seeds/$target" -- \
        -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 -print_final_stats=1
done
echo "== all targets ran ${seconds}s without findings"
