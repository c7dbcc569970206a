#!/usr/bin/env bash
# The benchmarks must keep compiling; they are never run in CI (see benches/README.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo bench -p glocal --no-run
