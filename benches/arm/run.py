#!/usr/bin/env python3
"""The Arm cost harness: one table of glocal and its peers on emulated Arm cores.

Run it through `bash benches/arm/run.sh` (see benches/README.md, "Arm cost harness").

For every core it builds a bench program (benches/arm/a64 for aarch64 user mode, the firmware
benches/arm/mcu for Cortex-M, and the same firmware as a user-mode executable for riscv32imac,
the FPU-less RISC-V core of issue 23), runs it under qemu with the instruction-count plugin of
../shared/tools/qemu-insncount (compiled here, at run time), and reads one `case` line per
measurement window from the program and one `window` count per window from the plugin:

* instructions per multiply-add (MAC) = (window - empty window) / MACs of the call;
* the error of every result against the f64 oracle (max |y - y_ref| / max |y_ref|), checked
  against the dtype's bound: a wrong kernel fails the run and is never reported as a cost;
* on aarch64, llvm-mca cycles per MAC of the hot loop that ran: the plugin's `hist=` output
  names the most executed addresses, the run of addresses that all executed the most times is
  the loop body, llvm-objdump disassembles it from the binary (or from OpenBLAS), llvm-mca
  models it (`-mcpu` of the core), and MACs per iteration come from the loop's FMA count and
  vector width (printed, so a reader can check them).

Exit status 1 when any result disagrees with its oracle (the table is printed, the failures
below it); a failed build, a failed or hung qemu run, or plugin windows that do not match the
cases stop the run at once with a one-line `FAILED` message.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SHARED = Path(os.environ.get("GLOCAL_SHARED", ROOT.parent / "shared"))
CACHE = Path(os.environ.get("GLOCAL_ARM_COST_CACHE", ROOT / "target" / "arm-cost"))

# The weight dtypes measured everywhere: name -> (error bound as a fraction of max |y_ref|,
# bytes per weight, which sizes the Cortex-M0's transform to its flash).
# THE one list: a new dtype (e.g. q8) is one entry here once glocal can pack it.
DTYPES = {"f32": (4e-6, 4), "f16": (1e-3, 2), "bf16": (8e-3, 2), "i8d": (8e-3, 1), "q8": (8e-3, 1)}
# Lanes of an integer dot product per multiply-add of the transform: the q8 SDOT kernel splits
# each 12-bit activation into two int8 digits (one SDOT each), so two lanes make one MAC.
DOT_LANES_PER_MAC = {"q8": 2}

# Peers: the bound their f32 results must meet (CMSIS f16 accumulates in f16 and its q7 path
# quantizes x: their errors are reported, and q7 is checked bit-exactly against an integer
# oracle inside the firmware instead).
PEER_BOUND = {("openblas", "sgemv_n"): 4e-6, ("openblas", "sgemv_t"): 4e-6, ("openblas", "sgemm"): 4e-6, ("cmsis", "f32"): 4e-6}

# The open issues' targets, printed beside the measurements they judge (they do not fail the
# run: they are goals). (core, dtype, batch, metric, limit, issue); metric "insn" is insn/MAC,
# "mca" llvm-mca cycles/MAC; a limit that is a string is relative to another row:
# "sgemm*1.05" = 1.05 x OpenBLAS sgemm's cycles/MAC at that batch, "sgemv" = OpenBLAS's
# better sgemv, "b1*0.75" = 0.75 x the same dtype at batch 1, "f16*0.5" = half the f16 path.
TARGETS = [
    ("Cortex-A57", "f32", 64, "mca", "sgemm*1.05", "#21"),
    ("Neoverse-N1", "f32", 64, "mca", "sgemm*1.05", "#21"),
    ("Cortex-A57", "f32", 1, "mca", "sgemv", "#21"),
    ("Neoverse-N1", "f32", 1, "mca", "sgemv", "#21"),
    ("Cortex-A57", "f16", 1, "mca", 0.40, "#21"),
    ("Cortex-A57", "bf16", 1, "mca", 0.40, "#21"),
    ("Neoverse-N1", "f16", 1, "mca", 0.26, "#21"),
    ("Neoverse-N1", "bf16", 1, "mca", 0.26, "#21"),
    ("Cortex-M55", "f32", 1, "insn", 0.60, "#22"),
    ("Cortex-M55", "f16", 1, "insn", 0.70, "#22"),
    ("Cortex-M55", "bf16", 1, "insn", 0.70, "#22"),
    ("Cortex-M55", "i8d", 1, "insn", 0.95, "#22"),
    ("Cortex-M55", "f32", 8, "insn", "b1*0.75", "#22"),
    ("Cortex-M55", "f16", 8, "insn", "b1*0.75", "#22"),
    ("Cortex-M55", "bf16", 8, "insn", "b1*0.75", "#22"),
    ("Cortex-M55", "i8d", 8, "insn", "b1*0.75", "#22"),
    ("Cortex-M0", "q8", 1, "insn", 8.0, "#23"),
    ("Cortex-M3", "q8", 1, "insn", 5.0, "#23"),
    ("Cortex-M4F", "q8", 1, "insn", 1.2, "#23"),
    ("RISC-V rv32imac", "q8", 1, "insn", 6.0, "#23"),
    ("Neoverse-N1", "q8", 1, "mca", "f16*0.5", "#23"),
]

OPENBLAS = "/usr/lib/aarch64-linux-gnu/openblas-serial/libopenblas.so.0"
LLVM_BIN = Path(os.environ.get("GLOCAL_LLVM_BIN", "/usr/lib/llvm-19/bin"))
QEMU_TIMEOUT = int(os.environ.get("GLOCAL_ARM_QEMU_TIMEOUT", "300"))
HIST = 800  # most executed addresses per window: more than any hot loop's length (q8 on M4F: 632)

CMSIS_VERSION = "1.10.3"


@dataclass
class Core:
    """One emulated core: how to build its bench program and how to run it."""

    name: str
    kind: str  # "a64", "mcu" (qemu-system-arm) or "rv32" (the mcu firmware in qemu-riscv32)
    qemu: list[str]
    d: int
    batches: list[int]
    target: str = ""  # Rust target (mcu)
    rustflags: str = ""  # extra RUSTFLAGS (mcu)
    board: str = ""  # memory map of the firmware (mcu)
    env: dict[str, str] = field(default_factory=dict)
    mca_cpu: str = ""  # llvm-mca -mcpu for the hot loops ("" = none)
    objdump_args: list[str] = field(default_factory=list)
    cflags: list[str] = field(default_factory=list)  # CMSIS-DSP build ("" = no CMSIS peer)
    flash_budget: int = 0  # bytes for one blob when the flash cannot hold every dtype's (0: no limit)
    dtypes: list[str] = field(default_factory=list)  # the dtypes measured here ([]: all)


def a64_core(name: str, cpu: str, coretype: str) -> Core:
    return Core(
        name=name,
        kind="a64",
        qemu=["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu", "-cpu", cpu],
        d=512,
        batches=[1, 8, 64],
        # OpenBLAS picks its kernels from the CPU it detects; say it, as on the real board.
        env={"OPENBLAS_CORETYPE": coretype, "GLOCAL_ARM_OPENBLAS": OPENBLAS},
        mca_cpu=cpu,
    )


def mcu_core(name: str, machine: str, cpu: str, target: str, board: str, d: int, **kw) -> Core:
    qemu = ["qemu-system-arm", "-M", machine]
    if cpu:
        qemu += ["-cpu", cpu]
    qemu += ["-nographic", "-monitor", "none", "-serial", "none", "-semihosting-config", "enable=on,target=native"]
    return Core(name=name, kind="mcu", qemu=qemu, d=d, batches=[1, 8], target=target, board=board, **kw)


M3_CFLAGS = ["-mcpu=cortex-m3", "-mfloat-abi=soft"]
M4_CFLAGS = ["-mcpu=cortex-m4", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]
M7_CFLAGS = ["-mcpu=cortex-m7", "-mfloat-abi=hard", "-mfpu=fpv5-d16"]
M55_CFLAGS = ["-mcpu=cortex-m55", "-mfloat-abi=hard"]

CORES = {
    "a57": a64_core("Cortex-A57", "cortex-a57", "CORTEXA57"),
    "n1": a64_core("Neoverse-N1", "neoverse-n1", "NEOVERSEN1"),
    "m4": mcu_core(
        "Cortex-M4F", "mps2-an386", "cortex-m4", "thumbv7em-none-eabihf", "an386", 512, cflags=M4_CFLAGS, mca_cpu="cortex-m4"
    ),
    "m7": mcu_core(
        "Cortex-M7", "mps2-an500", "cortex-m7", "thumbv7em-none-eabihf", "an500", 512, cflags=M7_CFLAGS, mca_cpu="cortex-m7"
    ),
    "m55": mcu_core(
        "Cortex-M55",
        "mps3-an547",
        "",
        "thumbv8m.main-none-eabihf",
        "an547",
        512,
        rustflags="-C target-cpu=cortex-m55",
        cflags=M55_CFLAGS,
        mca_cpu="cortex-m55",
        objdump_args=["--mattr=+mve.fp"],
    ),
    # FPU-less Cortex-M3 (a target core of #23's integer path): soft float, CMSIS without DSP;
    # no llvm-mca (the hot loops of soft float are compiler-builtins' routines, not FMAs).
    "m3": mcu_core(
        "Cortex-M3", "mps2-an385", "cortex-m3", "thumbv7m-none-eabi", "an386", 512, cflags=M3_CFLAGS
    ),
    # RISC-V rv32imac (no FPU, soft float like the M0/M3): the same firmware as a static Linux
    # executable under qemu-riscv32 (user mode; the plugin counts guest instructions the same).
    "rv32": Core(
        name="RISC-V rv32imac",
        kind="rv32",
        qemu=["qemu-riscv32"],
        d=512,
        batches=[1, 8],
        target="riscv32imac-unknown-none-elf",
        board="rv32",
        # The integer path is what an FPU-less core runs (issue 23); the float dtypes there
        # would measure compiler-builtins' soft float and lengthen CI for nothing.
        dtypes=["q8"],
    ),
    # 256 KiB of flash: d = 256 (a 256 x 256 f32 blob alone fills it: f32 runs at d = 128).
    "m0": mcu_core("Cortex-M0", "microbit", "", "thumbv6m-none-eabi", "microbit", 256, flash_budget=160 * 1024),
}


# ---------------------------------------------------------------------------------------------
# Small helpers


def log(msg: str) -> None:
    print(f"arm-cost: {msg}", file=sys.stderr, flush=True)


def run(cmd: list[str], timeout: int | None = None, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=False, text=True, capture_output=True, timeout=timeout, **kw)


def fail_cmd(what: str, p: subprocess.CompletedProcess) -> None:
    sys.stderr.write(p.stdout[-4000:] + p.stderr[-4000:])
    raise SystemExit(f"arm-cost: FAILED: {what} (exit {p.returncode})")


def plugin() -> Path:
    """Compiles the shared instruction-count plugin into the cache (never into the repo)."""
    src = SHARED / "tools" / "qemu-insncount" / "insncount.c"
    if not src.is_file():
        raise SystemExit(f"arm-cost: FAILED: {src} not found (put ../shared beside the checkout or set GLOCAL_SHARED)")
    out = CACHE / "tools" / f"libinsncount-{hashlib.sha256(src.read_bytes()).hexdigest()[:12]}.so"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        p = run(["gcc", "-O2", "-shared", "-fPIC", "-o", str(out), str(src)])
        if p.returncode:
            fail_cmd("compiling the qemu plugin", p)
    return out


def symbol(nm: str, binary: Path, name: str) -> int:
    p = run([nm, str(binary)])
    for line in p.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == name:
            return int(parts[0], 16)
    raise SystemExit(f"arm-cost: FAILED: no symbol {name} in {binary}")


# ---------------------------------------------------------------------------------------------
# Peers' sources (downloaded into the cache at run time, never committed)


def cmsis_sources() -> Path:
    """CMSIS-DSP's C sources from its PyPI sdist (cached)."""
    dest = CACHE / f"cmsisdsp-{CMSIS_VERSION}"
    marker = dest / ".ok"
    if marker.exists():
        return dest / f"cmsisdsp-{CMSIS_VERSION}"
    dl = CACHE / "downloads"
    dl.mkdir(parents=True, exist_ok=True)
    sdist = dl / f"cmsisdsp-{CMSIS_VERSION}.tar.gz"
    if not sdist.exists():
        log(f"downloading the cmsisdsp {CMSIS_VERSION} sdist from PyPI")
        p = run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "--no-build-isolation",
             f"cmsisdsp=={CMSIS_VERSION}", "-d", str(dl)],
            timeout=300,
        )
        if p.returncode or not sdist.exists():
            fail_cmd(f"pip download cmsisdsp=={CMSIS_VERSION}", p)
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    with tarfile.open(sdist) as tar:
        tar.extractall(dest, filter="data")
    marker.touch()
    return dest / f"cmsisdsp-{CMSIS_VERSION}"


