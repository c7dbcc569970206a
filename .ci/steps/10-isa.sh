#!/usr/bin/env bash
# Every test that goes through Transform::new (golden files, doctests, examples in docs) once per
# x86 ISA forced with GLOCAL_FORCE_ISA. tests/kernels.rs `force_isa_env_is_honoured` fails if the
# forced ISA is not the one that ran. The per-kernel matrices in tests/kernels.rs select kernels
# explicitly (Transform::with_isa), already ran in the main test step, and are skipped here.
# avxvnni and avx512vnni have q8 kernels only: forced, every other dtype runs scalar, and the q8
# tests (tests/q8.rs, tests/force_isa.rs) run their kernels.
#
# The test executables are the ones the README's command (`cargo test --workspace
# --all-features`) built, run directly: `cargo test -p glocal` would unify features over the
# core package alone and rebuild it and a dozen dependencies (about 95 s) for the same tests.
# (The CLI's own tests are not run here: they clear GLOCAL_FORCE_ISA for the CLI they spawn.)
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ "$(uname -m)" != x86_64 ]; then echo "10-isa: host is not x86_64, nothing to force"; exit 0; fi
skip=(--skip edge_shapes_ --skip large_batches_ --skip sixteen_bit_ --skip exhaustive_ --skip random_shapes_)
isas=(scalar)
if grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo && grep -qw f16c /proc/cpuinfo; then
  isas+=(avx2)
  if grep -qw avx_vnni /proc/cpuinfo; then
    isas+=(avxvnni)
  else
    echo "10-isa: NOTICE: this CPU lacks AVX-VNNI; GLOCAL_FORCE_ISA=avxvnni (q8 kernel) not run"
  fi
  if grep -qw avx512f /proc/cpuinfo && grep -qw avx512bw /proc/cpuinfo; then
    isas+=(avx512)
    if grep -qw avx512_vnni /proc/cpuinfo; then
      isas+=(avx512vnni)
    else
      echo "10-isa: NOTICE: this CPU lacks AVX-512 VNNI; GLOCAL_FORCE_ISA=avx512vnni (q8 kernel) not run"
    fi
  else
    echo "10-isa: NOTICE: this CPU lacks AVX-512F/BW; GLOCAL_FORCE_ISA=avx512 and avx512vnni not run"
  fi
else
  echo "10-isa: NOTICE: this CPU lacks AVX2/FMA/F16C; GLOCAL_FORCE_ISA=avx2 not run"
fi
root_manifest="$(pwd -P)/Cargo.toml"
mapfile -t tests < <(cargo test --workspace --all-features --no-run --message-format=json \
  | jq -r --arg m "$root_manifest" \
      'select(.reason == "compiler-artifact" and .executable != null and .profile.test
              and .manifest_path == $m) | .executable')
if [ "${#tests[@]}" -lt 10 ]; then
  echo "10-isa: expected the core's test executables, found ${#tests[@]}: ${tests[*]}"; exit 1
fi
log=$(mktemp /tmp/glocal-isa.XXXXXX)
trap 'rm -f "$log"' EXIT
for isa in "${isas[@]}"; do
  echo "--- GLOCAL_FORCE_ISA=$isa (${#tests[@]} test executables, then the doctests)"
  for t in "${tests[@]}"; do
    if ! GLOCAL_FORCE_ISA=$isa "$t" -q "${skip[@]}" >"$log" 2>&1; then
      cat "$log"; echo "10-isa: $t failed with GLOCAL_FORCE_ISA=$isa"; exit 1
    fi
    echo "$(basename "$t"): $(grep -E '^test result' "$log")"
  done
  # --workspace here too: the doctests link the core as built with the workspace's features.
  GLOCAL_FORCE_ISA=$isa cargo test --workspace --all-features --doc -q
done
