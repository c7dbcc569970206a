// Aligns a batch with glocal through the RAII wrapper and prints cosine similarities before
// and after; also shows an error surfacing as an exception.
//
//   align_cpp <blob.glw>
#include <cmath>
#include <cstdio>
#include <random>
#include <thread>
#include <vector>

#include "glocal.hpp"

static double cosine(const float *a, const float *b, std::size_t n) {
    double ab = 0, aa = 0, bb = 0;
    for (std::size_t i = 0; i < n; i++) ab += double(a[i]) * b[i], aa += double(a[i]) * a[i], bb += double(b[i]) * b[i];
    return ab / (std::sqrt(aa) * std::sqrt(bb) + 1e-30);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s <blob.glw>\n", argv[0]);
        return 2;
    }
    try {
        glocal::MappedFile file(argv[1]);
        glocal::MappedFile moved = std::move(file);  // ownership moves; `file` closes nothing
        glocal::View t = moved.transform();
        std::printf("glocal %s: %zu -> %zu, kernel %s\n", glocal_version(), t.dim_in(), t.dim_out(),
                    t.kernel().c_str());

        const std::size_t rows = 4;
        std::mt19937 gen(7);
        std::normal_distribution<float> noise(0.0f, 0.8f);
        std::vector<float> centre(2 * t.dim_in()), x(rows * t.dim_in());
        for (auto &c : centre) c = std::fabs(noise(gen)) * 1.25f;
        for (std::size_t r = 0; r < rows; r++)
            for (std::size_t k = 0; k < t.dim_in(); k++)
                x[r * t.dim_in() + k] = std::fabs(centre[(r % 2) * t.dim_in() + k] + noise(gen));

        // Two threads share the one transform.
        std::vector<float> y, y2;
        std::thread other([&] { y2 = t.apply(x); });
        y = t.apply(x);
        other.join();
        if (y != y2) {
            std::fprintf(stderr, "threads disagree\n");
            return 1;
        }
        for (std::size_t i = 0; i < rows; i++)
            for (std::size_t j = i + 1; j < rows; j++)
                std::printf("pair (#%zu, #%zu): cosine %+.4f before, %+.4f after\n", i, j,
                            cosine(&x[i * t.dim_in()], &x[j * t.dim_in()], t.dim_in()),
                            cosine(&y[i * t.dim_out()], &y[j * t.dim_out()], t.dim_out()));

        // Fused L2 normalisation: the dot product of two normalised rows is their cosine.
        std::vector<float> yn = t.apply(x, GLOCAL_APPLY_L2_NORMALIZE);
        double dot = 0;
        for (std::size_t k = 0; k < t.dim_out(); k++) dot += double(yn[k]) * yn[t.dim_out() + k];
        if (std::fabs(dot - cosine(&y[0], &y[t.dim_out()], t.dim_out())) > 1e-5) {
            std::fprintf(stderr, "normalised rows: dot %.7f is not the cosine\n", dot);
            return 1;
        }
        std::printf("normalised rows: dot(#0, #1) = %+.4f, the cosine after\n", dot);

        try {
            std::vector<float> bad(t.dim_in() + 1);
            t.apply(bad);
            std::fprintf(stderr, "a bad length was accepted\n");
            return 1;
        } catch (const glocal::Error &e) {
            std::printf("expected error: %s\n", e.what());
            if (e.status() != GLOCAL_STATUS_INPUT_LENGTH) return 1;
        }
    } catch (const glocal::Error &e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
    return 0;
}