# ---------------------------------------------------------------------------------------------
# Building the bench programs


def cargo_build(crate: Path, target_dir: Path, env: dict[str, str], what: str, target: str | None = None) -> None:
    cmd = ["cargo", "build", "--release", "-q"]
    if target:
        cmd += ["--target", target]
    full_env = dict(os.environ, CARGO_TARGET_DIR=str(target_dir), **env)
    log(f"building {what}")
    p = run(cmd, cwd=crate, env=full_env, timeout=1800)
    if p.returncode:
        fail_cmd(f"building {what}", p)


def build_a64() -> Path:
    target_dir = CACHE / "a64"
    cargo_build(HERE / "a64", target_dir, {}, "the aarch64 bench (benches/arm/a64)")
    return target_dir / "aarch64-unknown-linux-gnu" / "release" / "glocal-arm-cost-a64"


def build_mcu(core: Core, dtypes: list[str], cmsis: Path | None) -> Path:
    # One target dir for every firmware: a change of board, dtypes or CMSIS flags re-runs the
    # build script and relinks the firmware, while glocal and cortex-m-rt stay built.
    target_dir = CACHE / "mcu"
    env = {
        "GLOCAL_ARM_BOARD": core.board,
        "GLOCAL_ARM_D": str(core.d),
        "GLOCAL_ARM_BATCHES": ",".join(map(str, core.batches)),
        "GLOCAL_ARM_DTYPES": ",".join(dtypes),
        "GLOCAL_SHARED": str(SHARED),
    }
    # cortex-m-rt's linker script (the rv32 user-mode executable needs none).
    flags = (["-C", "link-arg=-Tlink.x"] if core.kind == "mcu" else []) + core.rustflags.split()
    env["CARGO_ENCODED_RUSTFLAGS"] = "\x1f".join(flags)
    if cmsis is not None and core.cflags:
        env["GLOCAL_ARM_CMSIS"] = str(cmsis)
        env["GLOCAL_ARM_CMSIS_CFLAGS"] = " ".join(core.cflags)
    cargo_build(HERE / "mcu", target_dir, env, f"the {core.name} firmware ({', '.join(dtypes)})", core.target)
    return target_dir / core.target / "release" / "glocal-arm-cost-mcu"


