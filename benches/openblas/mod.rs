//! OpenBLAS (or any CBLAS) loaded at run time as a peer: `GLOCAL_BENCH_OPENBLAS=<path>`, numpy's
//! ILP64 `libscipy_openblas64_` or a plain LP64 `libopenblas`, pinned to one thread.

/// `cblas_sgemv` of a build whose dimensions are `T`; the enums are C ints.
type SgemvFn<T> = unsafe extern "C" fn(i32, i32, T, T, f32, *const f32, T, *const f32, T, f32, *mut f32, T);
/// `cblas_sgemm` of a build whose dimensions are `T`.
type SgemmFn<T> =
    unsafe extern "C" fn(i32, i32, i32, T, T, T, f32, *const f32, T, *const f32, T, f32, *mut f32, T);

/// The two CBLAS functions the peer calls, from a build whose dimensions are `T` (`i64` in
/// numpy's ILP64 `scipy_cblas_*64_`, `i32` in a plain LP64 `cblas_*`).
pub struct CblasFns<T> {
    sgemv: SgemvFn<T>,
    sgemm: SgemmFn<T>,
}

/// A CBLAS library loaded at run time: numpy's ILP64 build or a plain LP64 one.
pub enum Cblas {
    Ilp64(CblasFns<i64>),
    Lp64(CblasFns<i32>),
}

const CBLAS_ROW_MAJOR: i32 = 101;
const CBLAS_NO_TRANS: i32 = 111;
const CBLAS_TRANS: i32 = 112;

impl<T: Copy + TryFrom<usize>> CblasFns<T> {
    /// Looks up `<prefix>sgemv<suffix>` and `<prefix>sgemm<suffix>` in `lib`.
    ///
    /// # Safety
    /// `lib` is a live `dlopen` handle, and if the symbols exist they are CBLAS functions with
    /// dimensions of type `T`.
    unsafe fn find(lib: *mut libc::c_void, prefix: &str, suffix: &str) -> Option<Self> {
        let sym = |f: &str| {
            let name = std::ffi::CString::new(format!("{prefix}{f}{suffix}")).expect("symbol name");
            // SAFETY: a live handle (the caller's contract) and a NUL-terminated name.
            let p = unsafe { libc::dlsym(lib, name.as_ptr()) };
            (!p.is_null()).then_some(p)
        };
        let (v, m) = (sym("sgemv")?, sym("sgemm")?);
        // SAFETY: the symbols are the CBLAS functions with `T` dimensions (caller's contract);
        // a function pointer and a data pointer have the same size on the targets we build.
        Some(unsafe {
            CblasFns {
                sgemv: std::mem::transmute::<*mut libc::c_void, SgemvFn<T>>(v),
                sgemm: std::mem::transmute::<*mut libc::c_void, SgemmFn<T>>(m),
            }
        })
    }

    /// `y (n x d) += x (n x d) @ w (d x d)`, all row-major: sgemv for one row, sgemm otherwise.
    fn gemm_acc(&self, n: usize, d: usize, x: &[f32], w: &[f32], y: &mut [f32]) {
        assert!(x.len() == n * d && w.len() == d * d && y.len() == n * d);
        let dim = |v: usize| T::try_from(v).ok().expect("dimension fits the CBLAS integer");
        let (nn, dd, one) = (dim(n), dim(d), dim(1));
        let (wp, xp, yp) = (w.as_ptr(), x.as_ptr(), y.as_mut_ptr());
        // SAFETY: the lengths were just checked against the dimensions passed; row-major
        // strides equal the row lengths; y does not overlap x or w.
        unsafe {
            if n == 1 {
                (self.sgemv)(CBLAS_ROW_MAJOR, CBLAS_TRANS, dd, dd, 1.0, wp, dd, xp, one, 1.0, yp, one)
            } else {
                let nt = CBLAS_NO_TRANS;
                (self.sgemm)(CBLAS_ROW_MAJOR, nt, nt, nn, dd, dd, 1.0, xp, dd, wp, dd, 1.0, yp, dd)
            }
        }
    }
}

