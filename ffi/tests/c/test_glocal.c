/*
 * Exercises every function of the glocal C API and every error path it can reach.
 *
 *   test_glocal <dir>
 *
 * <dir> holds blobs packed by `cargo run -p glocal-ffi --example pack_blob -- synthetic ...`
 * (see .ci/steps/40-ffi.sh): s37x19_{f32,f16,bf16,i8d}.glw, s1x1_f32.glw, s16x48_bf16.glw, and
 * `... -- identity 20 f32 id20_f32.glw`.
 * Their transform is recomputed here in double precision (see pack_blob.rs): every value is
 * exact in f32, f16 and bf16, so those results are compared bit for bit; for i8d the test
 * replays the packer's quantisation and compares within a derived f32 rounding bound. The
 * L2-normalising glocal_apply_*_ex calls are compared with the normalised reference within a
 * stated bound (normalise.h below). The test also writes two scratch files into <dir>. Prints
 * one line per failed check and a closing "N passed, M failed".
 *
 * GLOCAL_TEST_NO_THREADS=1 skips the one test that creates threads, with a notice: CI sets it
 * under qemu-user on hosts where the emulator hangs when a guest creates a thread.
 */
#define _POSIX_C_SOURCE 200809L

#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "glocal.h"

static int passed, failed;
/* Worst observed error as a fraction of its bound, reported at the end: the normalised f32
 * outputs, and the i8d f32 outputs. */
static double worst_l2, worst_i8d;

#define CHECK(cond, ...)                                                    \
    do {                                                                    \
        if (cond) {                                                         \
            passed++;                                                       \
        } else {                                                            \
            failed++;                                                       \
            fprintf(stderr, "FAILED %s:%d: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                   \
            fputc('\n', stderr);                                            \
        }                                                                   \
    } while (0)

#define CHECK_STATUS(expr, want)                                                         \
    do {                                                                                 \
        glocal_status got_ = (expr);                                                     \
        CHECK(got_ == (want), "%s returned %s (%s), expected %s", #expr,                 \
              glocal_status_name(got_), glocal_status_str(got_), glocal_status_name(want)); \
    } while (0)

/* ---- the synthetic transform of pack_blob.rs, in double ---------------------------------- */

static double syn_w(size_t k, size_t j) { return ((double)((7 * k + 3 * j) % 11) - 5.0) / 4.0; }
static double syn_b(size_t j) { return ((double)(j % 5) - 2.0) / 2.0; }
static const double SYN_MEAN = 0.5, SYN_STD = 2.0;

/* Integer-valued input element (exact in f16 and bf16). */
static float syn_x(size_t r, size_t k, unsigned seed) { return (float)((int)((r * 5 + k * 3 + seed) % 9) - 4); }

static void reference(size_t d_in, size_t d_out, const float *x, size_t rows, double *y) {
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < d_out; j++) {
            double acc = syn_b(j);
            for (size_t k = 0; k < d_in; k++) acc += ((x[r * d_in + k] - SYN_MEAN) / SYN_STD) * syn_w(k, j);
            y[r * d_out + j] = acc;
        }
}

/* The i8d weights of the synthetic transform exactly as the packer stores them (pack/mod.rs,
 * quantize_i8d): the folded weight w' = W / std; per input row k a f32 scale
 * s_k = f32(max_{j != k} |w'[k][j]| / 127) and q = round(w' / s_k) (half away from zero, like C's
 * round) off the diagonal; the diagonal w'[j][j] kept in f32. Returns the stored weight. */
static double syn_wq(size_t k, size_t j, size_t d_out) {
    double max = 0.0;
    for (size_t c = 0; c < d_out; c++)
        if (c != k && fabs(syn_w(k, c) / SYN_STD) > max) max = fabs(syn_w(k, c) / SYN_STD);
    if (k == j) return (double)(float)(syn_w(k, j) / SYN_STD);
    float s = (float)(max / 127.0);
    if (s == 0.0f) return 0.0;
    double q = round(syn_w(k, j) / SYN_STD / (double)s);
    q = q > 127.0 ? 127.0 : q < -127.0 ? -127.0 : q;
    return (double)s * q;
}

/* What an i8d blob of the synthetic transform computes: the packer folds the mean with the
 * stored weights (b'' = b - mean * colsum(Wq)), so y = (x - mean) @ Wq + b exactly. Also a
 * rounding bound per element for the library's f32 evaluation x @ Wq + f32(b'') with the
 * kernel's x * s_k products: every product, sum and the stored bias rounded once,
 * |err| <= 2 (d_in + 3) FLT_EPSILON (|b''| + sum_k |x_k Wq[k][j]|) (the standard gamma_n bound
 * with room to spare). */
static void reference_i8d(size_t d_in, size_t d_out, const float *x, size_t rows, double *y, double *bound) {
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < d_out; j++) {
            double acc = syn_b(j), bias = syn_b(j), mag = 0.0;
            for (size_t k = 0; k < d_in; k++) {
                double w = syn_wq(k, j, d_out);
                acc += (x[r * d_in + k] - SYN_MEAN) * w;
                bias -= SYN_MEAN * w;
                mag += fabs(x[r * d_in + k] * w);
            }
            y[r * d_out + j] = acc;
            bound[r * d_out + j] = 2.0 * (double)(d_in + 3) * FLT_EPSILON * (fabs(bias) + mag);
        }
}

/* ---- 16-bit float encodings ---------------------------------------------------------------- */

static uint32_t f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

/* Round to nearest even, like the library (and every IEEE converter). */
static uint16_t f32_to_f16(float f) {
    uint32_t x = f32_bits(f), sign = (x >> 16) & 0x8000, exp = (x >> 23) & 0xff, mant = x & 0x7fffff;
    if (exp == 0xff) return (uint16_t)(sign | 0x7c00 | (mant ? 0x200 : 0));
    int e = (int)exp - 127 + 15;
    if (e >= 31) return (uint16_t)(sign | 0x7c00);
    if (e <= 0) {
        if (e < -10) return (uint16_t)sign;
        uint32_t m = mant | 0x800000, shift = (uint32_t)(14 - e);
        uint32_t h = m >> shift, rem = m & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (h & 1))) h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = ((uint32_t)e << 10) | (mant >> 13), rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

static float f16_to_f32(uint16_t h) {
    int exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    float v = exp == 0 ? ldexpf((float)mant, -24)
            : exp == 31 ? (mant ? NAN : INFINITY)
                        : ldexpf((float)(1024 + mant), exp - 25);
    return (h & 0x8000) ? -v : v;
}

static uint16_t f32_to_bf16(float f) {
    uint32_t x = f32_bits(f);
    return (uint16_t)((x + 0x7fff + ((x >> 16) & 1)) >> 16); /* finite inputs only */
}

static float bf16_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

/* ---- L2 normalisation: the reference and its bound ------------------------------------------
 * GLOCAL_APPLY_L2_NORMALIZE divides each output row by its L2 norm, accumulated in f32, then
 * rounds each quotient to the output type. Against the row normalised in double:
 *   f32:  |got - ref| <= (dim_out + 4) * FLT_EPSILON * |ref|
 *         (f32 sum of squares: gamma_{dim_out}; sqrt and division: one rounding each);
 *   f16 / bf16 outputs: the library normalises the *rounded* row (bit-identical to the plain
 *         call's output, checked) and rounds once more, so against that row normalised in
 *         double add half an ulp of the type: 2^-11 (f16), 2^-8 (bf16) relative, and for f16
 *         its smallest subnormal step 2^-24 absolute.
 * The row norm of the result is 1 within the same relative bound times 2 (sum of squares). */
static double row_norm(const double *v, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += v[i] * v[i];
    return sqrt(s);
}

/* Checks `rows` normalised rows `got` (already widened to float) against `plain` (the plain
 * call's output, widened) normalised in double; `half_ulp`/`abs_step` describe the output type. */
static int check_normalised(const float *got, const float *plain, size_t rows, size_t d_out, double half_ulp,
                            double abs_step, const char *what) {
    int bad = 0;
    double *v = malloc(d_out * sizeof *v);
    double rel = (double)(d_out + 4) * FLT_EPSILON + half_ulp;
    for (size_t r = 0; r < rows; r++) {
        int finite = 1;
        for (size_t j = 0; j < d_out; j++) v[j] = plain[r * d_out + j], finite &= isfinite(v[j]) != 0;
        double n = row_norm(v, d_out);
        double got_sq = 0.0;
        for (size_t j = 0; j < d_out; j++) {
            float g = got[r * d_out + j];
            if (!finite) {
                /* A row with a NaN or infinite value becomes all NaN. */
                if (!isnan(g) && bad++ < 3) CHECK(0, "%s row %zu: non-finite row gave y[%zu] = %g, expected NaN", what, r, j, g);
                continue;
            }
            if (n == 0.0) {
                /* A zero row stays zero (no direction, never NaN). */
                if (g != 0.0f && bad++ < 3) CHECK(0, "%s row %zu: zero row gave y[%zu] = %g", what, r, j, g);
                continue;
            }
            double want = v[j] / n;
            if (want != 0.0 && rel * fabs(want) + abs_step > 0.0) {
                double frac = fabs(g - want) / (rel * fabs(want) + abs_step);
                if (half_ulp == 0.0 && frac > worst_l2) worst_l2 = frac;
            }
            if (!(fabs(g - want) <= rel * fabs(want) + abs_step) && bad++ < 3)
                CHECK(0, "%s row %zu: y[%zu] = %.9g, expected %.9g (bound %.3g)", what, r, j, g, want,
                      rel * fabs(want) + abs_step);
            got_sq += (double)g * g;
        }
        if (finite && n != 0.0 && !(fabs(sqrt(got_sq) - 1.0) <= 2.0 * rel + sqrt((double)d_out) * abs_step) &&
            bad++ < 3)
            CHECK(0, "%s row %zu: norm %.9g is not 1", what, r, sqrt(got_sq));
    }
    free(v);
    return bad;
}

/* ---- files ----------------------------------------------------------------------------------- */

typedef struct {
    uint8_t *data; /* 64-byte aligned, with 64 spare bytes after len */
    size_t len;
} blob_buf;

static blob_buf load(const char *dir, const char *name) {
    char path[1024];
    blob_buf b = {NULL, 0};
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s (run pack_blob first)\n", path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    b.len = (size_t)n;
    b.data = aligned_alloc(64, ((b.len + 64) / 64 + 1) * 64);
    if (!b.data || fread(b.data, 1, b.len, f) != b.len) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(2);
    }
    fclose(f);
    return b;
}