# ---------------------------------------------------------------------------------------------
# Running and parsing


@dataclass
class Case:
    code: str  # glocal / openblas / cmsis
    variant: str  # dtype or peer function
    batch: int
    macs: int
    err: float
    ref: float
    kernel: str
    insns: int = 0
    hist: list[tuple[int, int]] = field(default_factory=list)
    bound: float | None = None
    ok: bool = True
    loop: str = ""
    mca: float | None = None
    target: str = ""

    @property
    def insn_per_mac(self) -> float:
        return self.insns / self.macs if self.macs else float("nan")


def run_bench(core: Core, binary: Path, args: list[str], plug: Path, nm: str) -> tuple[list[Case], dict[str, str]]:
    start = symbol(nm, binary, "glocal_bench_start")
    stop = symbol(nm, binary, "glocal_bench_stop")
    logf = CACHE / "logs" / f"{core.name}.plugin.log"
    logf.parent.mkdir(parents=True, exist_ok=True)
    logf.unlink(missing_ok=True)
    cmd = core.qemu + ["-plugin", f"{plug},start={start:#x},stop={stop:#x},hist={HIST}", "-d", "plugin", "-D", str(logf)]
    cmd += ["-kernel", str(binary)] if core.kind == "mcu" else [str(binary)] + args
    log(f"running {core.name}: {' '.join(cmd[:4])} ...")
    t0 = time.time()
    p = run(["timeout", str(QEMU_TIMEOUT)] + cmd, env=dict(os.environ, **core.env))
    out_log = CACHE / "logs" / f"{core.name}.out"
    out_log.write_text(p.stdout + p.stderr)
    if p.returncode == 124:
        raise SystemExit(f"arm-cost: FAILED: {core.name} timed out after {QEMU_TIMEOUT} s under qemu (output: {out_log})")
    if p.returncode:
        sys.stderr.write(p.stdout[-3000:] + p.stderr[-3000:])
        raise SystemExit(f"arm-cost: FAILED: {core.name} bench exited {p.returncode} (output: {out_log})")
    log(f"{core.name}: {time.time() - t0:.1f} s under qemu")
    cases, info = [], {}
    for line in p.stdout.splitlines():
        f = line.split()
        if not f:
            continue
        if f[0] == "case" and len(f) == 8:
            cases.append(Case(f[1], f[2], int(f[3]), int(f[4]), float(f[5]), float(f[6]), f[7]))
        elif f[0] == "info" and len(f) >= 3:
            info[f[1]] = " ".join(f[2:])
        elif f[0] in ("error", "FAIL"):
            raise SystemExit(f"arm-cost: FAILED: {core.name}: {line}")
    windows: list[tuple[int, list[tuple[int, int]]]] = []
    for line in logf.read_text().splitlines():
        if line.startswith("window "):
            windows.append((int(line.split()[1]), []))
        elif line.startswith("pc ") and windows:
            _, pc, n = line.split()
            windows[-1][1].append((int(pc, 16), int(n)))
    if len(windows) != len(cases) or not cases or cases[0].code != "empty":
        raise SystemExit(
            f"arm-cost: FAILED: {core.name}: {len(windows)} plugin windows for {len(cases)} cases (see {logf}, {out_log})"
        )
    empty = windows[0][0]
    for c, (n, h) in zip(cases, windows):
        c.insns, c.hist = n - empty, h
    return cases[1:], info


