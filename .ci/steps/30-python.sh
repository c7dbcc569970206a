#!/usr/bin/env bash
# The Python package (python/): `pip install ./python` as the README tells a new user (maturin
# from PyPI, pinned in python/pyproject.toml), the pytest suite (golden sets from ../shared,
# bad input, threads, the GIL, fetch from a loopback server), then the aarch64 (Jetson) wheel
# cross-compiled with maturin and its tags and machine checked.
set -euo pipefail
cd "$(dirname "$0")/../.."
MATURIN_VERSION=1.16.0
PYTEST_VERSION=9.2.0
if [ ! -f ../shared/golden/index.json ]; then
  echo "30-python: ../shared/golden is missing: the pytest suite needs it"; exit 1
fi
for t in python3 aarch64-linux-gnu-gcc aarch64-linux-gnu-readelf; do
  command -v "$t" >/dev/null || { echo "30-python: $t missing (run .ci/setup.sh)"; exit 1; }
done
target=${CARGO_TARGET_DIR:-target}
mkdir -p "$target"
target=$(cd "$target" && pwd)
venv=$target/py-venv
# Idempotent: an existing venv is reused; pip only installs what is missing.
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
py=$venv/bin/python
timeout 600 "$py" -m pip install -q --disable-pip-version-check "maturin==$MATURIN_VERSION" "pytest==$PYTEST_VERSION" \
  || { echo "30-python: pip could not install maturin/pytest from PyPI"; exit 1; }

timeout 1800 "$py" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps ./python \
  || { echo "30-python: 'pip install ./python' failed (or took over 30 min)"; exit 1; }
timeout 300 "$py" -m pip install -q --disable-pip-version-check numpy \
  || { echo "30-python: pip could not install numpy"; exit 1; }

# pytest exits 5 when it collected no test: that fails this step like any failure. Run from
# the repository root: from python/ the source folder glocal/ would shadow the installed package.
timeout 600 "$py" -m pytest -q -p no:cacheprovider python/tests \
  || { echo "30-python: pytest failed (or ran no test, or took over 10 min)"; exit 1; }

# Jetson wheel: abi3 needs no target interpreter; the linker comes from .cargo/config.toml.
wheels=$target/wheels-aarch64
rm -rf "$wheels"
timeout 1800 "$venv/bin/maturin" build -q --release --target aarch64-unknown-linux-gnu \
  -m python/Cargo.toml --out "$wheels" \
  || { echo "30-python: aarch64 wheel build failed (or took over 30 min)"; exit 1; }
"$py" - "$wheels" <<'PY'
import pathlib, re, subprocess, sys, zipfile
wheels = list(pathlib.Path(sys.argv[1]).glob("*.whl"))
assert len(wheels) == 1, f"30-python: expected one aarch64 wheel, found {wheels}"
w = wheels[0]
m = re.fullmatch(r"glocal-[0-9.]+-cp39-abi3-(manylinux_2_\d+_aarch64|linux_aarch64)\.whl", w.name)
assert m, f"30-python: wheel name {w.name} lacks the cp39-abi3 ... aarch64 tags"
z = zipfile.ZipFile(w)
tags = [l.split(": ", 1)[1] for l in z.read(next(n for n in z.namelist() if n.endswith(".dist-info/WHEEL"))).decode().splitlines() if l.startswith("Tag: ")]
assert tags == [w.name[:-4].split("-", 2)[2]], f"30-python: WHEEL tags {tags} disagree with the file name"
for need in ("glocal/__init__.py", "glocal/_glocal.pyi", "glocal/py.typed", "glocal/_glocal.abi3.so"):
    assert need in z.namelist(), f"30-python: wheel lacks {need}"
so = pathlib.Path(sys.argv[1]) / "_glocal.abi3.so"
so.write_bytes(z.read("glocal/_glocal.abi3.so"))
machine = subprocess.run(["aarch64-linux-gnu-readelf", "-h", str(so)], capture_output=True, text=True, check=True).stdout
assert "AArch64" in machine, f"30-python: the extension is not an AArch64 ELF:\n{machine}"
print(f"30-python: {w.name}: tags {tags[0]}, AArch64 extension, stubs and py.typed present")
PY