static void write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
}

/* ---- the tests ------------------------------------------------------------------------------- */

#define ALL_STATUSES(X)                                                                          \
    X(GLOCAL_STATUS_OK) X(GLOCAL_STATUS_NULL_POINTER) X(GLOCAL_STATUS_NOT_INITIALIZED)              \
    X(GLOCAL_STATUS_INPUT_LENGTH) X(GLOCAL_STATUS_OUTPUT_LENGTH) X(GLOCAL_STATUS_MISALIGNED_POINTER) \
    X(GLOCAL_STATUS_BUFFERS_OVERLAP) X(GLOCAL_STATUS_UNKNOWN_FLAGS) X(GLOCAL_STATUS_NOT_A_NUMBER)   \
    X(GLOCAL_STATUS_BAD_INPUT_SCALE) X(GLOCAL_STATUS_BAD_INPUT_ZERO_POINT)                          \
    X(GLOCAL_STATUS_BLOB_TRUNCATED_HEADER)                                                         \
    X(GLOCAL_STATUS_BLOB_BAD_MAGIC) X(GLOCAL_STATUS_BLOB_UNSUPPORTED_VERSION)                       \
    X(GLOCAL_STATUS_BLOB_BAD_HEADER_LENGTH) X(GLOCAL_STATUS_BLOB_WRONG_ENDIANNESS)                  \
    X(GLOCAL_STATUS_BLOB_UNKNOWN_DTYPE) X(GLOCAL_STATUS_BLOB_UNSUPPORTED_PANEL_WIDTH)               \
    X(GLOCAL_STATUS_BLOB_BAD_FLAGS) X(GLOCAL_STATUS_BLOB_BAD_DIMS) X(GLOCAL_STATUS_BLOB_BAD_LAYOUT) \
    X(GLOCAL_STATUS_BLOB_BAD_NORMALISATION) X(GLOCAL_STATUS_BLOB_BAD_NAME)                          \
    X(GLOCAL_STATUS_BLOB_RESERVED_NOT_ZERO) X(GLOCAL_STATUS_BLOB_LENGTH_MISMATCH)                   \
    X(GLOCAL_STATUS_BLOB_CHECKSUM_MISMATCH) X(GLOCAL_STATUS_BLOB_MISALIGNED)                        \
    X(GLOCAL_STATUS_BLOB_BAD_AUX) X(GLOCAL_STATUS_BLOB_BAD_ERROR_RECORD) X(GLOCAL_STATUS_BLOB_INVALID) X(GLOCAL_STATUS_KERNEL_UNAVAILABLE)                               \
    X(GLOCAL_STATUS_FILE_OPEN_FAILED) X(GLOCAL_STATUS_FILE_MAP_FAILED) X(GLOCAL_STATUS_INTERNAL_PANIC) \
    X(GLOCAL_STATUS_INTERNAL_UNMAPPED_ERROR)