def check(core: Core, cases: list[Case]) -> list[str]:
    """Applies the error bounds; returns the failures."""
    failures = []
    for c in cases:
        rel = c.err / c.ref if c.ref > 0 else float("inf")
        if c.code == "glocal":
            c.bound = DTYPES[c.variant][0] if c.variant in DTYPES else None
        else:
            c.bound = PEER_BOUND.get((c.code, c.variant))
        if c.bound is not None and not rel <= c.bound:
            c.ok = False
            failures.append(f"{core.name} {c.code} {c.variant} batch {c.batch}: error {rel:.2e} of max|y| > bound {c.bound:.0e}")
    return failures


# ---------------------------------------------------------------------------------------------
# Hot loops and llvm-mca

BRANCH = re.compile(r"^(b|b\.\w+|cbn?z|tbn?z|bne|beq|blt|bgt|ble|bge|bhi|bls|bcc|bcs|bmi|bpl|le|letp|wls|wlstp)(\.w|\.n)?$")


def hot_range(hist: list[tuple[int, int]]) -> tuple[int, int, int] | None:
    """(first, last, iterations) of the hot loop's body: every instruction of a loop body runs
    once per iteration, so a body is a run of neighbouring addresses with one count; the hot
    loop is the run that executed the most instructions (count x length)."""
    by_count: dict[int, list[int]] = {}
    for pc, n in hist:
        by_count.setdefault(n, []).append(pc)
    best: tuple[int, int, int, int] | None = None  # (score, first, last, count)
    for n, pcs in by_count.items():
        pcs.sort()
        run_start = prev = pcs[0]
        for pc in pcs[1:] + [None]:
            if pc is not None and pc - prev <= 4:  # instructions are 2 or 4 bytes apart
                prev = pc
                continue
            length = sum(1 for q in pcs if run_start <= q <= prev)
            if best is None or n * length > best[0]:
                best = (n * length, run_start, prev, n)
            if pc is not None:
                run_start = prev = pc
    if best is None or len(hist) >= HIST and best[3] == min(n for _, n in hist):
        return None  # the histogram was cut inside the candidate: no trustworthy body
    return best[1], best[2], best[3]


