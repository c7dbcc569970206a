#!/usr/bin/env python3
"""Footprint of libglocal.a in a linked firmware, from the GNU ld map file.

usage: footprint.py app.map libglocal.a [flash_limit_bytes]

Flash: the input sections the linker kept from libglocal.a (after --gc-sections) in the
flash-resident output sections (.text, .rodata, .data's load image, .ARM.exidx/.extab): all of
glocal's code and constants (every dtype, every C API function the program references),
including the core/compiler-builtins pieces it pulls in; weights excluded (the blob is the
program's own C array). Heap: libglocal.a must not need an allocator (no undefined malloc,
free, _sbrk, __rust_alloc...). Exit 1 if a limit is crossed.
"""
import re
import subprocess
import sys
from collections import Counter

map_path, lib = sys.argv[1], sys.argv[2]
limit = int(sys.argv[3]) if len(sys.argv) > 3 else 16 * 1024
# Formatting, panic-message and soft-float f64 code: never needed by the C API on bare metal
# (its panic handler traps without printing; core::panicking::panic_fmt itself, a few bytes
# that reach the trap, may stay); linking any of it is a size regression.
FORBIDDEN = ("4core3fmt", "slice_index_fail", "slice_end_index_len_fail", "panic_bounds_check",
             "__aeabi_d", "__divdf3", "__muldf3", "__adddf3", "float_to_decimal")
linked_fmt, panics = [], []
FLASH = {".text", ".rodata", ".data", ".ARM.exidx", ".ARM.extab", ".init_array", ".fini_array"}



def readable(section):
    """`.text._ZN6glocal6kernel5drive17h0123456789abcdefE` -> `glocal::kernel::drive`."""
    name = re.sub(r"^\.(text|rodata)\.(unlikely\.)?", "", section)
    m = re.match(r"_ZN(.*)17h[0-9a-f]{16}E$", name)
    if not m:
        return name
    rest, parts = m.group(1), []
    while rest and rest[0].isdigit():
        n = int(re.match(r"\d+", rest).group(0))
        rest = rest[len(str(n)):]
        parts.append(rest[:n])
        rest = rest[n:]
    return "::".join(parts) or name


text = open(map_path).read()
text = text[text.find("Linker script and memory map"):]
out_sec, pending, total, by_obj, by_sec = None, None, 0, Counter(), Counter()
for line in text.splitlines():
    m = re.match(r"^(\.[A-Za-z0-9_.]+)", line)
    if m:
        out_sec = m.group(1)
        continue
    m = re.match(r"^ (\S+)\s*$", line)
    if m:
        pending = m.group(1)
        continue
    m = re.match(r"^ ?(\S+)?\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S+\.a\((\S+)\)|\S+)\s*$", line)
    if m:
        size, src, member = int(m.group(3), 16), m.group(4), m.group(5)
        if out_sec in FLASH and "libglocal.a(" in src and size:
            total += size
            name = m.group(1) or pending or ""
            if any(t in name for t in FORBIDDEN):
                linked_fmt.append(name)
            if "9panicking" in name or "rust_begin_unwind" in name:
                panics.append(name)
            by_obj[re.sub(r"-[0-9a-f]{16}", "", member.split(".")[0])] += size
            by_sec[readable(name)] += size
        pending = None

print(f"flash used by libglocal.a (code + constants, weights excluded): {total} bytes "
      f"({total / 1024:.1f} KiB, limit {limit / 1024:.0f} KiB)")
for obj, size in by_obj.most_common(8):
    print(f"  {size:7d}  {obj}")
print("largest input sections:")
for sec, size in by_sec.most_common(14):
    print(f"  {size:7d}  {sec[:90]}")
ok = 0 < total <= limit

if linked_fmt:
    print(f"FAIL: core::fmt / panic-message / soft-float f64 code linked from libglocal.a: {linked_fmt[:6]}")
    ok = False
else:
    print("core::fmt, panic messages, soft-float f64: none linked")
# Reported, not enforced: a panic here only reaches the `udf` trap (no message is formatted).
print(f"panic paths linked: {len(panics)} sections" + (f" {panics[:4]}" if panics else " (none)"))

undef = subprocess.run(["arm-none-eabi-nm", "-u", lib], capture_output=True, text=True, check=True).stdout
heap = sorted({s for s in re.findall(r"\bU (\S+)", undef)
               if s in ("malloc", "calloc", "realloc", "free", "_sbrk", "_malloc_r", "_free_r")
               or s.startswith("__rust_alloc") or s.startswith("__rust_dealloc") or s.startswith("__rg_")})
if heap:
    print(f"FAIL: libglocal.a needs an allocator: {heap}")
    ok = False
else:
    print("heap: none (libglocal.a references no allocator symbol)")
if not ok:
    print("FAIL: footprint limit crossed")
sys.exit(0 if ok else 1)
