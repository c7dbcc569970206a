//! glocal's kernels against nalgebra, matrixmultiply and OpenBLAS on the same folded W, same run.
//!
//! `cargo bench -p glocal-benches --bench kernels` (all cells, about 7 minutes), or a filter:
//! `cargo bench -p glocal-benches --bench kernels -- d768/` . Benchmark ids are
//! `d<d>/<who>/n<n>` where `<who>` is the kernel name from the registry
//! (`f16_f32acc_6x16__avx2_fma_f16c`, ...) or a peer (`nalgebra_gemv_f32`,
//! `matrixmultiply_sgemm_f32`, `openblas_sgemv_f32`). Square transforms d x d, n rows.
//! Every implementation computes `y = x @ W' + b'` with the normalisation folded; peers get
//! `y` preset to the bias (copied in every iteration) and accumulate into it.
//! Trimmed: d = 4096 with n = 1024 (34 GFLOP per call, ~0.5 s) is not run.
//! `GLOCAL_FORCE_ISA` picks the glocal kernel (default: the best one). `GLOCAL_BENCH_HUGEPAGES=1`
//! runs the blobs from a mapping advised for transparent huge pages (see benches/README.md).
//! `GLOCAL_BENCH_OPENBLAS=/path/to/libopenblas.so` adds OpenBLAS as a peer *in this process*
//! (`openblas_sgemv_f32` / `openblas_sgemm_f32`, one thread), so it runs seconds apart from the
//! kernels it is compared with, under the same conditions; numpy's own build works (the
//! `scipy_cblas_*64_` ILP64 symbols), as does a system `cblas_*` one.
//!
//! Time is the benchmark thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), not wall time: this
//! machine is shared with builds, and wall time would count the time slices other processes
//! get. Everything measured here is single-threaded, so for an unloaded core both agree.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use glocal::pack;
use glocal::{PostOp, Transform, WeightDtype};
use nalgebra::{DMatrix, DVector};
use std::hint::black_box;
use std::time::Duration;

const DIMS: [usize; 5] = [512, 768, 1024, 2048, 4096];
const BATCHES: [usize; 4] = [1, 8, 64, 1024];

mod common;
use common::{rand_vec, square_transform};
mod clock;
use clock::thread_cpu_ns;
mod openblas;
use openblas::Cblas;

/// Criterion measurement: CPU time of the calling thread, in nanoseconds.
struct ThreadCpuTime;

struct NsFormatter;
impl ValueFormatter for NsFormatter {
    fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
        let (div, unit) = if typical >= 1e6 {
            (1e6, "ms")
        } else if typical >= 1e3 {
            (1e3, "us")
        } else {
            (1.0, "ns")
        };
        values.iter_mut().for_each(|v| *v /= div);
        unit
    }
    fn scale_throughputs(&self, _typical: f64, _t: &Throughput, values: &mut [f64]) -> &'static str {
        values.iter_mut().for_each(|v| *v = 0.0);
        "-"
    }
    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

impl Measurement for ThreadCpuTime {
    type Intermediate = u64;
    type Value = u64;
    fn start(&self) -> u64 {
        thread_cpu_ns()
    }
    fn end(&self, i: u64) -> u64 {
        thread_cpu_ns().saturating_sub(i)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &NsFormatter
    }
}

/// A copy of a blob in an anonymous mapping advised for transparent huge pages
/// (`GLOCAL_BENCH_HUGEPAGES=1`): numpy does the same for its large arrays, so with THP in
/// `madvise` mode the OpenBLAS peer reads W through 2 MiB pages and a plain heap blob does not.
struct HugeCopy {
    ptr: *mut libc::c_void,
    map_len: usize,
    len: usize,
}

impl HugeCopy {
    fn new(bytes: &[u8]) -> HugeCopy {
        let map_len = bytes.len().div_ceil(2 << 20) * (2 << 20);
        // SAFETY: a fresh private anonymous mapping; the result is checked before use.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(ptr, libc::MAP_FAILED, "mmap");
        // SAFETY: ptr..ptr + map_len is the mapping made above; advice failure only costs speed,
        // and the copy writes bytes.len() <= map_len bytes into it (mmap is page aligned).
        unsafe {
            libc::madvise(ptr, map_len, libc::MADV_HUGEPAGE);
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), ptr.cast::<u8>(), bytes.len());
        }
        HugeCopy { ptr, map_len, len: bytes.len() }
    }
    fn as_bytes(&self) -> &[u8] {
        // SAFETY: len initialised bytes of a live mapping owned by self.
        unsafe { std::slice::from_raw_parts(self.ptr.cast::<u8>(), self.len) }
    }
}

