#!/usr/bin/env bash
# Fuzz smoke test: seeds the corpora (synthetic + derived from ../shared), runs the full-size
# real seeds once, then fuzzes each target for FUZZ_SECONDS (default 12). Any crash, panic,
# leak, timeout or allocation over the limit fails the step; the crashing input is kept in
# fuzz/artifacts/<target>/ (reproduce: cargo +nightly fuzz run <target> <file>).
set -euo pipefail
cd "$(dirname "$0")/../../fuzz"
secs="${FUZZ_SECONDS:-12}"
# No single allocation above 256 MiB (the readers must stay bounded by their input), 1 GiB RSS.
limits=(-rss_limit_mb=1024 -malloc_limit_mb=256 -timeout=10 -print_final_stats=1)

bash seed.sh
cargo +nightly fuzz build

for t in parse_blob apply_small npz_npy; do
  # Inputs that once failed (committed, each named for what it caught) must keep passing.
  if [ -d "regressions/$t" ]; then
    cargo +nightly fuzz run "$t" "regressions/$t" -- -runs=0 "${limits[@]}" >"/tmp/glocal-fuzz-$t-regressions.log" 2>&1 \
      || { tail -n 60 "/tmp/glocal-fuzz-$t-regressions.log"; echo "fuzz: $t failed on fuzz/regressions/$t"; exit 1; }
  fi
  if [ -d "corpus/full/$t" ]; then
    cargo +nightly fuzz run "$t" "corpus/full/$t" -- -runs=0 "${limits[@]}" >"/tmp/glocal-fuzz-$t-full.log" 2>&1 \
      || { cat "/tmp/glocal-fuzz-$t-full.log"; echo "fuzz: $t failed on the full-size real seeds"; exit 1; }
  fi
  log="/tmp/glocal-fuzz-$t.log"
  if ! cargo +nightly fuzz run "$t" "corpus/$t" -- -max_total_time="$secs" "${limits[@]}" >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz: $t FAILED (input saved under fuzz/artifacts/$t/)"
    exit 1
  fi
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
  cov=$(grep -E '^#[0-9]+.*DONE' "$log" | grep -o 'cov: [0-9]*' | tail -1 || true)
  echo "fuzz: $t ok: $execs executions in ${secs} s, ${cov:-cov: ?} (edges), corpus $(ls "corpus/$t" | wc -l) inputs"
done
