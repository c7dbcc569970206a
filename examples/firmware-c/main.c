/* glocal from C on a Cortex-M4F/M7: the real resnet18/avgpool gLocal transform (d = 512, f16
 * weights) compiled in as a C array, applied through the C API to golden inputs whose float64
 * references are known. Also measures the stack high-water mark of every glocal_apply_* call
 * (stack painting) and fails above 1 KiB. Exit status: 0 pass, 1 fail. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "glocal.h"
#include "golden.h"

#define TOLERANCE 1e-3   /* f16 weights: about 1.6e-4 on this transform */
#define STACK_LIMIT 1024 /* bytes, for any glocal_apply_* call */
#define PAINT 8192
#define PATTERN 0xC0FFEE42u

static float x[GOLDEN_ROWS * GOLDEN_D_IN];
static float y[GOLDEN_ROWS * GOLDEN_D_OUT];
static uint16_t x16[GOLDEN_D_IN], y16[GOLDEN_D_OUT];

enum io { IO_F32, IO_F16, IO_BF16 };

/* Stack bytes below this function's SP that glocal_apply_<io> writes: paint PAINT bytes below
 * SP, call (the library is a separate object: never inlined), find the lowest changed word. */
__attribute__((noinline)) static size_t stack_used(enum io io, const glocal_transform *t, glocal_status *st) {
    uint32_t sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    uint32_t top = (sp - 64u) & ~3u, bottom = top - PAINT;
    for (uint32_t a = bottom; a < top; a += 4) *(volatile uint32_t *)a = PATTERN;
    switch (io) {
    case IO_F32: *st = glocal_apply_f32(t, x, GOLDEN_D_IN, y, GOLDEN_D_OUT); break;
    case IO_F16: *st = glocal_apply_f16(t, x16, GOLDEN_D_IN, y16, GOLDEN_D_OUT); break;
    default: *st = glocal_apply_bf16(t, x16, GOLDEN_D_IN, y16, GOLDEN_D_OUT); break;
    }
    uint32_t lowest = top;
    for (uint32_t a = bottom; a < top; a += 4) {
        if (*(volatile uint32_t *)a != PATTERN) {
            lowest = a;
            break;
        }
    }
    return sp - lowest;
}

int main(void) {
    static glocal_transform t; /* zero-initialised */
    glocal_status st = glocal_transform_init(&t, glocal_blob, glocal_blob_len);
    if (st != GLOCAL_STATUS_OK) {
        printf("FAIL: glocal_transform_init: %s\n", glocal_status_str(st));
        return 1;
    }
    printf("glocal %s from C: d=%u x %u, kernel %s, blob %u bytes in flash\n", glocal_version(),
           (unsigned)glocal_transform_dim_in(&t), (unsigned)glocal_transform_dim_out(&t),
           glocal_transform_kernel(&t), (unsigned)glocal_blob_len);

    memcpy(x, golden_x_bits, sizeof x);
    for (size_t i = 0; i < sizeof y / sizeof y[0]; i++) y[i] = NAN;
    st = glocal_apply_f32(&t, x, GOLDEN_ROWS * GOLDEN_D_IN, y, GOLDEN_ROWS * GOLDEN_D_OUT);
    if (st != GLOCAL_STATUS_OK) {
        printf("FAIL: glocal_apply_f32: %s\n", glocal_status_str(st));
        return 1;
    }
    double max_err = 0.0, max_ref = 0.0;
    for (size_t i = 0; i < GOLDEN_ROWS * GOLDEN_D_OUT; i++) {
        double r;
        memcpy(&r, &golden_y_ref_bits[i], sizeof r);
        double e = isnan(y[i]) ? INFINITY : fabs((double)y[i] - r);
        if (e > max_err) max_err = e;
        if (fabs(r) > max_ref) max_ref = fabs(r);
    }
    printf("rows %d: max |y - y_ref| = %.3e (max |y_ref| = %.4f, tolerance %.0e)\n", GOLDEN_ROWS, max_err,
           max_ref, TOLERANCE);

    /* A wrong length is an error and leaves y untouched. */
    float before = y[0];
    st = glocal_apply_f32(&t, x, GOLDEN_D_IN - 1, y, GOLDEN_D_OUT);
    int bad_len_ok = st != GLOCAL_STATUS_OK && y[0] == before;
    printf("wrong input length -> %s, output untouched: %s\n", glocal_status_name(st), bad_len_ok ? "yes" : "no");

    /* Worst-case stack over the three apply entry points (f32, f16 and bf16 I/O). */
    size_t s32, s16, sbf;
    glocal_status st32, st16, stbf;
    for (size_t i = 0; i < GOLDEN_D_IN; i++) x16[i] = (uint16_t)(0x3C00u + (i & 0xFFu)); /* f16 1.0..1.25 */
    s32 = stack_used(IO_F32, &t, &st32);
    s16 = stack_used(IO_F16, &t, &st16);
    sbf = stack_used(IO_BF16, &t, &stbf);
    size_t worst = s32 > s16 ? s32 : s16;
    worst = worst > sbf ? worst : sbf;
    int stack_ok = st32 == GLOCAL_STATUS_OK && st16 == GLOCAL_STATUS_OK && stbf == GLOCAL_STATUS_OK &&
                   worst <= STACK_LIMIT && worst > 0;
    printf("stack high-water: glocal_apply_f32 %u, _f16 %u, _bf16 %u bytes (limit %d)\n", (unsigned)s32,
           (unsigned)s16, (unsigned)sbf, STACK_LIMIT);

    int ok = max_err <= TOLERANCE && bad_len_ok && stack_ok;
    printf("%s\n", ok ? "PASS" : "FAIL");
    return ok ? 0 : 1;
}
