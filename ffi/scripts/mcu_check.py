#!/usr/bin/env python3
"""Checks a firmware image linked from the bare-metal libglocal.a (ffi/tests/c/mcu_link.c).

usage: mcu_check.py <linked.elf> <baseline.elf>

- no heap: malloc/free/_sbrk/__rust_alloc are not linked in;
- the exported glocal_* functions never call panic machinery directly (prints every function
  that does call into it, so core-side panic paths are visible too);
- prints the flash glocal adds (text + rodata + data of the image minus the baseline's).
Exit status 1 if a check fails.
"""
import re
import subprocess
import sys

elf, base = sys.argv[1], sys.argv[2]
fail = False

syms = subprocess.run(["arm-none-eabi-nm", elf], capture_output=True, text=True, check=True).stdout
heap = [s for s in ("malloc", "free", "_sbrk", "__rust_alloc", "__rust_dealloc") if re.search(rf" {s}$", syms, re.M)]
if heap:
    print(f"FAIL: heap functions linked in: {heap}")
    fail = True
else:
    print("ok: no heap functions (malloc/free/_sbrk/__rust_alloc) in the image")

dis = subprocess.run(["arm-none-eabi-objdump", "-d", "-C", "--no-show-raw-insn", elf],
                     capture_output=True, text=True, check=True).stdout
callers, cur = {}, None
for line in dis.splitlines():
    m = re.match(r"^[0-9a-f]+ <(.*)>:", line)
    if m:
        cur = m.group(1)
        continue
    m = re.search(r"\s(?:bl|b\.w|b|blx)\s+[0-9a-f]+ <(.*?)(?:\+0x[0-9a-f]+)?>", line)
    if m and cur:
        callers.setdefault(m.group(1), set()).add(cur)
panic_fns = {t for t in callers if "core::panicking" in t or "rust_begin_unwind" in t}
direct = sorted({c for t in panic_fns for c in callers[t]} - panic_fns)
exported = [c for c in direct if re.match(r"^glocal_[a-z0-9_]+$", c)]
print("functions calling panic machinery:", ", ".join(direct) if direct else "none")
if exported:
    print(f"FAIL: exported C functions with a direct panic path: {exported}")
    fail = True
else:
    print("ok: no exported glocal_* function calls panic machinery directly")


def flash(path):
    out = subprocess.run(["arm-none-eabi-size", "-A", path], capture_output=True, text=True, check=True).stdout
    sizes = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[1].isdigit():
            sizes[parts[0]] = int(parts[1])
    return sum(sizes.get(s, 0) for s in (".text", ".rodata", ".data", ".ARM.exidx"))


added = flash(elf) - flash(base)
print(f"flash added by glocal (whole C API, no weights): {added} bytes ({added / 1024:.1f} KiB)")
sys.exit(1 if fail else 0)