static void test_version_and_statuses(void) {
    char want[64];
    snprintf(want, sizeof want, "%d.%d.%d", GLOCAL_VERSION_MAJOR, GLOCAL_VERSION_MINOR, GLOCAL_VERSION_PATCH);
    CHECK(strcmp(glocal_version(), want) == 0, "library %s, header %s", glocal_version(), want);

#define CHECK_ONE(s)                                                                               \
    CHECK(strcmp(glocal_status_name(s), #s) == 0, "name of %d is %s", (int)(s), glocal_status_name(s)); \
    CHECK(strlen(glocal_status_str(s)) > 5 && strcmp(glocal_status_str(s), "unknown glocal_status value") != 0, \
          "message of %s: %s", #s, glocal_status_str(s));
    ALL_STATUSES(CHECK_ONE)
#undef CHECK_ONE
    CHECK(strcmp(glocal_status_str(GLOCAL_STATUS_OK), "success") == 0, "%s", glocal_status_str(GLOCAL_STATUS_OK));

    /* Unknown values, including the 32-bit sentinel and values no enumerator has. */
    const glocal_status unknown[] = {(glocal_status)1, (glocal_status)99, (glocal_status)298,
                                     (glocal_status)999, GLOCAL_STATUS_MAX_ENUM, (glocal_status)0xFFFFFFFFu};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        CHECK(strcmp(glocal_status_str(unknown[i]), "unknown glocal_status value") == 0, "%u: %s",
              (unsigned)unknown[i], glocal_status_str(unknown[i]));
        CHECK(strcmp(glocal_status_name(unknown[i]), "GLOCAL_STATUS_UNKNOWN") == 0, "%u", (unsigned)unknown[i]);
    }
    CHECK(sizeof(glocal_transform) == GLOCAL_TRANSFORM_SIZE, "%zu", sizeof(glocal_transform));
    CHECK(sizeof(glocal_status) == 4, "%zu", sizeof(glocal_status));
}

/* Every query and apply on a transform that is not initialised reports it and writes nothing. */
static void check_not_initialized(const glocal_transform *t, const char *what) {
    float x[37] = {0}, y[19], y0[19];
    uint16_t xh[37] = {0}, yh[19], yh0[19];
    for (int i = 0; i < 19; i++) y[i] = y0[i] = -7.0f, yh[i] = yh0[i] = 0x1234;
    CHECK_STATUS(glocal_apply_f32(t, x, 37, y, 19), GLOCAL_STATUS_NOT_INITIALIZED);
    CHECK_STATUS(glocal_apply_f16(t, xh, 37, yh, 19), GLOCAL_STATUS_NOT_INITIALIZED);
    CHECK_STATUS(glocal_apply_bf16(t, xh, 37, yh, 19), GLOCAL_STATUS_NOT_INITIALIZED);
    CHECK_STATUS(glocal_apply_f32_ex(t, x, 37, y, 19, GLOCAL_APPLY_L2_NORMALIZE), GLOCAL_STATUS_NOT_INITIALIZED);
    CHECK_STATUS(glocal_apply_f16_ex(t, xh, 37, yh, 19, GLOCAL_APPLY_L2_NORMALIZE), GLOCAL_STATUS_NOT_INITIALIZED);
    CHECK_STATUS(glocal_apply_bf16_ex(t, xh, 37, yh, 19, 0), GLOCAL_STATUS_NOT_INITIALIZED);
    CHECK_STATUS(glocal_apply_f32_ws(t, x, 37, y, 19, 0, NULL, 0), GLOCAL_STATUS_NOT_INITIALIZED);
    int8_t xq[37] = {0};
    CHECK_STATUS(glocal_apply_s8(t, xq, 37, 1.0f, 0, y, 19), GLOCAL_STATUS_NOT_INITIALIZED);
    CHECK_STATUS(glocal_apply_u8(t, (const uint8_t *)xq, 37, 1.0f, 0, y, 19), GLOCAL_STATUS_NOT_INITIALIZED);
    CHECK(glocal_workspace_len(t, 100) == 0, "%s: workspace_len", what);
    CHECK(memcmp(y, y0, sizeof y) == 0 && memcmp(yh, yh0, sizeof yh) == 0, "%s: y written", what);
    CHECK(glocal_transform_dim_in(t) == 0 && glocal_transform_dim_out(t) == 0, "%s: dims", what);
    CHECK(glocal_transform_dtype(t) == GLOCAL_DTYPE_NONE, "%s: dtype", what);
    CHECK(glocal_transform_kernel(t) == NULL, "%s: kernel", what);
    CHECK(glocal_transform_measured_error(t) == -1.0f, "%s: measured_error", what);
}

/* The normalising call (flags = GLOCAL_APPLY_L2_NORMALIZE) and flags = 0 for one element type,
 * after the plain call wrote `plain` (ny elements, `spare` sentinels after them): flags = 0
 * must give the plain output bit for bit, the normalising call the plain output normalised
 * (check_normalised), and neither may write past rows * d_out. */
#define CHECK_EX(fn_ex, T, xs, plain, sentinel, widen, half_ulp, abs_step, label)                       \
    do {                                                                                               \
        T *ye_ = malloc((ny + spare) * sizeof *ye_);                                                   \
        float *gw_ = calloc(ny, sizeof *gw_), *pw_ = calloc(ny, sizeof *pw_);                          \
        for (size_t i = 0; i < ny + spare; i++) ye_[i] = (sentinel);                                   \
        CHECK_STATUS(fn_ex(t, xs, nx, ye_, ny + spare, 0), GLOCAL_STATUS_OK);                          \
        CHECK(memcmp(ye_, plain, ny * sizeof *ye_) == 0, "%s rows=%zu: %s flags=0 differs from the plain call", \
              what, rows, label);                                                                      \
        for (size_t i = 0; i < ny + spare; i++) ye_[i] = (sentinel);                                   \
        CHECK_STATUS(fn_ex(t, xs, nx, ye_, ny + spare, GLOCAL_APPLY_L2_NORMALIZE), GLOCAL_STATUS_OK);  \
        for (size_t i = 0; i < ny; i++) gw_[i] = widen(ye_[i]), pw_[i] = widen(plain[i]);              \
        int bad_ = check_normalised(gw_, pw_, rows, d_out, half_ulp, abs_step, what);                  \
        for (size_t i = ny; i < ny + spare; i++) bad_ += memcmp(&ye_[i], &(T){sentinel}, sizeof(T)) != 0; \
        CHECK(bad_ == 0, "%s rows=%zu: %s normalised output wrong or written past rows*d_out", what, rows, label); \
        free(ye_), free(gw_), free(pw_);                                                               \
    } while (0)

static float id_f32(float v) { return v; }

/* Whether the plain output value `got` matches the reference `ref`: bit for bit after rounding
 * to the output type (`round16`, NULL for f32) for the exact dtypes; for i8d within `bound`
 * plus half an ulp of the output type. */
static int matches(float got, double ref, double bound, int exact, double half_ulp) {
    if (exact) return got == (float)ref;
    return fabs((double)got - ref) <= bound + half_ulp * fabs(ref) + (half_ulp > 0 ? 0x1p-24 : 0);
}

/* Runs all three apply functions, and their _ex forms, on `rows` rows and compares with the
 * double reference (bit for bit for the exactly stored dtypes, within the derived bound for
 * i8d), and checks that nothing past rows * d_out is written. */
static void check_apply(const glocal_transform *t, size_t d_in, size_t d_out, size_t rows, const char *what) {
    size_t nx = rows * d_in, ny = rows * d_out, spare = 7;
    int exact = glocal_transform_dtype(t) != GLOCAL_DTYPE_I8D;
    float *x = malloc(nx * sizeof *x), *y = malloc((ny + spare) * sizeof *y);
    uint16_t *xh = malloc(nx * sizeof *xh), *yh = malloc((ny + spare) * sizeof *yh);
    double *ref = malloc(ny * sizeof *ref), *bound = calloc(ny, sizeof *bound);
    for (size_t r = 0; r < rows; r++)
        for (size_t k = 0; k < d_in; k++) x[r * d_in + k] = syn_x(r, k, 1);
    if (exact)
        reference(d_in, d_out, x, rows, ref);
    else
        reference_i8d(d_in, d_out, x, rows, ref, bound);

    for (size_t i = 0; i < ny + spare; i++) y[i] = NAN;
    CHECK_STATUS(glocal_apply_f32(t, x, nx, y, ny + spare), GLOCAL_STATUS_OK);
    int bad = 0;
    for (size_t i = 0; i < ny; i++)
        if (!exact && bound[i] > 0.0 && fabs(y[i] - ref[i]) / bound[i] > worst_i8d) worst_i8d = fabs(y[i] - ref[i]) / bound[i];
    for (size_t i = 0; i < ny; i++)
        if (!matches(y[i], ref[i], bound[i], exact, 0.0) && bad++ < 3)
            CHECK(0, "%s rows=%zu f32 y[%zu] = %.9g, expected %.9g (bound %.3g)", what, rows, i, y[i], ref[i], bound[i]);
    for (size_t i = ny; i < ny + spare; i++) bad += !isnan(y[i]);
    CHECK(bad == 0, "%s rows=%zu: f32 mismatches or writes past rows*d_out", what, rows);
    /* With a workspace (the x86_64 kernels pack the inputs from 12 rows on): the same bits as each
     * plain call, f32 here and 16-bit below; a workspace the kernel would use may not be NULL. */
    size_t wl = glocal_workspace_len(t, rows);
    size_t chunk = d_in <= 1024 ? 144 : 72; /* rows per packed chunk */
    CHECK(wl == 0 || wl == (rows < chunk ? rows : chunk) * d_in, "%s rows=%zu: workspace_len %zu", what, rows, wl);
    float *ws = malloc((wl ? wl : 1) * sizeof *ws), *yw = malloc(ny * sizeof *yw);
    uint16_t *yhw = malloc(ny * sizeof *yhw);
    CHECK_STATUS(glocal_apply_f32_ws(t, x, nx, yw, ny, 0, ws, wl), GLOCAL_STATUS_OK);
    CHECK(memcmp(yw, y, ny * sizeof *y) == 0, "%s rows=%zu: f32 with a workspace of %zu differs", what, rows, wl);
    CHECK_STATUS(glocal_apply_f32_ws(t, x, nx, yw, ny, 0, NULL, 0), GLOCAL_STATUS_OK);
    if (wl) CHECK_STATUS(glocal_apply_f32_ws(t, x, nx, yw, ny, 0, NULL, wl), GLOCAL_STATUS_NULL_POINTER);
    CHECK_EX(glocal_apply_f32_ex, float, x, y, NAN, id_f32, 0.0, 0.0, "f32");

    for (size_t i = 0; i < nx; i++) xh[i] = f32_to_f16(x[i]);
    for (size_t i = 0; i < ny + spare; i++) yh[i] = 0x7e01;
    CHECK_STATUS(glocal_apply_f16(t, xh, nx, yh, ny + spare), GLOCAL_STATUS_OK);
    bad = 0;
    for (size_t i = 0; i < ny; i++)
        if (!(exact ? yh[i] == f32_to_f16((float)ref[i]) : matches(f16_to_f32(yh[i]), ref[i], bound[i], 0, 0x1p-11)) &&
            bad++ < 3)
            CHECK(0, "%s rows=%zu f16 y[%zu] = %g (0x%04x), expected %g", what, rows, i, f16_to_f32(yh[i]), yh[i],
                  ref[i]);
    for (size_t i = ny; i < ny + spare; i++) bad += yh[i] != 0x7e01;
    CHECK(bad == 0, "%s rows=%zu: f16 mismatches or writes past rows*d_out", what, rows);
    CHECK_STATUS(glocal_apply_f16_ws(t, xh, nx, yhw, ny, 0, ws, wl), GLOCAL_STATUS_OK);
    CHECK(memcmp(yhw, yh, ny * sizeof *yh) == 0, "%s rows=%zu: f16 with a workspace differs", what, rows);
    CHECK_EX(glocal_apply_f16_ex, uint16_t, xh, yh, 0x7e01, f16_to_f32, 0x1p-11, 0x1p-24, "f16");

    for (size_t i = 0; i < nx; i++) xh[i] = f32_to_bf16(x[i]);
    for (size_t i = 0; i < ny + spare; i++) yh[i] = 0x7fc1;
    CHECK_STATUS(glocal_apply_bf16(t, xh, nx, yh, ny + spare), GLOCAL_STATUS_OK);
    bad = 0;
    for (size_t i = 0; i < ny; i++)
        if (!(exact ? yh[i] == f32_to_bf16((float)ref[i]) : matches(bf16_to_f32(yh[i]), ref[i], bound[i], 0, 0x1p-8)) &&
            bad++ < 3)
            CHECK(0, "%s rows=%zu bf16 y[%zu] = %g, expected %g", what, rows, i, bf16_to_f32(yh[i]), ref[i]);
    for (size_t i = ny; i < ny + spare; i++) bad += yh[i] != 0x7fc1;
    CHECK(bad == 0, "%s rows=%zu: bf16 mismatches or writes past rows*d_out", what, rows);
    CHECK_STATUS(glocal_apply_bf16_ws(t, xh, nx, yhw, ny, 0, ws, wl), GLOCAL_STATUS_OK);
    CHECK(memcmp(yhw, yh, ny * sizeof *yh) == 0, "%s rows=%zu: bf16 with a workspace differs", what, rows);
    CHECK_EX(glocal_apply_bf16_ex, uint16_t, xh, yh, 0x7fc1, bf16_to_f32, 0x1p-8, 0.0, "bf16");

    free(x), free(y), free(xh), free(yh), free(ref), free(bound), free(ws), free(yw), free(yhw);
}

/* GLOCAL_APPLY_L2_NORMALIZE on the identity transform (y = x), so every row's output is chosen
 * here: a 3-4-5 row (exactly 0.6, 0.8: each element divided by the norm 5, correctly rounded),
 * a zero row (stays +0, never NaN), rows so small or so large that the f32 sum of squares
 * under- or overflows (rescaled first: 0.6, 0.8 within the bound), a NaN row and an infinite
 * row (all NaN), a row with a single element; in f32, f16 and bf16. */
static void test_normalize_identity(const char *dir, const char *file) {
    enum { D = 20, R = 7 };
    blob_buf b = load(dir, file);
    glocal_transform t = {0};
    CHECK_STATUS(glocal_transform_init(&t, b.data, b.len), GLOCAL_STATUS_OK);
    CHECK(glocal_transform_dim_in(&t) == D && glocal_transform_dim_out(&t) == D, "%s dims", file);
    static float x[R * D], y[R * D + 4];
    memset(x, 0, sizeof x);
    x[0 * D + 3] = 3.0f, x[0 * D + 17] = -4.0f;   /* row 0: 3-4-5 */
    /* row 1: zeros */
    x[2 * D + 0] = 3e-30f, x[2 * D + 1] = 4e-30f; /* row 2: squares underflow f32 */
    x[3 * D + 0] = 3e30f, x[3 * D + 1] = 4e30f;   /* row 3: squares overflow f32 */
    x[4 * D + 5] = 1.0f, x[4 * D + 6] = NAN;      /* row 4: NaN */
    x[5 * D + 9] = INFINITY;                      /* row 5: infinity */
    x[6 * D + 19] = -0.25f;                       /* row 6: one element */
    for (size_t i = 0; i < R * D + 4; i++) y[i] = 42.0f;
    CHECK_STATUS(glocal_apply_f32_ex(&t, x, R * D, y, R * D + 4, GLOCAL_APPLY_L2_NORMALIZE), GLOCAL_STATUS_OK);
    float want[R][D];
    memset(want, 0, sizeof want);
    want[0][3] = 3.0f / 5.0f, want[0][17] = -4.0f / 5.0f;
    want[2][0] = want[3][0] = 3.0f / 5.0f, want[2][1] = want[3][1] = 4.0f / 5.0f;
    want[6][19] = -1.0f;
    int bad = 0;
    for (size_t r = 0; r < R; r++)
        for (size_t j = 0; j < D; j++) {
            float g = y[r * D + j], w = want[r][j];
            int ok = (r == 4 || r == 5) ? isnan(g) != 0
                     : (r == 2 || r == 3) ? fabsf(g - w) <= (D + 4) * FLT_EPSILON * fabsf(w)
                                          : (g == w && signbit(g) == signbit(w));
            if (!ok && bad++ < 5) CHECK(0, "%s f32 row %zu y[%zu] = %.9g, expected %.9g", file, r, j, g, w);
        }
    for (size_t i = R * D; i < R * D + 4; i++) bad += y[i] != 42.0f;
    CHECK(bad == 0, "%s: normalised identity rows", file);

    /* The same rows as f16 and bf16, against the rounded inputs (the plain identity output)
     * normalised in double. In f16, rows 2 and 3 leave the range: 3e-30 rounds to 0 (a zero
     * row) and 3e30 to infinity (a NaN row); bf16 has f32's range and takes the rescaled path. */
    static uint16_t xh[R * D], yh[R * D];
    static float xw[R * D], yw[R * D];
    for (int bf = 0; bf < 2; bf++) {
        for (size_t i = 0; i < R * D; i++) {
            xh[i] = isnan(x[i]) ? 0x7e00 : bf ? f32_to_bf16(x[i]) : f32_to_f16(x[i]);
            if (bf && isnan(x[i])) xh[i] = 0x7fc0;
            xw[i] = bf ? bf16_to_f32(xh[i]) : f16_to_f32(xh[i]);
        }
        CHECK(bf || (xw[2 * D] == 0.0f && isinf(xw[3 * D])), "f16 rounding of rows 2 and 3");
        CHECK_STATUS((bf ? glocal_apply_bf16_ex : glocal_apply_f16_ex)(&t, xh, R * D, yh, R * D, GLOCAL_APPLY_L2_NORMALIZE),
                     GLOCAL_STATUS_OK);
        for (size_t i = 0; i < R * D; i++) yw[i] = bf ? bf16_to_f32(yh[i]) : f16_to_f32(yh[i]);
        bad = check_normalised(yw, xw, R, D, bf ? 0x1p-8 : 0x1p-11, bf ? 0.0 : 0x1p-24, file);
        CHECK(bad == 0, "%s: normalised identity rows, %s", file, bf ? "bf16" : "f16");
    }
    free(b.data);
}

static void test_numbers(const char *dir) {
    static const struct {
        const char *file;
        size_t d_in, d_out;
        glocal_dtype dtype;
        const char *kernel_prefix;
    } cases[] = {
        {"s37x19_f32.glw", 37, 19, GLOCAL_DTYPE_F32, "f32_f32acc_"},
        {"s37x19_f16.glw", 37, 19, GLOCAL_DTYPE_F16, "f16_f32acc_"},
        {"s37x19_bf16.glw", 37, 19, GLOCAL_DTYPE_BF16, "bf16_f32acc_"},
        {"s1x1_f32.glw", 1, 1, GLOCAL_DTYPE_F32, "f32_f32acc_"},
        {"s16x48_bf16.glw", 16, 48, GLOCAL_DTYPE_BF16, "bf16_f32acc_"},
        /* i8d through the same functions (no i8d-specific API): stored weights replayed here. */
        {"s37x19_i8d.glw", 37, 19, GLOCAL_DTYPE_I8D, "i8d_f32acc_"},
    };
    /* 13, 80 and 150 rows: packed inputs with a workspace on x86_64 (one and two chunks of 144). */
    static const size_t rows[] = {1, 3, 4, 5, 9, 13, 80, 150};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        blob_buf b = load(dir, cases[c].file);
        glocal_transform t = {0};
        CHECK_STATUS(glocal_transform_init(&t, b.data, b.len), GLOCAL_STATUS_OK);
        CHECK(glocal_transform_dim_in(&t) == cases[c].d_in, "%s: dim_in %zu", cases[c].file, glocal_transform_dim_in(&t));
        CHECK(glocal_transform_dim_out(&t) == cases[c].d_out, "%s: dim_out %zu", cases[c].file,
              glocal_transform_dim_out(&t));
        CHECK(glocal_transform_dtype(&t) == cases[c].dtype, "%s: dtype %d", cases[c].file, (int)glocal_transform_dtype(&t));
        /* Packed through the library's pack API, without a measurement. */
        CHECK(glocal_transform_measured_error(&t) == -1.0f, "%s: measured_error %g", cases[c].file,
              (double)glocal_transform_measured_error(&t));
        const char *kernel = glocal_transform_kernel(&t);
        CHECK(kernel && strncmp(kernel, cases[c].kernel_prefix, strlen(cases[c].kernel_prefix)) == 0, "%s: kernel %s",
              cases[c].file, kernel ? kernel : "(null)");
        for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) check_apply(&t, cases[c].d_in, cases[c].d_out, rows[r], cases[c].file);

        /* A copy made by assignment is a valid transform too, kernel name included; wiping the
         * original does not affect it. */
        char kernel_name[64] = "";
        if (kernel) snprintf(kernel_name, sizeof kernel_name, "%s", kernel);
        glocal_transform copy = t;
        memset(&t, 0, sizeof t);
        check_not_initialized(&t, "wiped");
        CHECK(glocal_transform_dim_in(&copy) == cases[c].d_in, "copy");
        const char *copy_kernel = glocal_transform_kernel(&copy);
        CHECK(copy_kernel && strcmp(copy_kernel, kernel_name) == 0, "copy kernel name %s",
              copy_kernel ? copy_kernel : "(null)");
        check_apply(&copy, cases[c].d_in, cases[c].d_out, 2, "copy");
        free(b.data);
    }
}

