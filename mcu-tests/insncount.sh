#!/usr/bin/env bash
# Executed instructions per multiply-add of Transform::apply on the emulated Cortex-M55
# (qemu mps3-an547), counted by the TCG plugin of ../shared/tools/qemu-insncount between the
# markers of tests/insncount.rs: every weight dtype, d = 512, f32 in/out, batch 1 and 8, with
# the kernel Transform::new chooses (Helium). Fails above issue 22's targets (batch 1) or when
# batch 8 is not at least 25 % below batch 1 per multiply-add.
#   bash mcu-tests/insncount.sh            (from anywhere; needs ../shared beside the repository)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
shared="${GLOCAL_SHARED:-$root/../shared}"
plugin_src="$shared/tools/qemu-insncount/insncount.c"
[ -f "$plugin_src" ] || { echo "insncount: $plugin_src not found (needs ../shared)"; exit 1; }
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target/mcu}"
work="$CARGO_TARGET_DIR/insncount"
mkdir -p "$work"
gcc -O2 -shared -fPIC -o "$work/libinsncount.so" "$plugin_src"

fw=$(cd "$here" && cargo test --release --target thumbv8m.main-none-eabihf --test insncount --no-run \
  --message-format=json | python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "insncount": print(m["executable"])')
[ -n "$fw" ] || { echo "insncount: no firmware built"; exit 1; }
S=$(arm-none-eabi-nm "$fw" | awk '$3=="bench_start"{print "0x"$1}')
E=$(arm-none-eabi-nm "$fw" | awk '$3=="bench_stop"{print "0x"$1}')
[ -n "$S" ] && [ -n "$E" ] || { echo "insncount: markers not found in $fw"; exit 1; }

status=0
timeout 300 qemu-system-arm -machine mps3-an547 -nographic -monitor none -serial none \
  -semihosting-config enable=on,target=native \
  -plugin "$work/libinsncount.so,start=$S,stop=$E" -d plugin -D "$work/plugin.log" \
  -kernel "$fw" > "$work/stdout.log" || status=$?
if [ "$status" -ne 0 ]; then
  cat "$work/stdout.log"
  echo "insncount: the bench firmware failed on qemu mps3-an547 (exit $status; 124 = timeout)"
  exit 1
fi
python3 - "$work/stdout.log" "$work/plugin.log" <<'PY'
import sys
labels = [l.split()[1:] for l in open(sys.argv[1]) if l.startswith("window ")]
counts = [int(l.split()[1]) for l in open(sys.argv[2]) if l.startswith("window ")]
if len(labels) != len(counts) or not labels:
    sys.exit(f"insncount: {len(labels)} labelled windows but {len(counts)} counted")
empty = counts[0]
res = {}
for (label, macs), n in zip(labels[1:], counts[1:]):
    dtype, kernel, batch = label.split(":")
    res[(dtype, batch)] = (kernel, (n - empty) / int(macs))
target = {"f32": 0.60, "f16": 0.70, "bf16": 0.70, "i8d": 0.95}
print(f"instructions per multiply-add, qemu mps3-an547 (Cortex-M55), d = 512, f32 in/out (empty window {empty})")
print("| weights | kernel | batch 1 | batch 8 | batch 8 / batch 1 | target batch 1 |")
print("|---|---|---|---|---|---|")
fail = []
for dtype in ("f32", "f16", "bf16", "i8d"):
    kernel, b1 = res[(dtype, "batch1")]
    _, b8 = res[(dtype, "batch8")]
    print(f"| {dtype} | {kernel} | {b1:.3f} | {b8:.3f} | {b8 / b1:.2f} | {target[dtype]} |")
    if b1 > target[dtype]:
        fail.append(f"{dtype}: batch 1 {b1:.3f} > {target[dtype]}")
    if b8 > 0.75 * b1:
        fail.append(f"{dtype}: batch 8 {b8:.3f} not 25 % below batch 1 {b1:.3f}")
for f in fail:
    print("FAIL:", f)
sys.exit(1 if fail else 0)
PY
