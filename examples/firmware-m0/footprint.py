#!/usr/bin/env python3
"""glocal's share of the flash of a fat-LTO Rust firmware, from the ELF's symbol table.

usage: footprint.py firmware.elf [flash_limit_bytes]

examples/firmware-c/footprint.py reads a GNU ld map, where every input section names the
archive member it came from. A Rust firmware built with fat LTO has one object, so this script
attributes by symbol instead (arm-none-eabi-nm -S, demangled), in flash (.text, .rodata):
- glocal: every symbol under `glocal::`, plus the firmware's `api::` wrappers, the only callers
  of glocal, kept out of line so that what LTO inlines from glocal (`Transform::new` and the
  `apply` entry points) is counted here and not in the firmware's `main`;
- f32 soft float: compiler-builtins' single-precision routines (`__addsf3`, `__aeabi_f*`, ...),
  which glocal's per-input and per-output float steps need on a core without an FPU (the
  firmware's own checks compute in f64: its `__*df*` routines are not counted);
- reported apart, not counted: memcpy/memset and integer division (shared by any program),
  core::fmt (the firmware's printing), the blob and golden rows, and the unnamed constants
  (`.Lanon`: strings of glocal and of core::fmt alike, which symbols do not attribute).
Exit 1 above the limit or when nothing of glocal's is found.
"""
import re
import subprocess
import sys
from collections import Counter

elf = sys.argv[1]
limit = int(sys.argv[2]) if len(sys.argv) > 2 else 16 * 1024

sections = {}
for line in subprocess.run(["arm-none-eabi-size", "-A", elf], capture_output=True, text=True,
                           check=True).stdout.splitlines():
    parts = line.split()
    if len(parts) == 3 and parts[1].isdigit():
        sections[parts[0]] = int(parts[1])
flash = sum(sections.get(s, 0) for s in (".vector_table", ".text", ".rodata", ".data"))

nm = subprocess.run(["arm-none-eabi-nm", "-S", "-C", "--size-sort", elf], capture_output=True,
                    text=True, check=True).stdout
groups, members = Counter(), {}
named = 0
for line in nm.splitlines():
    m = re.match(r"^[0-9a-f]+ ([0-9a-f]+) ([tTrRdD]) (.*)$", line)
    if not m:
        continue
    size, name = int(m.group(1), 16), m.group(3)
    named += size
    if "glocal::" in name or "::api::" in name:
        group = "glocal"
    elif "::golden::" in name or "::BLOB::" in name:
        group = "blob and golden rows (data)"
    elif "compiler_builtins" in name or name.startswith("__") or name in ("memcpy", "memset", "memmove", "memcmp"):
        if re.search(r"mem(cpy|set|move|cmp)", name):
            group = "memcpy/memset (shared)"
        elif re.search(r"(df3|df2|dfsi|sidf|unorddf|__aeabi_d|__aeabi_[iu]2d|extendsfdf|truncdfsf|f2d|d2f)", name):
            group = "f64 soft float (the firmware's checks)"
        elif re.search(r"(sf3|sf2|sfsi|sisf|unordsf|__aeabi_f|__aeabi_[iu]2f)", name):
            group = "f32 soft float (compiler-builtins)"
        else:
            group = "integer builtins (shared)"
    elif "core::fmt" in name or "core::num::flt2dec" in name or "core::num::bignum" in name or "fmt" in name:
        group = "core::fmt (the firmware's printing)"
    else:
        group = "firmware, cortex-m-rt, semihosting, core"
    groups[group] += size
    members.setdefault(group, []).append((size, name))

share = groups["glocal"] + groups["f32 soft float (compiler-builtins)"]
print(f"firmware flash: {flash} bytes (.vector_table + .text + .rodata + .data)")
print(f"glocal's share: {share} bytes ({share / 1024:.1f} KiB, limit {limit / 1024:.0f} KiB) = "
      f"glocal code + named constants {groups['glocal']} + f32 soft float "
      f"{groups['f32 soft float (compiler-builtins)']}")
for group, size in groups.most_common():
    print(f"  {size:7d}  {group}")
print(f"  {flash - named:7d}  unnamed constants and padding (strings of glocal and core::fmt alike)")
print("largest glocal symbols:")
for size, name in sorted(members.get("glocal", []), reverse=True)[:12]:
    print(f"  {size:7d}  {name[:90]}")
ok = 0 < groups["glocal"] and share <= limit
if not ok:
    print("FAIL: glocal's flash share above the limit (or none found)")
sys.exit(0 if ok else 1)
