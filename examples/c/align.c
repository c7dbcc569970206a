/*
 * Aligns a batch of embeddings with a glocal blob and prints how the cosine similarities
 * between them change.
 *
 *   align <blob.glw> [rows]
 *
 * The blob is memory-mapped (glocal_mapped_open); the batch is made of `rows` synthetic
 * feature vectors in two groups (a shared direction plus noise, non-negative like pooled CNN
 * features), so the table shows both within-group and across-group pairs.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "glocal.h"

/* A small deterministic generator (xorshift32) and Box-Muller normals. */
static uint32_t rng = 2463534242u;
static double uniform(void) {
    rng ^= rng << 13, rng ^= rng >> 17, rng ^= rng << 5;
    return (rng + 0.5) / 4294967296.0;
}
static double normal(void) { return sqrt(-2.0 * log(uniform())) * cos(6.283185307179586 * uniform()); }

static double cosine(const float *a, const float *b, size_t n) {
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < n; i++) ab += (double)a[i] * b[i], aa += (double)a[i] * a[i], bb += (double)b[i] * b[i];
    return ab / (sqrt(aa) * sqrt(bb) + 1e-30);
}

static void print_table(const char *title, const float *v, size_t rows, size_t dim) {
    printf("%s\n      ", title);
    for (size_t j = 0; j < rows; j++) printf("     #%-2zu", j);
    printf("\n");
    for (size_t i = 0; i < rows; i++) {
        printf("  #%-3zu", i);
        for (size_t j = 0; j < rows; j++) printf(" %+.4f", cosine(v + i * dim, v + j * dim, dim));
        printf("\n");
    }
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s <blob.glw> [rows]\n", argv[0]);
        return 2;
    }
    size_t rows = argc == 3 ? (size_t)strtoul(argv[2], NULL, 10) : 6;
    if (rows < 2 || rows > 64) {
        fprintf(stderr, "rows must be 2..64\n");
        return 2;
    }

    glocal_mapped *mapped = NULL;
    glocal_status st = glocal_mapped_open(argv[1], &mapped);
    if (st != GLOCAL_STATUS_OK) {
        fprintf(stderr, "%s: %s (%s)\n", argv[1], glocal_status_str(st), glocal_status_name(st));
        return 1;
    }
    const glocal_transform *t = glocal_mapped_transform(mapped);
    size_t d_in = glocal_transform_dim_in(t), d_out = glocal_transform_dim_out(t);
    printf("glocal %s: %s, %zu -> %zu, kernel %s\n", glocal_version(), argv[1], d_in, d_out,
           glocal_transform_kernel(t));

    float *x = malloc(rows * d_in * sizeof *x), *y = malloc(rows * d_out * sizeof *y);
    float *centre = malloc(2 * d_in * sizeof *centre);
    if (!x || !y || !centre) return 1;
    for (size_t i = 0; i < 2 * d_in; i++) centre[i] = (float)fabs(normal());
    for (size_t r = 0; r < rows; r++)
        for (size_t k = 0; k < d_in; k++)
            x[r * d_in + k] = (float)fabs(centre[(r % 2) * d_in + k] + 0.8 * normal());

    st = glocal_apply_f32(t, x, rows * d_in, y, rows * d_out);
    if (st != GLOCAL_STATUS_OK) {
        fprintf(stderr, "apply: %s\n", glocal_status_str(st));
        return 1;
    }
    printf("rows #0, #2, #4, ... share one direction; #1, #3, ... another\n");
    print_table("cosine similarity before alignment", x, rows, d_in);
    print_table("cosine similarity after gLocal alignment", y, rows, d_out);

    free(x), free(y), free(centre);
    glocal_mapped_close(mapped);
    return 0;
}
