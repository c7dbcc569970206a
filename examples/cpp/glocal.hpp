// A small RAII wrapper over the glocal C API (C++17, header-only).
//
//   glocal::MappedFile blob("resnet18.glw");       // throws glocal::Error on failure
//   std::vector<float> y = blob.transform().apply(x);
//
// glocal::MappedFile owns a mapping (move-only, closed by its destructor);
// glocal::Transform owns caller-side storage for a blob the caller keeps alive;
// glocal::View is a non-owning, copyable handle usable from many threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "glocal.h"

namespace glocal {

class Error : public std::runtime_error {
public:
    explicit Error(glocal_status status, const std::string &context = "")
        : std::runtime_error((context.empty() ? "" : context + ": ") + glocal_status_str(status) + " (" +
                             glocal_status_name(status) + ")"),
          status_(status) {}
    glocal_status status() const noexcept { return status_; }

private:
    glocal_status status_;
};

inline void check(glocal_status status, const char *context = "") {
    if (status != GLOCAL_STATUS_OK) throw Error(status, context);
}

// A borrowed, validated transform: cheap to copy, safe to use from many threads.
class View {
public:
    explicit View(const glocal_transform *t) : t_(t) {}
    std::size_t dim_in() const noexcept { return glocal_transform_dim_in(t_); }
    std::size_t dim_out() const noexcept { return glocal_transform_dim_out(t_); }
    glocal_dtype dtype() const noexcept { return glocal_transform_dtype(t_); }
    std::string kernel() const { const char *k = glocal_transform_kernel(t_); return k ? k : ""; }

    // x: rows * dim_in floats, row-major. Returns rows * dim_out floats. flags: 0 or
    // GLOCAL_APPLY_* bits (GLOCAL_APPLY_L2_NORMALIZE: unit-norm output rows).
    std::vector<float> apply(const std::vector<float> &x, std::uint32_t flags = 0) const {
        std::size_t rows = dim_in() ? x.size() / dim_in() : 0;
        std::vector<float> y(rows * dim_out());
        check(glocal_apply_f32_ex(t_, x.data(), x.size(), y.data(), y.size(), flags), "glocal_apply_f32_ex");
        return y;
    }
    // f16 or bf16 bit patterns, as the C API takes them.
    std::vector<std::uint16_t> apply_f16(const std::vector<std::uint16_t> &x, std::uint32_t flags = 0) const {
        std::vector<std::uint16_t> y((dim_in() ? x.size() / dim_in() : 0) * dim_out());
        check(glocal_apply_f16_ex(t_, x.data(), x.size(), y.data(), y.size(), flags), "glocal_apply_f16_ex");
        return y;
    }
    std::vector<std::uint16_t> apply_bf16(const std::vector<std::uint16_t> &x, std::uint32_t flags = 0) const {
        std::vector<std::uint16_t> y((dim_in() ? x.size() / dim_in() : 0) * dim_out());
        check(glocal_apply_bf16_ex(t_, x.data(), x.size(), y.data(), y.size(), flags), "glocal_apply_bf16_ex");
        return y;
    }
    const glocal_transform *get() const noexcept { return t_; }

private:
    const glocal_transform *t_;
};

// Storage for a transform over a blob the caller keeps alive (a static array, a buffer).
// No heap; copyable (copies borrow the same blob).
class Transform {
public:
    Transform(const std::uint8_t *blob, std::size_t len) {
        check(glocal_transform_init(&t_, blob, len), "glocal_transform_init");
    }
    View view() const noexcept { return View(&t_); }

private:
    glocal_transform t_{};
};

// A memory-mapped blob file; the mapping lives as long as this object.
class MappedFile {
public:
    explicit MappedFile(const std::string &path) {
        check(glocal_mapped_open(path.c_str(), &m_), path.c_str());
    }
    MappedFile(MappedFile &&other) noexcept : m_(std::exchange(other.m_, nullptr)) {}
    MappedFile &operator=(MappedFile &&other) noexcept {
        if (this != &other) {
            glocal_mapped_close(m_);
            m_ = std::exchange(other.m_, nullptr);
        }
        return *this;
    }
    MappedFile(const MappedFile &) = delete;
    MappedFile &operator=(const MappedFile &) = delete;
    ~MappedFile() { glocal_mapped_close(m_); }

    // Valid while this object lives (and is not moved from).
    View transform() const noexcept { return View(glocal_mapped_transform(m_)); }

private:
    glocal_mapped *m_ = nullptr;
};

}  // namespace glocal