impl Cblas {
    /// Loads `GLOCAL_BENCH_OPENBLAS` and pins it to one thread; None (with a notice) otherwise.
    pub fn load() -> Option<Cblas> {
        let path = std::env::var("GLOCAL_BENCH_OPENBLAS").ok()?;
        // OpenBLAS sizes its thread pool when it is loaded: with OPENBLAS_NUM_THREADS unset it
        // starts a worker per CPU, and the `set_num_threads(1)` below does not stop it spinning
        // on the other vCPU (`blas_thread_server`, 10 % of the samples of a paired run). So one
        // thread is asked for before loading; this runs on the benchmarks' main thread before
        // they start any other.
        if std::env::var_os("OPENBLAS_NUM_THREADS").is_none() {
            std::env::set_var("OPENBLAS_NUM_THREADS", "1");
        }
        let c_path = std::ffi::CString::new(path.clone()).ok()?;
        // SAFETY: dlopen with a NUL-terminated path; the handle is never closed (the functions
        // are used until exit).
        let lib = unsafe { libc::dlopen(c_path.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
        if lib.is_null() {
            eprintln!("GLOCAL_BENCH_OPENBLAS={path}: dlopen failed, OpenBLAS peer skipped");
            return None;
        }
        for setter in ["scipy_openblas_set_num_threads64_", "openblas_set_num_threads"] {
            let name = std::ffi::CString::new(setter).expect("symbol name");
            // SAFETY: a live handle and a NUL-terminated name.
            let f = unsafe { libc::dlsym(lib, name.as_ptr()) };
            if !f.is_null() {
                // SAFETY: OpenBLAS's `void (int)` thread-count setter.
                unsafe { std::mem::transmute::<*mut libc::c_void, unsafe extern "C" fn(i32)>(f)(1) };
            }
        }
        // SAFETY: a live handle; numpy's build exports `scipy_cblas_*64_` with 64-bit
        // dimensions, a plain build `cblas_*` with 32-bit ones.
        let found = unsafe {
            CblasFns::find(lib, "scipy_cblas_", "64_")
                .map(Cblas::Ilp64)
                .or_else(|| CblasFns::find(lib, "cblas_", "").map(Cblas::Lp64))
        };
        if found.is_none() {
            eprintln!("GLOCAL_BENCH_OPENBLAS={path}: no cblas_sgemv/sgemm, OpenBLAS peer skipped");
        }
        found
    }

    /// `y (n x d) += x (n x d) @ w (d x d)`, all row-major, on one thread.
    pub fn gemm_acc(&self, n: usize, d: usize, x: &[f32], w: &[f32], y: &mut [f32]) {
        match self {
            Cblas::Ilp64(f) => f.gemm_acc(n, d, x, w, y),
            Cblas::Lp64(f) => f.gemm_acc(n, d, x, w, y),
        }
    }

    /// Panics unless the library computes what the kernels compute, on a small case.
    pub fn check(&self) {
        let (n, d) = (3, 5);
        let x: Vec<f32> = (0..n * d).map(|i| i as f32).collect();
        let w: Vec<f32> = (0..d * d).map(|i| (i % 7) as f32).collect();
        let mut y = vec![1f32; n * d];
        self.gemm_acc(n, d, &x, &w, &mut y);
        let want: Vec<f32> = (0..n * d)
            .map(|i| 1.0 + (0..d).map(|k| x[i / d * d + k] * w[k * d + i % d]).sum::<f32>())
            .collect();
        assert_eq!(y, want, "OpenBLAS peer disagrees with the definition");
        let mut y1 = vec![1f32; d];
        self.gemm_acc(1, d, &x[..d], &w, &mut y1);
        assert_eq!(y1, want[..d], "OpenBLAS sgemv peer disagrees with the definition");
    }
}
