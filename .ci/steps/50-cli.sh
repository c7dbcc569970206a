#!/usr/bin/env bash
# CLI checks outside cargo: a blob emitted by `glocal emit-c` compiles for the Cortex-M4F
# (arm-none-eabi-gcc, -Werror, placed in its linker section with 64-byte alignment) and for
# aarch64 Linux, where a program linked with it writes the bytes back out under qemu-user and they
# match the blob. (cargo test already compiles and round-trips the emitted C and Rust on the host.)
set -euo pipefail
cd "$(dirname "$0")/../.."
. .ci/lib.sh
shared=../shared
if [ ! -f "$shared/transforms/resnet18/avgpool/transform.npz" ]; then
  echo "NOTICE: 50-cli: skipped, ../shared is absent"
  exit 0
fi
for t in arm-none-eabi-gcc arm-none-eabi-readelf aarch64-linux-gnu-gcc qemu-aarch64; do
  command -v "$t" >/dev/null || { echo "50-cli: $t missing (run .ci/setup.sh)"; exit 1; }
done
cargo build -q -p glocal-cli
glocal=${CARGO_TARGET_DIR:-target}/debug/glocal
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$glocal" pack "$shared/transforms/resnet18/avgpool/transform.npz" -o "$work/r18.glw" --dtype f16
"$glocal" inspect "$work/r18.glw" > "$work/inspect.txt"
grep -q "status          valid" "$work/inspect.txt"
"$glocal" emit-c "$work/r18.glw" -o "$work/blob.c" --symbol glocal_resnet18 --section .rodata.glocal
size=$(stat -c %s "$work/r18.glw")

# Cortex-M4F: compiles warning-free; the section exists, is 64-byte aligned and holds the blob.
arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 -std=c11 -O2 \
  -Wall -Wextra -Werror -pedantic -c "$work/blob.c" -o "$work/blob_m4.o"
line=$(arm-none-eabi-readelf -W -S "$work/blob_m4.o" | grep ' .rodata.glocal ')
echo "cortex-m4 section: $line"
sec_size=$((16#$(echo "$line" | awk '{for(i=1;i<=NF;i++) if ($i=="PROGBITS") print $(i+3)}')))
sec_align=$(echo "$line" | awk '{print $NF}')
[ "$sec_size" -eq "$size" ] || { echo "50-cli: section size $sec_size != blob size $size"; exit 1; }
[ "$sec_align" -eq 64 ] || { echo "50-cli: section alignment $sec_align != 64"; exit 1; }

# aarch64 (Jetson): links, runs under qemu-user, writes the array back out byte for byte.
cat > "$work/main.c" <<'C'
#include <stdio.h>
#include <stdint.h>
#include "blob.h"
int main(int argc, char **argv) {
    FILE *f;
    if (argc != 2 || ((uintptr_t)glocal_resnet18) % 64u != 0) return 3;
    f = fopen(argv[1], "wb");
    if (!f || fwrite(glocal_resnet18, 1, glocal_resnet18_len, f) != glocal_resnet18_len) return 4;
    return fclose(f) != 0;
}
C
aarch64-linux-gnu-gcc -std=c11 -O2 -Wall -Wextra -Werror -pedantic -I"$work" "$work/main.c" "$work/blob.c" -o "$work/main_a64"
"$EMU" 120 "${QEMU_A64[@]}" "$work/main_a64" "$work/back.bin"
cmp "$work/r18.glw" "$work/back.bin"
echo "50-cli: emit-c blob ($size bytes) compiles for cortex-m4 and round-trips on aarch64"