def disassemble(binary: Path, lo: int, hi: int, extra: list[str]) -> tuple[list[tuple[str, str]], str]:
    """(mnemonic, operands) of the instructions in [lo, hi], and the function they are in."""
    p = run([str(LLVM_BIN / "llvm-objdump"), "-d", "--no-show-raw-insn", f"--start-address={lo:#x}",
             f"--stop-address={hi + 1:#x}", *extra, str(binary)])
    insns, func = [], ""
    for line in p.stdout.splitlines():
        f = re.match(r"^[0-9a-f]+ <(.+)>:$", line)
        if f:
            func = f.group(1)
        m = re.match(r"^\s*([0-9a-f]+):\s+(\S+)\s*(.*)$", line)
        if m:
            ops = m.group(3).split("//")[0].split("@")[0].strip()
            insns.append((m.group(2), ops))
    return insns, func


def macs_per_iteration(insns: list[tuple[str, str]], dot_lanes: int = 1) -> tuple[int, str]:
    """MACs of one loop iteration from its FMA instructions and their vector width, with the
    derivation as text (e.g. `24 fmla.4s`); `dot_lanes` integer dot-product lanes make one MAC."""
    lanes = {"2s": 2, "4s": 4, "4h": 4, "8h": 8, "2d": 0}
    counts: dict[str, int] = {}
    total = 0
    for mn, ops in insns:
        key, n = None, 0
        if mn in ("fmla", "fmlal", "fmlal2", "bfmlalb", "bfmlalt"):
            m = re.match(r"v\d+\.(\w+)", ops)
            arr = m.group(1) if m else ""
            key, n = f"{mn}.{arr}", lanes.get(arr, 0)
        elif mn == "bfdot":
            key, n = "bfdot.4s", 8
        elif mn in ("sdot", "udot", "usdot"):
            key, n = f"{mn}.4s", 16 if ".4s" in ops else 8
            if dot_lanes > 1:
                key, n = f"{key} (/{dot_lanes}: digits)", n // dot_lanes
        elif mn in ("smlal", "smlal2", "umlal", "umlal2"):
            m = re.match(r"v\d+\.(\w+)", ops)
            arr = m.group(1) if m else ""
            key, n = f"{mn}.{arr}", lanes.get(arr, 0)
        elif mn in ("smmla", "ummla", "usmmla"):
            key, n = mn, 32  # (2 x 8) x (8 x 2) int8
        elif mn == "bfmmla":
            key, n = mn, 16  # (2 x 4) x (4 x 2) bf16
        elif mn in ("fmadd",) and ops.startswith("s"):
            key, n = "fmadd.s", 1
        elif mn in ("vfma.f32", "vmla.f32", "vfmas.f32", "vfma.f16", "vfmas.f16", "vmla.f16"):
            # Scalar FPU (s registers) or Helium (q registers: 4 f32 or 8 f16 lanes).
            key, n = mn, (8 if mn.endswith("16") else 4) if ops.startswith("q") else 1
        elif mn in ("smlad", "smladx", "smuad"):
            key, n = mn, 2  # two 16 x 16 products per instruction
        elif mn in ("mla", "smlabb", "smlatt", "smlabt", "smlatb"):
            key, n = mn, 1
        elif mn.startswith(("vmlava", "vmladava", "vmlav", "vmladav")):
            width = {"s8": 16, "s16": 8, "s32": 4, "u8": 16, "u16": 8}.get(mn.rsplit(".", 1)[-1], 0)
            key, n = mn, width
        if key:
            counts[key] = counts.get(key, 0) + 1
            total += n
    text = " + ".join(f"{v} {k}" for k, v in sorted(counts.items())) or "no FMA"
    return total, text


