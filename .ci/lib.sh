# shellcheck shell=bash
# Helpers for .ci/run and .ci/steps/*.sh (sourced).

CI_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# Every emulator run goes through this: a time limit and one clear line when it is reached.
EMU="$CI_DIR/emu"
QEMU_A64=(qemu-aarch64 -L /usr/aarch64-linux-gnu)

# Prints "ok" when qemu-aarch64 runs a guest that creates a thread, "hang" when it runs a
# program without threads but not one that creates a thread (qemu-user 7.2 on some hosts,
# toolchain.md section 10). Fails with one line when it cannot run even the thread-free program.
# .ci/run probes once and exports the answer in GLOCAL_QEMU_AARCH64_THREADS; setting that
# variable by hand (ok|hang) forces a mode, e.g. GLOCAL_QEMU_AARCH64_THREADS=hang to try the
# thread-free runs on a host where threads work.
qemu_aarch64_threads() {
  case "${GLOCAL_QEMU_AARCH64_THREADS:-}" in
    ok | hang) echo "$GLOCAL_QEMU_AARCH64_THREADS"; return 0 ;;
    "") ;;
    *) echo "CI: GLOCAL_QEMU_AARCH64_THREADS must be ok or hang, not '$GLOCAL_QEMU_AARCH64_THREADS'" >&2; return 1 ;;
  esac
  local d rc=0 out
  d=$(mktemp -d /tmp/glocal-qemu-probe.XXXXXX)
  cat >"$d/p.c" <<'C'
#include <pthread.h>
#include <stdio.h>
static void *f(void *a) { return a; }
int main(int argc, char **argv) {
    (void)argv;
    if (argc > 1) {
        pthread_t t;
        if (pthread_create(&t, NULL, f, NULL) != 0 || pthread_join(t, NULL) != 0) return 2;
    }
    puts("ok");
    return 0;
}
C
  aarch64-linux-gnu-gcc -O1 -pthread "$d/p.c" -o "$d/p"
  # A thread-free program finishes in well under a second; 20 s leaves room for a loaded host.
  out=$(timeout --kill-after=5 20 "${QEMU_A64[@]}" "$d/p" 2>&1) || rc=$?
  if [ "$rc" != 0 ] || [ "$out" != ok ]; then
    rm -rf "$d"
    echo "CI: qemu-aarch64 cannot run even a thread-free program on this host (exit $rc${out:+, output: $out}): aarch64 tests cannot run here" >&2
    return 1
  fi
  out=$(timeout --kill-after=5 20 "${QEMU_A64[@]}" "$d/p" thread 2>&1) || rc=$?
  rm -rf "$d"
  if [ "$rc" = 0 ] && [ "$out" = ok ]; then
    echo ok
  elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    echo hang
  else
    echo "CI: qemu-aarch64 probe: a guest that creates a thread failed (exit $rc${out:+, output: $out})" >&2
    return 1
  fi
}

# Builds .ci/nothreads.c (pthread_create fails with EAGAIN) into DIR and prints the library's path.
qemu_aarch64_nothreads_shim() {
  aarch64-linux-gnu-gcc -shared -fPIC -O2 -Wall -Wextra -Werror "$CI_DIR/nothreads.c" -o "$1/nothreads.so"
  echo "$1/nothreads.so"
}