static void put_u16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void put_u32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put_f64(uint8_t *p, double v) { memcpy(p, &v, 8); }

static void test_init_errors(const char *dir) {
    blob_buf b = load(dir, "s37x19_f16.glw");
    uint8_t *work = aligned_alloc(64, ((b.len + 64) / 64 + 1) * 64);
    glocal_transform t = {0};

    /* NULL arguments and storage that was never initialised. */
    CHECK_STATUS(glocal_transform_init(NULL, b.data, b.len), GLOCAL_STATUS_NULL_POINTER);
    CHECK_STATUS(glocal_transform_init(&t, NULL, b.len), GLOCAL_STATUS_NULL_POINTER);
    check_not_initialized(&t, "zeroed");
    CHECK(glocal_transform_dim_in(NULL) == 0 && glocal_transform_dim_out(NULL) == 0, "NULL dims");
    CHECK(glocal_transform_dtype(NULL) == GLOCAL_DTYPE_NONE && glocal_transform_kernel(NULL) == NULL, "NULL queries");
    glocal_transform garbage;
    memset(&garbage, 0xA5, sizeof garbage);
    check_not_initialized(&garbage, "garbage");

    /* Misaligned transform storage. */
    uint64_t raw[GLOCAL_TRANSFORM_SIZE / 8 + 1];
    glocal_transform *odd = (glocal_transform *)(void *)((uintptr_t)raw + 4);
    CHECK_STATUS(glocal_transform_init(odd, b.data, b.len), GLOCAL_STATUS_MISALIGNED_POINTER);
    CHECK(glocal_transform_dim_in(odd) == 0, "misaligned t");

    /* One corruption per header field, each reported with its own status. The header is parsed
     * in byte order, before the checksum, so each edit reaches exactly its own check. */
    static const struct {
        size_t offset;
        int kind; /* 0: set byte, 1: u16, 2: u32, 3: f64 */
        double value;
        glocal_status want;
    } edits[] = {
        {0x00, 0, 'X', GLOCAL_STATUS_BLOB_BAD_MAGIC},
        {0x08, 1, 2, GLOCAL_STATUS_BLOB_UNSUPPORTED_VERSION},
        {0x0A, 1, 255, GLOCAL_STATUS_BLOB_BAD_HEADER_LENGTH},
        {0x0C, 2, 0x04030201u, GLOCAL_STATUS_BLOB_WRONG_ENDIANNESS},
        {0x10, 0, 9, GLOCAL_STATUS_BLOB_UNKNOWN_DTYPE},
        {0x11, 0, 8, GLOCAL_STATUS_BLOB_UNSUPPORTED_PANEL_WIDTH},
        {0x12, 1, 0x0101, GLOCAL_STATUS_BLOB_BAD_FLAGS},
        {0x12, 1, 0x0007, GLOCAL_STATUS_BLOB_BAD_ERROR_RECORD}, /* ERROR_RECORDED with 0 probe rows */
        {0x14, 2, 0, GLOCAL_STATUS_BLOB_BAD_DIMS},
        {0x18, 2, 70000, GLOCAL_STATUS_BLOB_BAD_DIMS},
        {0x1C, 2, 3, GLOCAL_STATUS_BLOB_BAD_LAYOUT},
        {0x58, 2, 64, GLOCAL_STATUS_BLOB_BAD_LAYOUT},
        {0x28, 3, -1.0, GLOCAL_STATUS_BLOB_BAD_NORMALISATION},
        {0x20, 3, INFINITY, GLOCAL_STATUS_BLOB_BAD_NORMALISATION},
        {0x70, 0, 0xFF, GLOCAL_STATUS_BLOB_BAD_NAME},
        {0xF0, 0, 1, GLOCAL_STATUS_BLOB_RESERVED_NOT_ZERO},
        {0x100, 0, 0x5A, GLOCAL_STATUS_BLOB_CHECKSUM_MISMATCH}, /* first bias byte */
        {0xFC, 0, 0x00, GLOCAL_STATUS_BLOB_CHECKSUM_MISMATCH},  /* stored CRC itself */
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        memcpy(work, b.data, b.len);
        uint8_t *p = work + edits[i].offset;
        switch (edits[i].kind) {
        case 0: *p = (uint8_t)(*p == (uint8_t)edits[i].value ? ~*p : (uint8_t)edits[i].value); break;
        case 1: put_u16(p, (uint16_t)edits[i].value); break;
        case 2: put_u32(p, (uint32_t)edits[i].value); break;
        default: put_f64(p, edits[i].value); break;
        }
        /* Start from a valid transform: a failed init must invalidate it. */
        CHECK_STATUS(glocal_transform_init(&t, b.data, b.len), GLOCAL_STATUS_OK);
        glocal_status got = glocal_transform_init(&t, work, b.len);
        CHECK(got == edits[i].want, "edit %zu at 0x%zx: %s, expected %s", i, edits[i].offset, glocal_status_name(got),
              glocal_status_name(edits[i].want));
        check_not_initialized(&t, "after failed init");
    }

    /* Every single-bit flip anywhere in the blob is rejected (each with some blob status). */
    size_t undetected = 0;
    for (size_t bit = 0; bit < b.len * 8; bit++) {
        memcpy(work, b.data, b.len);
        work[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        glocal_status got = glocal_transform_init(&t, work, b.len);
        if (got == GLOCAL_STATUS_OK || (int)got < 200 || (int)got > 299) undetected++;
    }
    CHECK(undetected == 0, "%zu of %zu single-bit flips not rejected", undetected, b.len * 8);

    /* Lengths: truncated header, truncated payload, trailing byte, absurd length. */
    memcpy(work, b.data, b.len);
    work[b.len] = 0;
    CHECK_STATUS(glocal_transform_init(&t, work, 0), GLOCAL_STATUS_BLOB_TRUNCATED_HEADER);
    CHECK_STATUS(glocal_transform_init(&t, work, 255), GLOCAL_STATUS_BLOB_TRUNCATED_HEADER);
    CHECK_STATUS(glocal_transform_init(&t, work, b.len - 1), GLOCAL_STATUS_BLOB_LENGTH_MISMATCH);
    CHECK_STATUS(glocal_transform_init(&t, work, b.len + 1), GLOCAL_STATUS_BLOB_LENGTH_MISMATCH);
    CHECK_STATUS(glocal_transform_init(&t, work, SIZE_MAX), GLOCAL_STATUS_BLOB_LENGTH_MISMATCH);

    /* Misaligned blob: rejected with its own status, never read out of place. */
    for (size_t off = 1; off < 4; off++) {
        memmove(work + off, b.data, b.len);
        CHECK_STATUS(glocal_transform_init(&t, work + off, b.len), GLOCAL_STATUS_BLOB_MISALIGNED);
    }

    /* A kernel that cannot run: GLOCAL_FORCE_ISA names no ISA. */
    setenv("GLOCAL_FORCE_ISA", "no-such-isa", 1);
    CHECK_STATUS(glocal_transform_init(&t, b.data, b.len), GLOCAL_STATUS_KERNEL_UNAVAILABLE);
    unsetenv("GLOCAL_FORCE_ISA");
    setenv("GLOCAL_FORCE_ISA", "scalar", 1);
    CHECK_STATUS(glocal_transform_init(&t, b.data, b.len), GLOCAL_STATUS_OK);
    CHECK(glocal_transform_kernel(&t) && strstr(glocal_transform_kernel(&t), "__scalar"), "forced scalar: %s",
          glocal_transform_kernel(&t));
    unsetenv("GLOCAL_FORCE_ISA");

    free(work);
    free(b.data);
}

static void test_apply_errors(const char *dir) {
    blob_buf b = load(dir, "s37x19_f32.glw");
    glocal_transform t = {0};
    CHECK_STATUS(glocal_transform_init(&t, b.data, b.len), GLOCAL_STATUS_OK);
    enum { DI = 37, DO = 19, ROWS = 3 };
    static float x[ROWS * DI + 8], y[ROWS * DO + 8], y0[ROWS * DO + 8];
    static uint16_t xh[ROWS * DI + 8], yh[ROWS * DO + 8], yh0[ROWS * DO + 8];
    for (size_t i = 0; i < ROWS * DO + 8; i++) y[i] = y0[i] = 3.25f, yh[i] = yh0[i] = 0x4321;

#define UNTOUCHED() CHECK(memcmp(y, y0, sizeof y) == 0 && memcmp(yh, yh0, sizeof yh) == 0, "y written on error")
#define ALL3(x_, xh_, xl, y_, yh_, yl, want)                                                       \
    CHECK_STATUS(glocal_apply_f32(&t, x_, xl, y_, yl), want);                                     \
    CHECK_STATUS(glocal_apply_f16(&t, xh_, xl, yh_, yl), want);                                   \
    CHECK_STATUS(glocal_apply_bf16(&t, xh_, xl, yh_, yl), want);                                  \
    CHECK_STATUS(glocal_apply_f32_ex(&t, x_, xl, y_, yl, GLOCAL_APPLY_L2_NORMALIZE), want);       \
    CHECK_STATUS(glocal_apply_f16_ex(&t, xh_, xl, yh_, yl, GLOCAL_APPLY_L2_NORMALIZE), want);     \
    CHECK_STATUS(glocal_apply_bf16_ex(&t, xh_, xl, yh_, yl, 0), want);                            \
    UNTOUCHED()

    CHECK_STATUS(glocal_apply_f32(NULL, x, DI, y, DO), GLOCAL_STATUS_NULL_POINTER);
    CHECK_STATUS(glocal_apply_f16(NULL, xh, DI, yh, DO), GLOCAL_STATUS_NULL_POINTER);
    CHECK_STATUS(glocal_apply_bf16(NULL, xh, DI, yh, DO), GLOCAL_STATUS_NULL_POINTER);
    CHECK_STATUS(glocal_apply_f32_ex(NULL, x, DI, y, DO, GLOCAL_APPLY_L2_NORMALIZE), GLOCAL_STATUS_NULL_POINTER);
    CHECK_STATUS(glocal_apply_f16_ex(NULL, xh, DI, yh, DO, GLOCAL_APPLY_L2_NORMALIZE), GLOCAL_STATUS_NULL_POINTER);
    CHECK_STATUS(glocal_apply_bf16_ex(NULL, xh, DI, yh, DO, GLOCAL_APPLY_L2_NORMALIZE), GLOCAL_STATUS_NULL_POINTER);

    /* Unknown flag bits: refused before anything else (even a NULL t or bad lengths), for every
     * bit this version does not define, nothing written. */
    static const uint32_t unknown_flags[] = {1u << 1, 1u << 2, 1u << 31, 0xFFFFFFFFu, GLOCAL_APPLY_L2_NORMALIZE | 0x100u};
    for (size_t i = 0; i < sizeof unknown_flags / sizeof unknown_flags[0]; i++) {
        uint32_t f = unknown_flags[i];
        CHECK_STATUS(glocal_apply_f32_ex(&t, x, DI, y, DO, f), GLOCAL_STATUS_UNKNOWN_FLAGS);
        CHECK_STATUS(glocal_apply_f16_ex(&t, xh, DI, yh, DO, f), GLOCAL_STATUS_UNKNOWN_FLAGS);
        CHECK_STATUS(glocal_apply_bf16_ex(&t, xh, DI, yh, DO, f), GLOCAL_STATUS_UNKNOWN_FLAGS);
        CHECK_STATUS(glocal_apply_f32_ex(NULL, NULL, 0, NULL, 0, f), GLOCAL_STATUS_UNKNOWN_FLAGS);
        UNTOUCHED();
    }
    unsigned known = 0;
    for (unsigned bit = 0; bit < 32; bit++) {
        glocal_status st = glocal_apply_f32_ex(&t, x, DI, y, DO, 1u << bit);
        known += st == GLOCAL_STATUS_OK;
        CHECK(st == GLOCAL_STATUS_OK || st == GLOCAL_STATUS_UNKNOWN_FLAGS, "flag bit %u: %s", bit, glocal_status_name(st));
    }
    CHECK(known == 1, "%u flag bits accepted, this version defines 1", known);
    memcpy(y, y0, sizeof y);
    ALL3(NULL, NULL, DI, y, yh, DO, GLOCAL_STATUS_NULL_POINTER);
    ALL3(x, xh, DI, NULL, NULL, DO, GLOCAL_STATUS_NULL_POINTER);
    ALL3(x, xh, 0, y, yh, DO, GLOCAL_STATUS_INPUT_LENGTH);        /* zero rows */
    ALL3(x, xh, 0, y, yh, 0, GLOCAL_STATUS_INPUT_LENGTH);
    ALL3(x, xh, DI - 1, y, yh, DO, GLOCAL_STATUS_INPUT_LENGTH);   /* not a multiple of dim_in */
    ALL3(x, xh, 2 * DI + 1, y, yh, 3 * DO, GLOCAL_STATUS_INPUT_LENGTH);
    ALL3(x, xh, SIZE_MAX - SIZE_MAX % DI, y, yh, SIZE_MAX, GLOCAL_STATUS_INPUT_LENGTH); /* absurd */
    ALL3(x, xh, DI, y, yh, DO - 1, GLOCAL_STATUS_OUTPUT_LENGTH);
    ALL3(x, xh, ROWS * DI, y, yh, ROWS * DO - 1, GLOCAL_STATUS_OUTPUT_LENGTH);
    ALL3(x, xh, DI, y, yh, 0, GLOCAL_STATUS_OUTPUT_LENGTH);

    /* Misaligned element pointers (never dereferenced by this test). */
    const float *xo = (const float *)(const void *)((uintptr_t)x + 1);
    float *yo = (float *)(void *)((uintptr_t)y + 2);
    const uint16_t *xho = (const uint16_t *)(const void *)((uintptr_t)xh + 1);
    uint16_t *yho = (uint16_t *)(void *)((uintptr_t)yh + 1);
    ALL3(xo, xho, DI, y, yh, DO, GLOCAL_STATUS_MISALIGNED_POINTER);
    ALL3(x, xh, DI, yo, yho, DO, GLOCAL_STATUS_MISALIGNED_POINTER);

    /* In place or overlapping: refused, nothing written. */
    static float both[4 * DI];
    static uint16_t bothh[4 * DI];
    for (size_t i = 0; i < 4 * DI; i++) both[i] = 1.0f, bothh[i] = 0x3c00;
    CHECK_STATUS(glocal_apply_f32(&t, both, DI, both, DO), GLOCAL_STATUS_BUFFERS_OVERLAP);
    CHECK_STATUS(glocal_apply_f32(&t, both + DO, DI, both, DO), GLOCAL_STATUS_OK); /* adjacent: fine */
    for (size_t i = 0; i < 4 * DI; i++) both[i] = 1.0f;
    CHECK_STATUS(glocal_apply_f32(&t, both + DO - 1, DI, both, DO), GLOCAL_STATUS_BUFFERS_OVERLAP);
    CHECK_STATUS(glocal_apply_f32(&t, both, DI, both + DI - 1, DO), GLOCAL_STATUS_BUFFERS_OVERLAP);
    CHECK_STATUS(glocal_apply_f16(&t, bothh, DI, bothh + 5, DO), GLOCAL_STATUS_BUFFERS_OVERLAP);
    CHECK_STATUS(glocal_apply_bf16(&t, bothh + 5, DI, bothh, DO), GLOCAL_STATUS_BUFFERS_OVERLAP);
    CHECK_STATUS(glocal_apply_f32_ex(&t, both, DI, both + DI - 1, DO, GLOCAL_APPLY_L2_NORMALIZE), GLOCAL_STATUS_BUFFERS_OVERLAP);
    CHECK_STATUS(glocal_apply_f16_ex(&t, bothh, DI, bothh + 5, DO, GLOCAL_APPLY_L2_NORMALIZE), GLOCAL_STATUS_BUFFERS_OVERLAP);
    CHECK_STATUS(glocal_apply_bf16_ex(&t, bothh + 5, DI, bothh, DO, GLOCAL_APPLY_L2_NORMALIZE), GLOCAL_STATUS_BUFFERS_OVERLAP);
    int intact = 1;
    for (size_t i = 0; i < 4 * DI; i++) intact &= both[i] == 1.0f && bothh[i] == 0x3c00;
    CHECK(intact, "overlapping buffers written");
    UNTOUCHED();

    /* NaN in a row makes that row NaN, and only that row. */
    for (size_t i = 0; i < ROWS * DI; i++) x[i] = 1.0f;
    x[DI + 5] = NAN;
    CHECK_STATUS(glocal_apply_f32(&t, x, ROWS * DI, y, ROWS * DO), GLOCAL_STATUS_OK);
    int nan_ok = 1;
    for (size_t i = 0; i < ROWS * DO; i++) nan_ok &= (i / DO == 1) == (isnan(y[i]) != 0);
    CHECK(nan_ok, "NaN propagation by row");
    /* ... and normalised: the NaN row all NaN, the others unit-norm. */
    CHECK_STATUS(glocal_apply_f32_ex(&t, x, ROWS * DI, y, ROWS * DO, GLOCAL_APPLY_L2_NORMALIZE), GLOCAL_STATUS_OK);
    nan_ok = 1;
    for (size_t r = 0; r < ROWS; r++) {
        double sq = 0.0;
        for (size_t j = 0; j < DO; j++) sq += (double)y[r * DO + j] * y[r * DO + j], nan_ok &= (r == 1) == (isnan(y[r * DO + j]) != 0);
        nan_ok &= r == 1 || fabs(sqrt(sq) - 1.0) <= 2.0 * (DO + 4) * FLT_EPSILON;
    }
    CHECK(nan_ok, "normalised: NaN row all NaN, other rows unit-norm");
#undef ALL3
#undef UNTOUCHED
    free(b.data);
}

/* ---- quantized inputs: glocal_apply_s8 / glocal_apply_u8 ------------------------------------- */

/* For every dtype of the synthetic transform, int8 and uint8 rows with several scales and zero
 * points: the output is bit for bit glocal_apply_f32's on the dequantized floats
 * (float)(q - zp) * scale (same kernel), and within a stated bound of the double reference;
 * a row of zero points gives the bias (the output of an all-zero float row); every error
 * status, y untouched. */
static void test_quantized(const char *dir) {
    enum { DI = 37, DO = 19, ROWS = 5 };
    static const char *names[] = {"s37x19_f32.glw", "s37x19_f16.glw", "s37x19_bf16.glw", "s37x19_i8d.glw"};
    static const struct { float scale; int32_t zp; } s8p[] = {{0.5f, 0}, {0.0625f, -128}, {0.1f, 127}, {3.0f, 5}};
    static const struct { float scale; int32_t zp; } u8p[] = {{0.5f, 128}, {0.02f, 0}, {1.0f / 255.0f, 255}, {0.25f, 7}};
    for (size_t bi = 0; bi < 4; bi++) {
        blob_buf b = load(dir, names[bi]);
        glocal_transform t = {0};
        CHECK_STATUS(glocal_transform_init(&t, b.data, b.len), GLOCAL_STATUS_OK);
        int8_t qs[ROWS * DI];
        uint8_t qu[ROWS * DI];
        float xd[ROWS * DI], want[ROWS * DO], got[ROWS * DO + 2];
        double ref[ROWS * DO];
        for (size_t i = 0; i < ROWS * DI; i++) qs[i] = (int8_t)((int)((i * 37 + 11) % 256) - 128), qu[i] = (uint8_t)((i * 53 + 3) % 256);
        for (size_t p = 0; p < 4; p++) {
            for (int unsig = 0; unsig < 2; unsig++) {
                float sc = unsig ? u8p[p].scale : s8p[p].scale;
                int32_t zp = unsig ? u8p[p].zp : s8p[p].zp;
                for (size_t i = 0; i < ROWS * DI; i++) xd[i] = (float)((unsig ? (int32_t)qu[i] : (int32_t)qs[i]) - zp) * sc;
                for (size_t rows = 1; rows <= ROWS; rows += 2) {
                    size_t nx = rows * DI, ny = rows * DO;
                    CHECK_STATUS(glocal_apply_f32(&t, xd, nx, want, ny), GLOCAL_STATUS_OK);
                    for (size_t i = 0; i < ny + 2; i++) got[i] = -9.5f;
                    if (unsig)
                        CHECK_STATUS(glocal_apply_u8(&t, qu, nx, sc, zp, got, ny + 2), GLOCAL_STATUS_OK);
                    else
                        CHECK_STATUS(glocal_apply_s8(&t, qs, nx, sc, zp, got, ny + 2), GLOCAL_STATUS_OK);
                    CHECK(memcmp(got, want, ny * sizeof *got) == 0, "%s %s scale %g zp %d rows %zu: differs from apply_f32 on the dequantized rows",
                          names[bi], unsig ? "u8" : "s8", (double)sc, (int)zp, rows);
                    CHECK(got[ny] == -9.5f && got[ny + 1] == -9.5f, "%s: written past rows * dim_out", names[bi]);
                    /* Real values: the double formula on the dequantized rows. The weights of
                     * f16/bf16 blobs are exact (pack_blob.rs), so every dtype but i8d is within
                     * f32 rounding of it; i8d within its quantisation (generous 1e-2 of max |y|). */
                    reference(DI, DO, xd, rows, ref);
                    double ymax = 0.0, err = 0.0;
                    for (size_t i = 0; i < ny; i++) ymax = fmax(ymax, fabs(ref[i])), err = fmax(err, fabs(got[i] - ref[i]));
                    double bound = bi == 3 ? 1e-2 * ymax : 64.0 * FLT_EPSILON * (ymax + 1.0);
                    CHECK(err <= bound, "%s %s scale %g zp %d rows %zu: error %g against the double formula, bound %g",
                          names[bi], unsig ? "u8" : "s8", (double)sc, (int)zp, rows, err, bound);
                }
            }
        }
        /* A row of zero points is the zero row: the output of apply_f32 on zeros (the bias). */
        float zeros[DI] = {0}, bias[DO];
        int8_t zs[DI];
        uint8_t zu[DI];
        memset(zs, 0x85, sizeof zs); /* -123 */
        memset(zu, 200, sizeof zu);
        CHECK_STATUS(glocal_apply_f32(&t, zeros, DI, bias, DO), GLOCAL_STATUS_OK);
        CHECK_STATUS(glocal_apply_s8(&t, zs, DI, 0.37f, -123, got, DO), GLOCAL_STATUS_OK);
        CHECK(memcmp(got, bias, sizeof bias) == 0, "%s: s8 row of zero points is not the bias", names[bi]);
        CHECK_STATUS(glocal_apply_u8(&t, zu, DI, 0.37f, 200, got, DO), GLOCAL_STATUS_OK);
        CHECK(memcmp(got, bias, sizeof bias) == 0, "%s: u8 row of zero points is not the bias", names[bi]);
        free(b.data);
    }

    /* Errors: nothing written. */
    blob_buf b = load(dir, "s37x19_f32.glw");
    glocal_transform t = {0};
    CHECK_STATUS(glocal_transform_init(&t, b.data, b.len), GLOCAL_STATUS_OK);
    static int8_t xs[2 * DI + 8];
    static uint8_t xu[2 * DI + 8];
    static float y[2 * DO + 8], y0[2 * DO + 8];
    for (size_t i = 0; i < 2 * DO + 8; i++) y[i] = y0[i] = 3.25f;
#define BOTH(xl, sc, zs_, zu_, y_, yl, want)                                  \
    CHECK_STATUS(glocal_apply_s8(&t, xs, xl, sc, zs_, y_, yl), want);         \
    CHECK_STATUS(glocal_apply_u8(&t, xu, xl, sc, zu_, y_, yl), want);         \
    CHECK(memcmp(y, y0, sizeof y) == 0, "y written on error %s", #want)
    CHECK_STATUS(glocal_apply_s8(NULL, xs, DI, 1.0f, 0, y, DO), GLOCAL_STATUS_NULL_POINTER);
    CHECK_STATUS(glocal_apply_u8(NULL, xu, DI, 1.0f, 0, y, DO), GLOCAL_STATUS_NULL_POINTER);
    CHECK_STATUS(glocal_apply_s8(&t, NULL, DI, 1.0f, 0, y, DO), GLOCAL_STATUS_NULL_POINTER);
    CHECK_STATUS(glocal_apply_u8(&t, NULL, DI, 1.0f, 0, y, DO), GLOCAL_STATUS_NULL_POINTER);
    BOTH(DI, 1.0f, 0, 0, NULL, DO, GLOCAL_STATUS_NULL_POINTER);
    const float bad_scales[] = {0.0f, -0.0f, -1.0f, (float)NAN, (float)INFINITY, -(float)INFINITY};
    for (size_t i = 0; i < sizeof bad_scales / sizeof bad_scales[0]; i++) {
        BOTH(DI, bad_scales[i], 0, 0, y, DO, GLOCAL_STATUS_BAD_INPUT_SCALE);
    }
    BOTH(DI, 1.0f, -129, -1, y, DO, GLOCAL_STATUS_BAD_INPUT_ZERO_POINT);
    BOTH(DI, 1.0f, 128, 256, y, DO, GLOCAL_STATUS_BAD_INPUT_ZERO_POINT);
    BOTH(DI, 1.0f, INT32_MIN, INT32_MAX, y, DO, GLOCAL_STATUS_BAD_INPUT_ZERO_POINT);
    CHECK_STATUS(glocal_apply_u8(&t, xu, DI, 1.0f, -128, y, DO), GLOCAL_STATUS_BAD_INPUT_ZERO_POINT);
    BOTH(0, 1.0f, 0, 0, y, DO, GLOCAL_STATUS_INPUT_LENGTH);
    BOTH(DI + 1, 1.0f, 0, 0, y, 2 * DO, GLOCAL_STATUS_INPUT_LENGTH);
    BOTH(2 * DI, 1.0f, 0, 0, y, 2 * DO - 1, GLOCAL_STATUS_OUTPUT_LENGTH);
    BOTH(DI, 1.0f, 0, 0, (float *)(void *)((uintptr_t)y + 1), DO, GLOCAL_STATUS_MISALIGNED_POINTER);
#undef BOTH
    /* x inside y's range, or y inside x's: refused, nothing written. */
    static float ov[2 * DI];
    CHECK_STATUS(glocal_apply_s8(&t, (const int8_t *)(const void *)ov, DI, 1.0f, 0, ov, DO), GLOCAL_STATUS_BUFFERS_OVERLAP);
    CHECK_STATUS(glocal_apply_u8(&t, (const uint8_t *)(const void *)(ov + DO - 1), DI, 1.0f, 0, ov, DO),
                 GLOCAL_STATUS_BUFFERS_OVERLAP);
    int ov_zero = 1;
    for (size_t i = 0; i < 2 * DI; i++) ov_zero &= ov[i] == 0.0f;
    CHECK(ov_zero, "overlapping buffers written");
    /* Adjacent (x right after y's rows): fine. */
    CHECK_STATUS(glocal_apply_u8(&t, (const uint8_t *)(const void *)(ov + DO), DI, 1.0f, 0, ov, DO), GLOCAL_STATUS_OK);
    free(b.data);
}

static void test_mapped(const char *dir) {
    char path[1024];
    glocal_mapped *m = (glocal_mapped *)(uintptr_t)1;

    snprintf(path, sizeof path, "%s/s37x19_bf16.glw", dir);
    CHECK_STATUS(glocal_mapped_open(path, &m), GLOCAL_STATUS_OK);
    const glocal_transform *t = glocal_mapped_transform(m);
    CHECK(t != NULL, "mapped transform");
    CHECK(glocal_transform_dim_in(t) == 37 && glocal_transform_dim_out(t) == 19, "mapped dims");
    CHECK(glocal_transform_dtype(t) == GLOCAL_DTYPE_BF16, "mapped dtype");
    check_apply(t, 37, 19, 6, "mapped");
    glocal_mapped_close(m);

    CHECK_STATUS(glocal_mapped_open(path, NULL), GLOCAL_STATUS_NULL_POINTER);
    m = (glocal_mapped *)(uintptr_t)1;
    CHECK_STATUS(glocal_mapped_open(NULL, &m), GLOCAL_STATUS_NULL_POINTER);
    CHECK(m == NULL, "out not NULL after error");
    snprintf(path, sizeof path, "%s/does-not-exist.glw", dir);
    m = (glocal_mapped *)(uintptr_t)1;
    CHECK_STATUS(glocal_mapped_open(path, &m), GLOCAL_STATUS_FILE_OPEN_FAILED);
    CHECK(m == NULL, "out not NULL after error");
    CHECK_STATUS(glocal_mapped_open(dir, &m), GLOCAL_STATUS_FILE_MAP_FAILED); /* a directory */
    CHECK(m == NULL, "out not NULL after error");

    /* An empty file and a corrupt file are rejected as blobs. */
    snprintf(path, sizeof path, "%s/scratch-empty.glw", dir);
    write_file(path, "", 0);
    CHECK_STATUS(glocal_mapped_open(path, &m), GLOCAL_STATUS_BLOB_TRUNCATED_HEADER);
    CHECK(m == NULL, "out not NULL after error");
    blob_buf b = load(dir, "s37x19_f32.glw");
    b.data[b.len - 1] ^= 0x10;
    snprintf(path, sizeof path, "%s/scratch-corrupt.glw", dir);
    write_file(path, b.data, b.len);
    CHECK_STATUS(glocal_mapped_open(path, &m), GLOCAL_STATUS_BLOB_CHECKSUM_MISMATCH);
    CHECK(m == NULL, "out not NULL after error");
    free(b.data);

    glocal_mapped_close(NULL); /* no-op */
    CHECK(glocal_mapped_transform(NULL) == NULL, "mapped_transform(NULL)");
}

/* Many threads apply one transform at once; each result must equal the single-threaded one. */
enum { THREADS = 4, ITERS = 200, TROWS = 5 };
typedef struct {
    const glocal_transform *t;
    unsigned seed;
    int mismatches;
} job;

static void *worker(void *arg) {
    job *j = arg;
    size_t d_in = glocal_transform_dim_in(j->t), d_out = glocal_transform_dim_out(j->t);
    float *x = malloc(TROWS * d_in * sizeof *x), *y = malloc(TROWS * d_out * sizeof *y);
    double *ref = malloc(TROWS * d_out * sizeof *ref);
    for (int it = 0; it < ITERS; it++) {
        unsigned seed = j->seed * 1000u + (unsigned)it;
        for (size_t r = 0; r < TROWS; r++)
            for (size_t k = 0; k < d_in; k++) x[r * d_in + k] = syn_x(r, k, seed);
        reference(d_in, d_out, x, TROWS, ref);
        if (glocal_apply_f32(j->t, x, TROWS * d_in, y, TROWS * d_out) != GLOCAL_STATUS_OK) j->mismatches++;
        for (size_t i = 0; i < TROWS * d_out; i++) j->mismatches += y[i] != (float)ref[i];
    }
    free(x), free(y), free(ref);
    return NULL;
}

static void test_threads(const char *dir) {
    char path[1024];
    glocal_mapped *m = NULL;
    const char *no_threads = getenv("GLOCAL_TEST_NO_THREADS");
    if (no_threads && strcmp(no_threads, "1") == 0) {
        printf("NOTICE: test_threads skipped (GLOCAL_TEST_NO_THREADS=1)\n");
        return;
    }
    snprintf(path, sizeof path, "%s/s37x19_f16.glw", dir);
    CHECK_STATUS(glocal_mapped_open(path, &m), GLOCAL_STATUS_OK);
    pthread_t th[THREADS];
    job jobs[THREADS];
    for (unsigned i = 0; i < THREADS; i++) {
        jobs[i] = (job){glocal_mapped_transform(m), i + 1, 0};
        CHECK(pthread_create(&th[i], NULL, worker, &jobs[i]) == 0, "pthread_create");
    }
    for (unsigned i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        CHECK(jobs[i].mismatches == 0, "thread %u: %d mismatches", i, jobs[i].mismatches);
    }
    glocal_mapped_close(m);
}

/* CRC-32C (Castagnoli, reflected 0x82F63B78) over the blob minus its checksum field, as
 * docs/FORMAT.md defines it: bytes [0, 0xFC) then [256, len). Bitwise: test code only. */
static uint32_t blob_crc(const uint8_t *b, size_t len) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < len; i++) {
        if (i == 0xFC) i = 256;
        if (i >= len) break;
        c ^= b[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
    }
    return ~c;
}

/* An i8d blob whose aux section was altered and re-checksummed (a crafted blob, not a
 * corrupt one): a row scale of inf, of 2^121, of -1, or a NaN diagonal entry is refused
 * with GLOCAL_STATUS_BLOB_BAD_AUX; the blob as packed, and a scale of exactly 2^120, pass. */
static void test_bad_aux(const char *dir) {
    blob_buf b = load(dir, "s37x19_i8d.glw");
    glocal_transform t = {0};
    CHECK_STATUS(glocal_transform_init(&t, b.data, b.len), GLOCAL_STATUS_OK);
    uint64_t aux;
    memcpy(&aux, b.data + 0x60, 8);
    const size_t diag = (size_t)aux + 4 * 48; /* round_up(d_in = 37, 16) scales first */
    static const struct {
        size_t at;
        float value;
        glocal_status want;
    } cases[] = {
        {0, (float)INFINITY, GLOCAL_STATUS_BLOB_BAD_AUX},
        {3, 0x1p121f, GLOCAL_STATUS_BLOB_BAD_AUX},
        {36, -1.0f, GLOCAL_STATUS_BLOB_BAD_AUX},
        {37, 1.0f, GLOCAL_STATUS_BLOB_BAD_AUX}, /* scale padding */
        {5, 0x1p120f, GLOCAL_STATUS_OK},
    };
    uint8_t *work = aligned_alloc(64, ((b.len + 64) / 64 + 1) * 64);
    for (size_t c = 0; c <= sizeof cases / sizeof cases[0]; c++) {
        memcpy(work, b.data, b.len);
        glocal_status want = GLOCAL_STATUS_BLOB_BAD_AUX;
        if (c < sizeof cases / sizeof cases[0]) {
            memcpy(work + aux + 4 * cases[c].at, &cases[c].value, 4);
            want = cases[c].want;
        } else {
            float nan = (float)NAN;
            memcpy(work + diag + 4 * 2, &nan, 4);
        }
        put_u32(work + 0xFC, blob_crc(work, b.len));
        CHECK_STATUS(glocal_transform_init(&t, work, b.len), want);
    }
    free(work);
    free(b.data);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s <dir with synthetic blobs>\n", argv[0]);
        return 2;
    }
    test_version_and_statuses();
    test_numbers(argv[1]);
    test_normalize_identity(argv[1], "id20_f32.glw");
    test_normalize_identity(argv[1], "id20_i8d.glw");
    test_init_errors(argv[1]);
    test_bad_aux(argv[1]);
    test_apply_errors(argv[1]);
    test_quantized(argv[1]);
    test_mapped(argv[1]);
    test_threads(argv[1]);
    printf("worst error / bound: L2-normalised f32 outputs %.3f, i8d f32 outputs %.3f\n", worst_l2, worst_i8d);
    printf("test_glocal (glocal %s): %d passed, %d failed\n", glocal_version(), passed, failed);
    return failed == 0 ? 0 : 1;
}