def llvm_mca(insns: list[tuple[str, str]], cpu: str, triple: str) -> float | None:
    """Cycles per iteration of the loop body under llvm-mca's model of `cpu`."""
    lines = ["loop:"]
    for mn, ops in insns:
        if mn in ("le", "letp"):
            continue  # no scheduling data for Helium's loop end (toolchain.md)
        if BRANCH.match(mn) or mn in ("bl", "blx"):
            # Branch targets as a label llvm-mca can parse: `b.ls 0x40f594 <sym>` -> `b.ls loop`.
            ops = re.sub(r"(0x)?[0-9a-f]+\s*(<[^>]*>)?$", "loop", ops)
        ops = re.sub(r"\s*<[^>]*>", "", ops)  # symbolic comments of other operands
        lines.append(f"  {mn} {ops}")
    iters = 200
    cmd = [str(LLVM_BIN / "llvm-mca"), f"-mtriple={triple}", f"-mcpu={cpu}", f"-iterations={iters}"]
    p = run(cmd, input="\n".join(lines) + "\n")
    m = re.search(r"Total Cycles:\s+(\d+)", p.stdout)
    if p.returncode or not m:
        log(f"llvm-mca -mcpu={cpu} failed: {p.stderr.strip()[:300]}")
        return None
    return int(m.group(1)) / iters