impl Drop for HugeCopy {
    fn drop(&mut self) {
        // SAFETY: the mapping made in new, unmapped once.
        unsafe { libc::munmap(self.ptr, self.map_len) };
    }
}

fn bench(c: &mut Criterion<ThreadCpuTime>) {
    let huge = std::env::var("GLOCAL_BENCH_HUGEPAGES").is_ok_and(|v| v == "1");
    let openblas = Cblas::load();
    if let Some(blas) = &openblas {
        blas.check();
    }
    for d in DIMS {
        let (source, w32, b32) = square_transform(d);
        let blobs: Vec<_> = WeightDtype::ALL
            .iter()
            .map(|&dt| pack::pack(&source, dt, "bench", "bench").expect("pack"))
            .collect();
        // nalgebra: W^T as a column-major d_out x d_in matrix is W's row-major buffer.
        let wt = DMatrix::from_column_slice(d, d, &w32);
        let mut g = c.benchmark_group(format!("d{d}"));
        for n in BATCHES {
            if d == 4096 && n == 1024 {
                continue;
            }
            let x: Vec<f32> = rand_vec(n * d, 11, 1.0).iter().map(|&v| v as f32).collect();
            let mut y = vec![0f32; n * d];
            for blob in &blobs {
                let copy = huge.then(|| HugeCopy::new(blob.as_bytes()));
                let bytes = copy.as_ref().map_or(blob.as_bytes(), |c| c.as_bytes());
                let t = Transform::new(bytes).expect("blob");
                // Allocated once, outside the timing, as a caller would (packed inputs from 12 rows).
                let mut ws = vec![0f32; t.workspace_len(n)];
                g.bench_function(BenchmarkId::new(t.kernel().name, format!("n{n}")), |b| {
                    b.iter(|| {
                        t.apply_with_workspace(
                            black_box(&x[..]),
                            black_box(&mut y[..]),
                            PostOp::None,
                            &mut ws,
                        )
                        .expect("apply")
                    })
                });
            }
            let xm = DMatrix::from_column_slice(d, n, &x);
            let mut ym = DMatrix::<f32>::zeros(d, n);
            let bv = DVector::from_column_slice(&b32);
            let xv = DVector::from_column_slice(&x[..d]);
            let mut yv = DVector::<f32>::zeros(d);
            let name = if n == 1 { "nalgebra_gemv_f32" } else { "nalgebra_gemm_f32" };
            g.bench_function(BenchmarkId::new(name, format!("n{n}")), |b| {
                b.iter(|| {
                    if n == 1 {
                        yv.copy_from(&bv);
                        yv.gemv(1.0, &wt, black_box(&xv), 1.0);
                    } else {
                        for mut col in ym.column_iter_mut() {
                            col.copy_from(&bv);
                        }
                        ym.gemm(1.0, &wt, black_box(&xm), 1.0);
                    }
                })
            });
            if let Some(blas) = &openblas {
                let name = if n == 1 { "openblas_sgemv_f32" } else { "openblas_sgemm_f32" };
                g.bench_function(BenchmarkId::new(name, format!("n{n}")), |b| {
                    b.iter(|| {
                        for row in y.chunks_exact_mut(d) {
                            row.copy_from_slice(&b32);
                        }
                        blas.gemm_acc(n, d, black_box(&x), &w32, &mut y);
                    })
                });
            }
            g.bench_function(BenchmarkId::new("matrixmultiply_sgemm_f32", format!("n{n}")), |b| {
                b.iter(|| {
                    for row in y.chunks_exact_mut(d) {
                        row.copy_from_slice(&b32);
                    }
                    // SAFETY: x is n x d, W is d x d, y is n x d, all row-major with the
                    // strides given; the buffers outlive the call and do not overlap.
                    unsafe {
                        matrixmultiply::sgemm(
                            n,
                            d,
                            d,
                            1.0,
                            black_box(x.as_ptr()),
                            d as isize,
                            1,
                            w32.as_ptr(),
                            d as isize,
                            1,
                            1.0,
                            y.as_mut_ptr(),
                            d as isize,
                            1,
                        )
                    }
                })
            });
        }
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .with_measurement(ThreadCpuTime)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(1200));
    targets = bench
}
criterion_main!(benches);
