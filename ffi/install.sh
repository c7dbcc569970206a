#!/usr/bin/env bash
# Installs the C API of glocal into PREFIX:
#   PREFIX/include/glocal.h
#   PREFIX/lib/libglocal.a
#   PREFIX/lib/libglocal.so.X.Y.Z, with the links libglocal.so.X (its SONAME) and libglocal.so
#   (for -lglocal), when the shared library was built
#   PREFIX/lib/pkgconfig/glocal.pc
#   PREFIX/lib/cmake/glocal/glocalConfig.cmake, glocalConfigVersion.cmake
#
# usage: ffi/install.sh PREFIX [LIBDIR]
#   LIBDIR: where libglocal.a/.so were built (default: target/release, after
#   `cargo build --release -p glocal-ffi`). Run from anywhere.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
prefix=${1:?usage: ffi/install.sh PREFIX [LIBDIR]}
libdir=${2:-${CARGO_TARGET_DIR:-$root/target}/release}

[ -f "$libdir/libglocal.a" ] || { echo "install.sh: $libdir/libglocal.a not found: run cargo build --release -p glocal-ffi" >&2; exit 1; }
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -1)
major=${version%%.*}; rest=${version#*.}; minor=${rest%%.*}
# What a static link needs besides libglocal.a on Linux (rustc --print native-static-libs).
native_libs="-lpthread -ldl -lm"

mkdir -p "$prefix/include" "$prefix/lib/pkgconfig" "$prefix/lib/cmake/glocal"
install -m 644 "$root/include/glocal.h" "$prefix/include/"
install -m 644 "$libdir/libglocal.a" "$prefix/lib/"
if [ -f "$libdir/libglocal.so" ]; then
  install -m 755 "$libdir/libglocal.so" "$prefix/lib/libglocal.so.$version"
  ln -sf "libglocal.so.$version" "$prefix/lib/libglocal.so.$major"
  ln -sf "libglocal.so.$major" "$prefix/lib/libglocal.so"
fi
subst() { sed -e "s|@VERSION@|$version|g" -e "s|@VERSION_MAJOR@|$major|g" -e "s|@VERSION_MINOR@|$minor|g" \
              -e "s|@NATIVE_LIBS@|$native_libs|g" "$1" > "$2"; }
subst "$here/pkg/glocal.pc.in" "$prefix/lib/pkgconfig/glocal.pc"
subst "$here/pkg/glocalConfig.cmake.in" "$prefix/lib/cmake/glocal/glocalConfig.cmake"
subst "$here/pkg/glocalConfigVersion.cmake.in" "$prefix/lib/cmake/glocal/glocalConfigVersion.cmake"
echo "installed glocal $version into $prefix"
