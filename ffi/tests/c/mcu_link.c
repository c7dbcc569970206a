/*
 * Link check for the bare-metal static library (thumbv7em-none-eabihf): calls every function
 * a firmware can use, with a blob compiled in as an aligned array, and is linked with
 * --gc-sections. CI then checks the linked image: no heap functions, no panic machinery
 * reachable from the C API, and the code size of glocal. (Running firmware in QEMU is
 * issue 5's examples; this only proves what the archive drags in.)
 */
#define GLOCAL_NO_STD
#include "glocal.h"

#if defined(GLOCAL_STD)
#error "GLOCAL_NO_STD must hide the hosted-only API"
#endif

/* Not a valid blob: init rejects it, which is enough to link every path. */
static _Alignas(64) const uint8_t blob[256] = {'G', 'L', 'O', 'C', 'A', 'L', 'W', 0x1a};
static glocal_transform t;
static float xf[4], yf[4];
static uint16_t xh[4], yh[4];
static int8_t xq[4];
volatile uint32_t sink;

int main(void) {
    glocal_status s = glocal_transform_init(&t, blob, sizeof blob);
    sink = (uint32_t)s + (uint32_t)glocal_transform_dim_in(&t) + (uint32_t)glocal_transform_dim_out(&t) +
           (uint32_t)glocal_transform_dtype(&t);
    sink += (uint32_t)glocal_apply_f32(&t, xf, 4, yf, 4);
    sink += (uint32_t)glocal_apply_f16(&t, xh, 4, yh, 4);
    sink += (uint32_t)glocal_apply_bf16(&t, xh, 4, yh, 4);
    sink += (uint32_t)glocal_apply_f32_ex(&t, xf, 4, yf, 4, GLOCAL_APPLY_L2_NORMALIZE);
    sink += (uint32_t)glocal_apply_f16_ex(&t, xh, 4, yh, 4, GLOCAL_APPLY_L2_NORMALIZE);
    sink += (uint32_t)glocal_apply_bf16_ex(&t, xh, 4, yh, 4, GLOCAL_APPLY_L2_NORMALIZE);
    sink += (uint32_t)glocal_apply_s8(&t, xq, 4, 0.5f, -3, yf, 4);
    sink += (uint32_t)glocal_apply_u8(&t, (const uint8_t *)xq, 4, 0.5f, 128, yf, 4);
    sink += (uint32_t)(glocal_status_str(s)[0] + glocal_status_name(s)[0] + glocal_version()[0]);
    sink += glocal_transform_kernel(&t) != 0;
    return 0;
}
