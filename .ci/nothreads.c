/* Preloaded into aarch64 guests under qemu-user on hosts where qemu-aarch64 hangs as soon as the
 * guest creates a thread (toolchain.md section 10). Thread creation fails at once with EAGAIN
 * instead of reaching qemu's clone emulation:
 *  - libtest spawns one thread per test even with --test-threads=1, and runs the test on the
 *    calling thread when that spawn fails with EAGAIN (std: io::ErrorKind::WouldBlock; see
 *    run_test in library/test/src/lib.rs), so a test binary runs all its tests without threads;
 *  - glocal's Transform::apply_parallel treats a refused thread as "one worker fewer": its
 *    blocks run on the calling thread, with the same results.
 * Build: aarch64-linux-gnu-gcc -shared -fPIC -O2 nothreads.c -o nothreads.so
 * Use:   qemu-aarch64 -L /usr/aarch64-linux-gnu -E LD_PRELOAD=$PWD/nothreads.so prog */
#include <errno.h>
#include <pthread.h>

int pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*start)(void *), void *arg) {
    (void)thread;
    (void)attr;
    (void)start;
    (void)arg;
    return EAGAIN;
}
