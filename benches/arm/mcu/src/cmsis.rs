//! CMSIS-DSP's matrix-vector products, built by build.rs from the PyPI sdist, measured on the
//! same data as glocal: the folded weights transposed (`d_out x d_in`, as CMSIS reads them),
//! one call per row of the batch, the folded bias added after the window (the peer is measured
//! on the multiply only).
//!
//! f32 is judged against the f64 oracle by run.py; f16 accumulates in f16 and q7 quantizes
//! the inputs, so their errors are reported, and q7 must match its integer oracle exactly
//! (checked here).

use core::hint::black_box;

use cortex_m_semihosting::hprintln;

use crate::data::{self, BATCHES, D, MAX_B};
use crate::{error, glocal_bench_start, glocal_bench_stop, inputs, y_buf, Aligned};

/// `arm_matrix_instance_{f32,f16,q7}`: two `uint16_t` then the data pointer.
#[repr(C)]
struct Matrix<T> {
    rows: u16,
    cols: u16,
    data: *const T,
}

extern "C" {
    fn arm_mat_vec_mult_f32(m: *const Matrix<f32>, v: *const f32, dst: *mut f32);
    #[cfg(glocal_cmsis_f16)]
    fn arm_mat_vec_mult_f16(m: *const Matrix<u16>, v: *const u16, dst: *mut u16);
    fn arm_mat_vec_mult_q7(m: *const Matrix<i8>, v: *const i8, dst: *mut i8);
}

/// Outputs of the 16-bit and 8-bit cases.
static mut Y16: [u16; MAX_B * D] = [0; MAX_B * D];

fn view<T>(bytes: &'static Aligned<[u8]>) -> &'static [T] {
    // SAFETY: only instantiated with f32, u16 and i8 (every bit pattern valid); the storage
    // is 64-byte aligned and lives forever; the length is rounded down to whole elements.
    unsafe {
        core::slice::from_raw_parts(bytes.0.as_ptr().cast::<T>(), bytes.0.len() / core::mem::size_of::<T>())
    }
}

fn add_bias(y: &mut [f32]) {
    let bias: &[f32] = view(&data::CMSIS_BIAS);
    for row in y.chunks_exact_mut(D) {
        for (v, b) in row.iter_mut().zip(bias) {
            *v += b;
        }
    }
}

fn report(name: &str, b: usize, y: &[f32], func: &str) {
    let (_, y_ref) = inputs();
    let (e, m) = error(y, &y_ref[..b * D]);
    hprintln!("case cmsis {} {} {} {:e} {:e} {}", name, b, b * D * D, e, m, func);
}

/// Runs every CMSIS case; false when a result disagrees with its integer oracle.
pub fn run() -> bool {
    let (x, _) = inputs();
    let dim = D as u16;
    let mf32 = Matrix { rows: dim, cols: dim, data: view::<f32>(&data::CMSIS_W_F32).as_ptr() };
    for &b in BATCHES {
        let y = &mut y_buf()[..b * D];
        y.fill(f32::NAN);
        glocal_bench_start(3);
        for r in 0..b {
            // SAFETY: the matrix is D x D f32, x and y rows hold D values each.
            unsafe { arm_mat_vec_mult_f32(&mf32, black_box(x[r * D..].as_ptr()), y[r * D..].as_mut_ptr()) };
        }
        glocal_bench_stop(3);
        add_bias(y);
        report("f32", b, y, "arm_mat_vec_mult_f32");
    }

    #[cfg(glocal_cmsis_f16)]
    {
        let m = Matrix { rows: dim, cols: dim, data: view::<u16>(&data::CMSIS_W_F16).as_ptr() };
        let x16: &[u16] = view(&data::CMSIS_X_F16);
        for &b in BATCHES {
            // SAFETY: single-threaded; the only reference to Y16 while it lives.
            let y16 = unsafe { &mut *core::ptr::addr_of_mut!(Y16) };
            let y16 = &mut y16[..b * D];
            glocal_bench_start(4);
            for r in 0..b {
                // SAFETY: the matrix is D x D f16, x and y rows hold D values each.
                unsafe {
                    arm_mat_vec_mult_f16(&m, black_box(x16[r * D..].as_ptr()), y16[r * D..].as_mut_ptr())
                };
            }
            glocal_bench_stop(4);
            let y = &mut y_buf()[..b * D];
            for (v, &h) in y.iter_mut().zip(y16.iter()) {
                *v = glocal::f16::from_bits(h).to_f32();
            }
            add_bias(y);
            report("f16", b, y, "arm_mat_vec_mult_f16");
        }
    }

    let m = Matrix { rows: dim, cols: dim, data: view::<i8>(&data::CMSIS_W_Q7).as_ptr() };
    let (xq, yq_ref): (&[i8], &[i8]) = (view(&data::CMSIS_X_Q7), view(&data::CMSIS_Y_Q7));
    let mut ok = true;
    for &b in BATCHES {
        // SAFETY: single-threaded; the only reference to Y16 while it lives (as bytes).
        let yq = unsafe { &mut *core::ptr::addr_of_mut!(Y16).cast::<[i8; 2 * MAX_B * D]>() };
        let yq = &mut yq[..b * D];
        glocal_bench_start(5);
        for r in 0..b {
            // SAFETY: the matrix is D x D q7, x and y rows hold D values each.
            unsafe { arm_mat_vec_mult_q7(&m, black_box(xq[r * D..].as_ptr()), yq[r * D..].as_mut_ptr()) };
        }
        glocal_bench_stop(5);
        if let Some(i) = (0..b * D).find(|&i| yq[i] != yq_ref[i]) {
            hprintln!(
                "FAIL cmsis q7 batch {}: y[{}] = {} but the integer oracle says {}",
                b,
                i,
                yq[i],
                yq_ref[i]
            );
            ok = false;
        }
        let y = &mut y_buf()[..b * D];
        for (v, &q) in y.iter_mut().zip(yq.iter()) {
            *v = q as f32 / data::Q7_Y_SCALE;
        }
        add_bias(y);
        report("q7", b, y, "arm_mat_vec_mult_q7");
    }
    ok
}
