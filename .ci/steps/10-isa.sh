#!/usr/bin/env bash
# Every test that goes through Transform::new (golden files, doctests, examples in docs) once per
# x86 ISA forced with GLOCAL_FORCE_ISA. tests/kernels.rs `force_isa_env_is_honoured` fails if the
# forced ISA is not the one that ran. The per-kernel matrices in tests/kernels.rs select kernels
# explicitly (Transform::with_isa), already ran in the main test step, and are skipped here.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ "$(uname -m)" != x86_64 ]; then echo "10-isa: host is not x86_64, nothing to force"; exit 0; fi
skip=(--skip edge_shapes_ --skip large_batches_ --skip sixteen_bit_ --skip exhaustive_ --skip random_shapes_)
isas=(scalar)
if grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo && grep -qw f16c /proc/cpuinfo; then
  isas+=(avx2)
else
  echo "10-isa: NOTICE: this CPU lacks AVX2/FMA/F16C; GLOCAL_FORCE_ISA=avx2 not run"
fi
for isa in "${isas[@]}"; do
  echo "--- GLOCAL_FORCE_ISA=$isa"
  GLOCAL_FORCE_ISA=$isa cargo test -p glocal --all-features -- "${skip[@]}"
done
