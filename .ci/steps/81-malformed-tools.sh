#!/usr/bin/env bash
# Malformed input through the command-line tool: every bad blob, .npz and feature file
# (written by fuzz/seedgen --malformed; nothing committed) must give exit code 1, exactly one
# line on stderr starting "glocal: ", no output file, and an existing destination untouched.
# The good fixtures must work (exit 0). Skipped when the CLI is not part of this tree.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ ! -f cli/Cargo.toml ]; then
  echo "malformed-tools: no cli/ in this tree: skipped"
  exit 0
fi
cargo build --quiet -p glocal-cli
target="${CARGO_TARGET_DIR:-target}"
case "$target" in /*) ;; *) target="$(pwd)/$target" ;; esac
bin="$target/debug/glocal"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cargo run --quiet --manifest-path fuzz/seedgen/Cargo.toml -- --malformed "$dir/in"
cd "$dir"
fail=0
checks=0

# expect_error <what> <output> -- <command...>
expect_error() {
  local what=$1 out=$2; shift 3
  checks=$((checks + 1))
  rm -f "$out"
  local code=0
  "$@" 2>err.txt >/dev/null || code=$?
  local lines; lines=$(wc -l <err.txt)
  if [ "$code" != 1 ] || [ "$lines" -lt 1 ] || ! head -n1 err.txt | grep -q '^glocal: ' || [ -e "$out" ]; then
    echo "FAIL $what: exit $code, stderr:"; cat err.txt; [ -e "$out" ] && echo "  (output file $out was created)"
    fail=1
  fi
  # Notes/cautions may precede; exactly one error line.
  if [ "$(grep -vc '^glocal: \(note\|caution\):' err.txt)" != 1 ]; then
    echo "FAIL $what: expected one error line:"; cat err.txt; fail=1
  fi
  # An existing destination is left untouched.
  echo sentinel >"$out"
  "$@" 2>/dev/null >/dev/null || true
  if [ "$(cat "$out")" != sentinel ]; then echo "FAIL $what: existing $out was modified"; fail=1; fi
  rm -f "$out" .glocal-*.part
  if ls -A | grep -q '\.part$'; then echo "FAIL $what: temporary file left behind"; fail=1; fi
}

expect_ok() {
  local what=$1; shift 2
  checks=$((checks + 1))
  if ! "$@" >/dev/null 2>err.txt; then echo "FAIL $what (should work):"; cat err.txt; fail=1; fi
}

expect_ok "good blob" -- "$bin" align in/good.glw in/good_features.npy -o ok.npy
expect_ok "good npz" -- "$bin" align in/good.npz in/good_features.npy -o ok.npy
expect_ok "NaN row (documented: NaN out for that row only)" -- "$bin" align in/good.glw in/good_features_nan_row.npy -o ok.npy
expect_ok "pack good npz" -- "$bin" pack in/good.npz -o ok.glw
expect_ok "inspect good blob" -- "$bin" inspect in/good.glw

for f in in/bad_blob_*.glw; do
  expect_error "align $f" out.npy -- "$bin" align "$f" in/good_features.npy -o out.npy
  expect_error "inspect $f" none -- "$bin" inspect "$f"
done
for f in in/bad_npz_*.npz; do
  expect_error "pack $f" out.glw -- "$bin" pack "$f" -o out.glw
  expect_error "align $f" out.npy -- "$bin" align "$f" in/good_features.npy -o out.npy
done
for f in in/bad_features_*.npy; do
  expect_error "align features $f" out.npy -- "$bin" align in/good.glw "$f" -o out.npy
done

if [ "$fail" != 0 ]; then echo "malformed-tools: FAILED"; exit 1; fi
echo "malformed-tools: ok ($checks cases: exit 1, one error line, no output, destination untouched)"