def analyse_loops(core: Core, cases: list[Case], binary: Path, info: dict[str, str]) -> None:
    triple = {"a64": "aarch64-linux-gnu"}.get(core.kind, "thumbv8.1m.main-none-eabihf" if core.mca_cpu == "cortex-m55" else "thumbv7em-none-eabihf")
    ob_base = int(info["openblas_base"], 16) if "openblas_base" in info else None
    for c in cases:
        # Every aarch64 case; batch 1 on Cortex-M (a rough cycle view: llvm-mca's M-profile
        # models are coarse and assume single-cycle memory).
        wanted = core.kind == "a64" or c.batch == 1
        if not wanted or not core.mca_cpu:
            continue
        r = hot_range(c.hist)
        if r is None:
            c.loop = "no hot loop found"
            continue
        lo, hi, iters = r
        file, off = binary, 0
        if c.code == "openblas" and ob_base is not None and lo >= ob_base:
            file, off = Path(OPENBLAS).resolve(), ob_base
        insns, func = disassemble(file, lo - off, hi - off, core.objdump_args)
        if c.kernel == "-" and func:
            c.kernel = func  # a peer's kernel, named by its library's symbols
        if not insns:
            c.loop = f"cannot disassemble {lo:#x}"
            continue
        macs, how = macs_per_iteration(insns, DOT_LANES_PER_MAC.get(c.variant, 1) if c.code == "glocal" else 1)
        cyc = llvm_mca(insns, core.mca_cpu, triple)
        coverage = macs * iters / c.macs if c.macs else 0
        back = BRANCH.match(insns[-1][0]) is not None
        c.loop = (
            f"{len(insns)} insns, {how} = {macs} MAC/it; {cyc:.2f} cyc/it" if cyc is not None else f"{len(insns)} insns, {how}"
        )
        c.loop += f"; {iters} it = {coverage:.0%} of MACs"
        if not back:
            c.loop += " (body does not end in a branch)"
        if cyc is not None and macs:
            c.mca = cyc / macs


# ---------------------------------------------------------------------------------------------
# The table


def fmt_err(c: Case) -> str:
    rel = c.err / c.ref if c.ref > 0 else float("inf")
    if c.bound is None:
        return f"{rel:.1e} (reported)"
    return f"{rel:.1e} {'<=' if c.ok else '>'} {c.bound:.0e}"


def apply_targets(rows: list[tuple[Core, Case]]) -> None:
    """Writes each issue target beside the row it judges: `<= limit (#issue)`, met or open."""
    def find(core: str, code: str, variant: str, batch: int) -> Case | None:
        return next((c for k, c in rows if k.name == core and c.code == code and c.variant == variant and c.batch == batch), None)

    for core, dtype, batch, metric, limit, issue in TARGETS:
        c = find(core, "glocal", dtype, batch)
        if c is None:
            continue
        value = c.insn_per_mac if metric == "insn" else c.mca
        bound = None
        if isinstance(limit, float):
            bound = limit
        elif limit == "sgemm*1.05":
            peer = find(core, "openblas", "sgemm", batch)
            bound = peer.mca * 1.05 if peer and peer.mca else None
        elif limit == "sgemv":
            peers = [find(core, "openblas", v, 1) for v in ("sgemv_n", "sgemv_t")]
            vals = [p.mca for p in peers if p and p.mca]
            bound = min(vals) if vals else None
        elif limit == "b1*0.75":
            b1 = find(core, "glocal", dtype, 1)
            bound = b1.insn_per_mac * 0.75 if b1 else None
        elif limit == "f16*0.5":
            f16 = find(core, "glocal", "f16", batch)
            bound = f16.mca * 0.5 if f16 and f16.mca else None
        if bound is None or value is None:
            continue
        unit = "insn" if metric == "insn" else "cyc"
        c.target = f"{unit} <= {bound:.3f} ({issue}): {'met' if value <= bound else 'open'}"


