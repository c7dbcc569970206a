/* Every function of the glocal C API in one short program (CI builds and runs it).
 *   every_function <blob.glw>                                                        */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "glocal.h"

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    printf("library %s, header %d.%d.%d\n", glocal_version(), GLOCAL_VERSION_MAJOR, GLOCAL_VERSION_MINOR,
           GLOCAL_VERSION_PATCH);

    /* 1. Map a blob file (hosted): the handle owns the mapping and a transform over it. */
    glocal_mapped *m = NULL;
    glocal_status st = glocal_mapped_open(argv[1], &m);
    if (st != GLOCAL_STATUS_OK) {
        fprintf(stderr, "%s: %s (%s)\n", argv[1], glocal_status_str(st), glocal_status_name(st));
        return 1;
    }
    const glocal_transform *mt = glocal_mapped_transform(m);

    /* 2. Or validate a blob already in memory into caller-owned storage (no heap, no copy of
     *    the weights; the blob must outlive t). Here: a 64-byte aligned copy of the file. */
    FILE *f = fopen(argv[1], "rb");
    if (!f) return 1;
    fseek(f, 0, SEEK_END);
    size_t len = (size_t)ftell(f);
    rewind(f);
    uint8_t *blob = aligned_alloc(64, (len + 63) / 64 * 64);
    if (!blob || fread(blob, 1, len, f) != len) return 1;
    fclose(f);
    glocal_transform t = {0};
    if ((st = glocal_transform_init(&t, blob, len)) != GLOCAL_STATUS_OK) {
        fprintf(stderr, "init: %s\n", glocal_status_str(st));
        return 1;
    }
    size_t d_in = glocal_transform_dim_in(&t), d_out = glocal_transform_dim_out(&t);
    printf("%zu -> %zu, weights dtype %d, kernel %s\n", d_in, d_out, (int)glocal_transform_dtype(&t),
           glocal_transform_kernel(&t));

    /* 3. Apply to a batch of 2 rows, as f32, f16 bits and bf16 bits. */
    size_t rows = 2;
    float *x = calloc(rows * d_in, sizeof *x), *y = calloc(rows * d_out, sizeof *y);
    uint16_t *xh = calloc(rows * d_in, sizeof *xh), *yh = calloc(rows * d_out, sizeof *yh);
    if (!x || !y || !xh || !yh) return 1;
    for (size_t i = 0; i < rows * d_in; i++) x[i] = 1.0f, xh[i] = 0x3c00; /* xh: 1.0 in f16 */
    st = glocal_apply_f32(mt, x, rows * d_in, y, rows * d_out);
    printf("apply_f32: %s, y[0] = %g\n", glocal_status_name(st), y[0]);
    st = glocal_apply_f16(&t, xh, rows * d_in, yh, rows * d_out);
    printf("apply_f16: %s, y[0] bits 0x%04x\n", glocal_status_name(st), yh[0]);
    for (size_t i = 0; i < rows * d_in; i++) xh[i] = 0x3f80; /* 1.0 in bf16 */
    st = glocal_apply_bf16(&t, xh, rows * d_in, yh, rows * d_out);
    printf("apply_bf16: %s, y[0] bits 0x%04x\n", glocal_status_name(st), yh[0]);

    /* 3b. Quantized inputs (TFLite Micro, Ethos-U, NPUs): int8 or uint8 with a scale and zero
     *     point; element q is x_scale * (q - x_zero_point). Outputs are floats. */
    int8_t *xs = calloc(rows * d_in, 1);
    uint8_t *xu = calloc(rows * d_in, 1);
    if (!xs || !xu) return 1;
    for (size_t i = 0; i < rows * d_in; i++) xs[i] = 4, xu[i] = 132; /* 1.0 with scale 0.25 */
    st = glocal_apply_s8(&t, xs, rows * d_in, 0.25f, 0, y, rows * d_out);
    printf("apply_s8(scale 0.25, zero point 0): %s, y[0] = %g\n", glocal_status_name(st), y[0]);
    st = glocal_apply_u8(&t, xu, rows * d_in, 0.25f, 128, y, rows * d_out);
    printf("apply_u8(scale 0.25, zero point 128): %s, y[0] = %g\n", glocal_status_name(st), y[0]);
    st = glocal_apply_u8(&t, xu, rows * d_in, 0.0f, 128, y, rows * d_out);
    printf("apply_u8(scale 0): %s: %s\n", glocal_status_name(st), glocal_status_str(st));
    free(xs), free(xu);

    /* 4. The same with options: GLOCAL_APPLY_L2_NORMALIZE scales each output row to unit L2
     *    norm in the same call (cosine-ready embeddings; a zero row stays zero). flags = 0 is
     *    the plain call. */
    st = glocal_apply_f32_ex(&t, x, rows * d_in, y, rows * d_out, GLOCAL_APPLY_L2_NORMALIZE);
    double sq = 0.0;
    for (size_t j = 0; j < d_out; j++) sq += (double)y[j] * y[j];
    printf("apply_f32_ex(L2_NORMALIZE): %s, |y[0]| = %.6f\n", glocal_status_name(st), sqrt(sq));
    for (size_t i = 0; i < rows * d_in; i++) xh[i] = 0x3c00;
    st = glocal_apply_f16_ex(&t, xh, rows * d_in, yh, rows * d_out, GLOCAL_APPLY_L2_NORMALIZE);
    printf("apply_f16_ex(L2_NORMALIZE): %s, y[0] bits 0x%04x\n", glocal_status_name(st), yh[0]);
    for (size_t i = 0; i < rows * d_in; i++) xh[i] = 0x3f80;
    st = glocal_apply_bf16_ex(&t, xh, rows * d_in, yh, rows * d_out, 0);
    printf("apply_bf16_ex(0): %s, y[0] bits 0x%04x\n", glocal_status_name(st), yh[0]);

    /* 4b. Large batches: a workspace of glocal_workspace_len(t, max_rows) floats, allocated
     *     once, lets the AVX2 kernel pack the inputs of batches of 12 rows or more (same
     *     results, a few percent faster). Here 2 rows: the length is 0 and NULL is fine. */
    size_t ws_len = glocal_workspace_len(&t, rows);
    float *ws = ws_len ? malloc(ws_len * sizeof *ws) : NULL;
    st = glocal_apply_f32_ws(&t, x, rows * d_in, y, rows * d_out, 0, ws, ws_len);
    printf("apply_f32_ws(workspace of %zu, %zu for 1000 rows): %s\n", ws_len, glocal_workspace_len(&t, 1000),
           glocal_status_name(st));
    st = glocal_apply_f16_ws(&t, xh, rows * d_in, yh, rows * d_out, 0, ws, ws_len);
    printf("apply_f16_ws: %s\n", glocal_status_name(st));
    st = glocal_apply_bf16_ws(&t, xh, rows * d_in, yh, rows * d_out, GLOCAL_APPLY_L2_NORMALIZE, ws, ws_len);
    printf("apply_bf16_ws(L2_NORMALIZE): %s\n", glocal_status_name(st));
    free(ws);

    /* 5. Errors are values: zero rows is refused and y stays untouched; so is a flag this
     *    library does not define. */
    st = glocal_apply_f32(&t, x, 0, y, rows * d_out);
    printf("zero rows: %s: %s\n", glocal_status_name(st), glocal_status_str(st));
    st = glocal_apply_f32_ex(&t, x, rows * d_in, y, rows * d_out, 1u << 31);
    printf("unknown flag: %s: %s\n", glocal_status_name(st), glocal_status_str(st));

    free(x), free(y), free(xh), free(yh);
    glocal_mapped_close(m);
    glocal_mapped_close(NULL); /* no-op */
    free(blob);                /* only after the last use of t */
    return 0;
}
