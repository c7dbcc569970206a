#!/usr/bin/env bash
# The Arm cost harness: instructions per MAC (qemu plugin) and llvm-mca cycles per MAC of
# glocal and its peers (OpenBLAS, CMSIS-DSP) on emulated Arm cores, checked against the f64
# oracle, as one table. Options: --cores a57,n1,m4,m7,m55,m3,m0,rv32  --dtypes f32,...,q8
# --no-cmsis  (benches/README.md).
set -euo pipefail
exec python3 "$(dirname "$0")/run.py" "$@"