def table(rows: list[tuple[Core, Case]]) -> str:
    out = [
        "| core | code | weights / function | d | batch | kernel | insn/MAC | cycles/MAC (llvm-mca) | target | error / max abs y_ref | hot loop (llvm-mca input) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for core, c in rows:
        mca = f"{c.mca:.3f}" if c.mca is not None else "-"
        d = math.isqrt(c.macs // c.batch)
        out.append(
            f"| {core.name} | {c.code} | {c.variant} | {d} | {c.batch} | {c.kernel} | {c.insn_per_mac:.3f} | {mca} | {c.target or '-'} | {fmt_err(c)} | {c.loop or '-'} |"
        )
    return "\n".join(out)


def versions() -> str:
    """The emulator, model and peer versions the table was made with."""
    def first_line(cmd: list[str]) -> str:
        try:
            out = run(cmd).stdout.strip().splitlines()
        except OSError:
            return "?"
        return out[0] if out else "?"

    qemu = first_line(["qemu-system-arm", "--version"]).replace("QEMU emulator version ", "qemu ")
    mca = re.sub(r".*LLVM version ", "llvm-mca ", " ".join(run([str(LLVM_BIN / "llvm-mca"), "--version"]).stdout.split()[:5]))
    ob = Path(OPENBLAS).resolve().name if Path(OPENBLAS).exists() else "OpenBLAS absent"
    return f"{qemu}; {mca.split(' Optimized')[0]}; {ob} (Debian arm64, serial); CMSIS-DSP {CMSIS_VERSION} (PyPI sdist, arm-none-eabi-gcc -Ofast)"


def host_cpu() -> str:
    """The host's CPU as /proc/cpuinfo names it (a VM may say only "AMD EPYC": family and model
    then tell the generation, e.g. family 25 model 1 is Zen 3, model 17 Zen 4)."""
    fields: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
    except OSError:
        return "unknown"
    return f"{fields.get('model name', 'unknown')} (family {fields.get('cpu family', '?')} model {fields.get('model', '?')})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cores", default=",".join(CORES), help=f"comma list of {', '.join(CORES)} (default: all)")
    ap.add_argument("--no-cmsis", action="store_true", help="skip the CMSIS-DSP peer (no download)")
    ap.add_argument("--dtypes", default=",".join(DTYPES), help=f"comma list of {', '.join(DTYPES)} (default: all)")
    args = ap.parse_args()
    wanted = [c for c in args.cores.split(",") if c]
    unknown = [c for c in wanted if c not in CORES] + [d for d in args.dtypes.split(",") if d not in DTYPES]
    if unknown:
        raise SystemExit(f"arm-cost: unknown core(s) or dtype(s) {unknown}; known: {list(CORES)}, {list(DTYPES)}")

    t0 = time.time()
    plug = plugin()
    rows: list[tuple[Core, Case]] = []
    failures: list[str] = []
    a64_bin = None
    cmsis = None
    for key in wanted:
        core = CORES[key]
        dtypes = [d for d in args.dtypes.split(",") if d and (not core.dtypes or d in core.dtypes)]
        if not dtypes:
            continue
        if core.kind == "a64":
            a64_bin = a64_bin or build_a64()
            cases, info = run_bench(core, a64_bin, [str(core.d), ",".join(map(str, core.batches)), ",".join(dtypes)], plug,
                                    "aarch64-linux-gnu-nm")
            failures += check(core, cases)
            analyse_loops(core, cases, a64_bin, info)
        else:
            if core.cflags and not args.no_cmsis and cmsis is None:
                cmsis = cmsis_sources()
            # Cortex-M0: 256 KiB of flash hold one 256 x 256 blob of up to 2 bytes per weight,
            # not all of them: one firmware per dtype there, a wider dtype at half the size.
            groups = [[d] for d in dtypes] if core.flash_budget else [dtypes]
            cases = []
            for group in groups:
                sub = core
                if core.flash_budget and DTYPES[group[0]][1] * core.d * core.d > core.flash_budget:
                    sub = Core(**{**core.__dict__, "d": core.d // 2})
                fw = build_mcu(sub, group, None if args.no_cmsis else cmsis)
                nm = "arm-none-eabi-nm" if core.kind == "mcu" else str(LLVM_BIN / "llvm-nm")
                got, info = run_bench(sub, fw, [], plug, nm)
                failures += check(sub, got)
                analyse_loops(sub, got, fw, info)
                cases += [(sub, c) for c in got]
            rows += cases
            continue
        rows += [(core, c) for c in cases]

    apply_targets(rows)
    print(f"Arm cost harness ({time.time() - t0:.0f} s): host {host_cpu()}; {versions()}")
    print()
    print(table(rows))
    if failures:
        print()
        for f in failures:
            print(f"FAILED: {f}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
