//! `glocal_transform`: caller-owned storage holding a validated core `Transform`, and the
//! functions that initialise, query and apply it.
//!
//! ## How a Rust `Transform` lives in C storage
//! The C type is a complete struct of `GLOCAL_TRANSFORM_SIZE` bytes with the alignment of
//! `uint64_t`, so C can put it on the stack or in a static with no heap. Inside it this
//! library places a [`Slot`] (`#[repr(C)]`: a magic number first, then the kernel name, then
//! the core's `Transform<'static>`, whose own layout is Rust's and is only ever read by the
//! same compiled library that wrote it). Compile-time asserts check that `Slot` fits in the
//! storage and needs no stricter alignment than it has. The `'static` is a promise the C caller
//! makes: the blob outlives the transform (documented on `glocal_transform_init`).
//!
//! The magic is written last by a successful init and cleared by a failed one; every other
//! function reads only the magic through a raw pointer before it forms a reference to the
//! `Slot`, so a zero-filled, failed or never-initialised transform yields
//! `GLOCAL_STATUS_NOT_INITIALIZED`, not undefined behaviour from reading a bogus `Transform`.
//! A `Transform` holds only plain data and shared references (no self-references, no `Drop`),
//! so a `glocal_transform` may be copied byte for byte (struct assignment, `memcpy`).

use core::ffi::c_char;
use core::mem::{align_of, size_of};
use core::ptr::addr_of;

use glocal_core::{
    bf16, f16, kernel::KERNELS, Element, Error, PostOp, QuantizedRows, Transform, WeightDtype,
};

use crate::boundary::guard;
use crate::glocal_status::{self, *};

/// Size in bytes of `glocal_transform` on every target. Part of the ABI: never changes within
/// a major version.
pub const GLOCAL_TRANSFORM_SIZE: usize = 512;

/// Storage for one validated transform, owned by the caller (stack, static, or inside another
/// struct): no heap is involved.
///
/// Size `GLOCAL_TRANSFORM_SIZE` (512) bytes on every target; alignment that of `uint64_t`.
/// The contents are private. Initialise it with `glocal_transform_init`; until then (and after
/// a failed init) every function reports `GLOCAL_STATUS_NOT_INITIALIZED`. Zero-initialise it
/// (`glocal_transform t = {0};`) so that this detection is certain rather than
/// overwhelmingly likely. It holds no resources: there is nothing to free. It may be copied
/// by assignment or `memcpy`; every copy stays valid as long as the blob does.
#[repr(C)]
pub struct glocal_transform {
    /// Private: read and written only by the library. Some bytes (padding) are never written;
    /// copying the whole struct (assignment, `memcpy`) is always fine.
    pub _opaque: core::mem::MaybeUninit<[u64; 64]>,
}

impl glocal_transform {
    /// All-zero storage: not initialised.
    #[cfg(feature = "std")]
    pub(crate) const ZEROED: glocal_transform =
        glocal_transform { _opaque: core::mem::MaybeUninit::zeroed() };
}

/// `b"glocalT1"` read little-endian: marks an initialised slot (and reads as text in a dump).
const MAGIC: u64 = u64::from_le_bytes(*b"glocalT1");
/// Bytes for the kernel name and its NUL.
const KERNEL_NAME_LEN: usize = 48;

/// What the library keeps inside a `glocal_transform`.
#[repr(C)]
struct Slot {
    /// [`MAGIC`] when initialised, anything else otherwise. First, so it can be read alone.
    magic: u64,
    /// The kernel's name, NUL-terminated, so `glocal_transform_kernel` can hand out a C string.
    kernel_name: [u8; KERNEL_NAME_LEN],
    /// The validated transform; the blob it borrows is kept alive by the caller.
    transform: Transform<'static>,
}

const _: () = assert!(size_of::<Slot>() <= size_of::<glocal_transform>(), "Slot outgrew glocal_transform");
const _: () = assert!(align_of::<Slot>() <= align_of::<glocal_transform>(), "Slot needs more alignment");
const _: () = assert!(size_of::<glocal_transform>() == GLOCAL_TRANSFORM_SIZE);
// Every kernel name of the core fits with its NUL.
const _: () = {
    let mut i = 0;
    while i < KERNELS.len() {
        assert!(KERNELS[i].name.len() < KERNEL_NAME_LEN, "a kernel name is too long for the slot");
        i += 1;
    }
};

/// The initialised slot behind `t`, or the status saying why there is none.
///
/// # Safety
/// `t` is NULL or points to `GLOCAL_TRANSFORM_SIZE` readable bytes (a `glocal_transform` the
/// caller owns) that nobody writes while the returned reference lives.
unsafe fn slot<'t>(t: *const glocal_transform) -> Result<&'t Slot, glocal_status> {
    if t.is_null() {
        return Err(GLOCAL_STATUS_NULL_POINTER);
    }
    if !(t as usize).is_multiple_of(align_of::<glocal_transform>()) {
        return Err(GLOCAL_STATUS_MISALIGNED_POINTER);
    }
    let s = t.cast::<Slot>();
    // SAFETY: `s` is non-NULL, aligned (Slot needs no more than glocal_transform, asserted
    // above) and points into the caller's glocal_transform storage, which covers the Slot
    // (asserted above); `magic` is a plain u64 at offset 0, valid for any bit pattern, read
    // without forming a reference to the possibly uninitialised rest.
    let magic = unsafe { addr_of!((*s).magic).read() };
    if magic != MAGIC {
        return Err(GLOCAL_STATUS_NOT_INITIALIZED);
    }
    // SAFETY: the magic is only ever written by `glocal_transform_init` after it wrote a
    // complete, valid Slot (kernel name and Transform) into this storage, or copied from such
    // storage by the caller; the caller promises no concurrent writes.
    Ok(unsafe { &*s })
}

/// Validates `blob` and initialises `t` to apply it. Copies no weights: `t` borrows the blob.
///
/// The blob must stay valid and unchanged for as long as `t` (or any copy of it) is used: a
/// `static const` array, a mapped file, or a buffer the caller keeps. It must start on a
/// 4-byte boundary (64 is best); a misaligned blob is rejected with
/// `GLOCAL_STATUS_BLOB_MISALIGNED`. Every header field, the length and the CRC-32C are checked
/// here, once; the kernel is chosen here too (on hosted builds the `GLOCAL_FORCE_ISA`
/// environment variable can force one).
///
/// Returns `GLOCAL_STATUS_OK`, `GLOCAL_STATUS_NULL_POINTER` (`t` or `blob` NULL),
/// `GLOCAL_STATUS_MISALIGNED_POINTER` (`t` misaligned), a `GLOCAL_STATUS_BLOB_*` code, or
/// `GLOCAL_STATUS_KERNEL_UNAVAILABLE`. On any error `t` (if not NULL and aligned) is marked
/// not initialised. Do not call it on a `t` other threads are applying.
///
/// # Safety
/// `t` is NULL or points to writable `glocal_transform` storage; `blob` is NULL or points to
/// `blob_len` readable bytes that outlive every use of `t`.
#[no_mangle]
pub unsafe extern "C" fn glocal_transform_init(
    t: *mut glocal_transform,
    blob: *const u8,
    blob_len: usize,
) -> glocal_status {
    guard(GLOCAL_STATUS_INTERNAL_PANIC, || {
        if t.is_null() {
            return GLOCAL_STATUS_NULL_POINTER;
        }
        if !(t as usize).is_multiple_of(align_of::<glocal_transform>()) {
            return GLOCAL_STATUS_MISALIGNED_POINTER;
        }
        let s = t.cast::<Slot>();
        // SAFETY: `t` is non-NULL, aligned and points to writable glocal_transform storage
        // (caller's promise), which covers the Slot (asserted at compile time). Clearing the
        // magic first means a failed init never leaves an old, valid-looking transform behind.
        unsafe { core::ptr::addr_of_mut!((*s).magic).write(0) };
        if blob.is_null() {
            return GLOCAL_STATUS_NULL_POINTER;
        }
        if blob_len > isize::MAX as usize {
            return GLOCAL_STATUS_BLOB_LENGTH_MISMATCH;
        }
        // SAFETY: `blob` is non-NULL and points to `blob_len` readable bytes that outlive
        // every use of `t` (caller's promise; this is what makes `'static` honest), and
        // `blob_len <= isize::MAX` (checked). u8 has alignment 1.
        let bytes: &'static [u8] = unsafe { core::slice::from_raw_parts(blob, blob_len) };
        match Transform::new(bytes) {
            Ok(transform) => {
                let mut kernel_name = [0u8; KERNEL_NAME_LEN];
                let name = transform.kernel().name.as_bytes();
                let n = name.len().min(KERNEL_NAME_LEN - 1);
                kernel_name[..n].copy_from_slice(&name[..n]);
                // SAFETY: as above, `s` is valid, aligned, writable Slot storage; `write`
                // does not read or drop the old contents.
                unsafe { s.write(Slot { magic: MAGIC, kernel_name, transform }) };
                GLOCAL_STATUS_OK
            }
            Err(e) => e.into(),
        }
    })
}

/// Elements per input row, or 0 if `t` is NULL or not initialised.
///
/// # Safety
/// `t` is NULL or points to `glocal_transform` storage not being initialised concurrently.
#[no_mangle]
pub unsafe extern "C" fn glocal_transform_dim_in(t: *const glocal_transform) -> usize {
    // SAFETY: forwarded caller promise.
    guard(0, || unsafe { slot(t) }.map_or(0, |s| s.transform.d_in()))
}

/// Elements per output row, or 0 if `t` is NULL or not initialised.
///
/// # Safety
/// As `glocal_transform_dim_in`.
#[no_mangle]
pub unsafe extern "C" fn glocal_transform_dim_out(t: *const glocal_transform) -> usize {
    // SAFETY: forwarded caller promise.
    guard(0, || unsafe { slot(t) }.map_or(0, |s| s.transform.d_out()))
}

/// The error the packer measured for the blob and recorded in its header: `max |y - y_ref| /
/// max |y_ref|` over its probe rows, `y` from the blob and `y_ref` the float64 formula on the
/// source transform (`glocal pack` records it; see docs/FORMAT.md). Always `>= 0` when
/// recorded. Returns `-1.0f` when the blob has no recorded error (packed without a
/// measurement) or `t` is NULL or not initialised.
///
/// # Safety
/// As `glocal_transform_dim_in`.
#[no_mangle]
pub unsafe extern "C" fn glocal_transform_measured_error(t: *const glocal_transform) -> f32 {
    guard(-1.0, || {
        // SAFETY: forwarded caller promise.
        let s = unsafe { slot(t) };
        s.ok().and_then(|s| s.transform.header().measured_error()).unwrap_or(-1.0)
    })
}

/// How a blob stores its weights. The values are the blob format's dtype codes.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum glocal_dtype {
    /// Not a dtype: what the queries return for a NULL or uninitialised transform.
    GLOCAL_DTYPE_NONE = 0,
    /// IEEE-754 binary32.
    GLOCAL_DTYPE_F32 = 1,
    /// IEEE-754 binary16.
    GLOCAL_DTYPE_F16 = 2,
    /// bfloat16 (the top 16 bits of a binary32).
    GLOCAL_DTYPE_BF16 = 3,
    /// `i8d`: the diagonal exact in f32, every off-diagonal weight as int8 times a per-input-row
    /// f32 scale (about half the bytes of f16, bfloat16-level error on gLocal's matrices).
    GLOCAL_DTYPE_I8D = 4,
    /// `q8`: int8 weights for integer dot products (per-input-row scales, exact diagonal,
    /// inputs quantized per row to 12 bits, exact int32 sums: the same bits on every CPU, and
    /// integer speed on cores without an FPU). About half the bytes of f16.
    GLOCAL_DTYPE_Q8 = 5,
}

/// The dtype the blob's weights are stored in, or `GLOCAL_DTYPE_NONE` if `t` is NULL or not
/// initialised. Inputs and outputs can be f32, f16 or bf16 whatever it is.
///
/// # Safety
/// As `glocal_transform_dim_in`.
#[no_mangle]
pub unsafe extern "C" fn glocal_transform_dtype(t: *const glocal_transform) -> glocal_dtype {
    // SAFETY: forwarded caller promise.
    guard(glocal_dtype::GLOCAL_DTYPE_NONE, || match unsafe { slot(t) }.map(|s| s.transform.dtype()) {
        Ok(WeightDtype::F32) => glocal_dtype::GLOCAL_DTYPE_F32,
        Ok(WeightDtype::F16) => glocal_dtype::GLOCAL_DTYPE_F16,
        Ok(WeightDtype::Bf16) => glocal_dtype::GLOCAL_DTYPE_BF16,
        Ok(WeightDtype::I8d) => glocal_dtype::GLOCAL_DTYPE_I8D,
        Ok(WeightDtype::Q8) => glocal_dtype::GLOCAL_DTYPE_Q8,
        // A dtype added to the core later, until it gets its own code here.
        _ => glocal_dtype::GLOCAL_DTYPE_NONE,
    })
}

/// The name of the kernel `t` runs, e.g. `"f16_f32acc_4x16__scalar"`
/// (`<weight dtype>_<f32acc or i32acc>_<rows>x<cols>__<instruction set>`), or NULL if `t` is NULL or not
/// initialised. The string lives inside `t`: valid while `t` is, unchanged by copies.
///
/// # Safety
/// As `glocal_transform_dim_in`.
#[no_mangle]
pub unsafe extern "C" fn glocal_transform_kernel(t: *const glocal_transform) -> *const c_char {
    guard(core::ptr::null(), || {
        // SAFETY: forwarded caller promise.
        match unsafe { slot(t) } {
            Ok(s) => s.kernel_name.as_ptr().cast(),
            Err(_) => core::ptr::null(),
        }
    })
}

/// Flag for `glocal_apply_f32_ex`, `glocal_apply_f16_ex` and `glocal_apply_bf16_ex`: scale
/// each output row to unit L2 norm (cosine-ready embeddings; cosine similarity is then a dot
/// product), fused into the call.
///
/// A row whose output is the zero vector stays zero (it has no direction; never NaN); a row
/// with a NaN or infinite output becomes all NaN. The norm is accumulated in f32 and each
/// element is divided by it (not multiplied by a reciprocal); rows whose squared norm leaves
/// the normal f32 range are rescaled by their largest magnitude first, so nothing overflows or
/// underflows. With 16-bit outputs the norm is taken from the rounded outputs and each quotient
/// is rounded once more, to nearest even.
pub const GLOCAL_APPLY_L2_NORMALIZE: u32 = 1;

/// Every `GLOCAL_APPLY_*` bit this version defines; any other bit is
/// `GLOCAL_STATUS_UNKNOWN_FLAGS`.
const KNOWN_APPLY_FLAGS: u32 = GLOCAL_APPLY_L2_NORMALIZE;

/// The post-op `flags` ask for, or `GLOCAL_STATUS_UNKNOWN_FLAGS`. An unknown bit is refused,
/// never ignored: a caller built against a newer header must not silently get a different
/// result from an older library.
#[inline(always)]
fn post_op(flags: u32) -> Result<PostOp, glocal_status> {
    if flags & !KNOWN_APPLY_FLAGS != 0 {
        return Err(GLOCAL_STATUS_UNKNOWN_FLAGS);
    }
    Ok(if flags & GLOCAL_APPLY_L2_NORMALIZE != 0 { PostOp::L2Normalize } else { PostOp::None })
}

/// The call of the float functions: with a workspace, `apply_with_workspace`; else `apply`
/// when there is no post-op (so the plain functions hold no post-op path), `apply_with`.
#[inline(always)]
fn float_call<I: Element, O: Element, const WS: bool>(
    t: &Transform<'static>,
    x: &[I],
    y: &mut [O],
    post: PostOp,
    ws: &mut [f32],
) -> Result<usize, Error> {
    if WS && !ws.is_empty() {
        t.apply_with_workspace(x, y, post, ws)
    } else if post == PostOp::None {
        t.apply(x, y)
    } else {
        t.apply_with(x, y, post)
    }
}

/// The shared body of the `glocal_apply_*` functions. `I`/`O` are the Rust element types with
/// the same size and bit layout as the C element types (`float`, `uint16_t`, `int8_t`,
/// `uint8_t`), every bit pattern valid; `call` runs the transform ([`float_call`], or the
/// quantized apply). `flags` is checked first (`EX`: the `_ex` and `_ws` functions; the plain
/// ones pass `false` and 0, so their instance holds no post-op path). `WS`: the `_ws`
/// functions, with a workspace of `ws_len` floats at `ws` (the others pass `false`, NULL and
/// 0: no workspace path).
///
/// # Safety
/// As `glocal_apply_f32`, with `x`/`y` pointing to `I`/`O` elements; with `WS`, `ws` is NULL or
/// points to `ws_len` writable floats.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn apply<I: Copy, O: Copy, const EX: bool, const WS: bool, F>(
    t: *const glocal_transform,
    x: *const I,
    x_len: usize,
    y: *mut O,
    y_len: usize,
    flags: u32,
    ws: *mut f32,
    ws_len: usize,
    call: F,
) -> glocal_status
where
    // What runs once the arguments are checked: the transform on `x` into `y` with the post-op
    // and the workspace (empty when there is none).
    F: FnOnce(&Transform<'static>, &[I], &mut [O], PostOp, &mut [f32]) -> Result<usize, Error>,
{
    guard(GLOCAL_STATUS_INTERNAL_PANIC, || {
        // `EX` (the `_ex` functions) is a type-level constant so that the plain functions get
        // their own instance without any post-op path (bare-metal flash), even out of line.
        let post = match if EX { post_op(flags) } else { Ok(PostOp::None) } {
            Ok(post) => post,
            Err(e) => return e,
        };
        // SAFETY: forwarded caller promise about `t`.
        let s = match unsafe { slot(t) } {
            Ok(s) => s,
            Err(e) => return e,
        };
        if x.is_null() || y.is_null() {
            return GLOCAL_STATUS_NULL_POINTER;
        }
        if !(x as usize).is_multiple_of(align_of::<I>()) || !(y as usize).is_multiple_of(align_of::<O>()) {
            return GLOCAL_STATUS_MISALIGNED_POINTER;
        }
        let (d_in, d_out) = (s.transform.d_in(), s.transform.d_out());
        // A slice of x_len elements must fit isize. d_in >= 1 is guaranteed by validation, but
        // checked_div/checked_rem keep even a division-by-zero panic path out of the binary.
        if x_len == 0 || x_len.checked_rem(d_in) != Some(0) || x_len > isize::MAX as usize / size_of::<I>() {
            return GLOCAL_STATUS_INPUT_LENGTH;
        }
        let Some(rows) = x_len.checked_div(d_in) else {
            return GLOCAL_STATUS_INPUT_LENGTH;
        };
        let needed = match rows.checked_mul(d_out) {
            Some(n) if n <= y_len && n <= isize::MAX as usize / size_of::<O>() => n,
            _ => return GLOCAL_STATUS_OUTPUT_LENGTH,
        };
        // Byte ranges [x, x_end) and [y, y_end) must be disjoint: the output is written panel
        // by panel while later panels still read the input, and Rust forbids &x aliasing &mut y.
        let (x0, y0) = (x as usize, y as usize);
        let (x1, y1) = (x0.wrapping_add(x_len * size_of::<I>()), y0.wrapping_add(needed * size_of::<O>()));
        if x1 < x0 || y1 < y0 {
            // A range that wraps the address space cannot be a real buffer.
            return GLOCAL_STATUS_INPUT_LENGTH;
        }
        if x0 < y1 && y0 < x1 {
            return GLOCAL_STATUS_BUFFERS_OVERLAP;
        }
        // The part of the workspace the kernel uses (glocal_workspace_len; a shorter one runs
        // unpacked), checked like x and y: NULL only when empty, aligned, disjoint from both.
        let ws_used = if WS { ws_len.min(s.transform.workspace_len(rows)) } else { 0 };
        if ws_used > 0 {
            if ws.is_null() {
                return GLOCAL_STATUS_NULL_POINTER;
            }
            if !(ws as usize).is_multiple_of(align_of::<f32>()) {
                return GLOCAL_STATUS_MISALIGNED_POINTER;
            }
            let w0 = ws as usize;
            let w1 = w0.wrapping_add(ws_used * size_of::<f32>());
            if w1 < w0 {
                return GLOCAL_STATUS_INPUT_LENGTH;
            }
            if (w0 < x1 && x0 < w1) || (w0 < y1 && y0 < w1) {
                return GLOCAL_STATUS_BUFFERS_OVERLAP;
            }
        }
        // SAFETY: `x` is non-NULL, aligned for I, and points to `x_len` readable elements
        // (caller's promise) whose byte size fits isize (checked); I is f32/f16/bf16/i8/u8,
        // valid for every bit pattern.
        let xs = unsafe { core::slice::from_raw_parts(x, x_len) };
        // SAFETY: `y` is non-NULL, aligned for O, points to `y_len >= needed` writable
        // elements (caller's promise), `needed` elements fit isize (checked), and the range is
        // disjoint from `x` (checked), so this is the only live reference to it.
        let ys = unsafe { core::slice::from_raw_parts_mut(y, needed) };
        // The plain functions pass flags 0: `post` is then constant and their code holds no
        // post-op path (`Transform::apply` does not share an instance with `apply_with`).
        let wss: &mut [f32] = if WS && ws_used > 0 {
            // SAFETY: `ws` is non-NULL, aligned, and points to `ws_len >= ws_used` writable
            // floats (caller's promise); `ws_used` floats fit isize (a part of that buffer, and
            // the range does not wrap: checked), disjoint from x and y (checked).
            unsafe { core::slice::from_raw_parts_mut(ws, ws_used) }
        } else {
            &mut []
        };
        match call(&s.transform, xs, ys, post, wss) {
            Ok(_) => GLOCAL_STATUS_OK,
            Err(e) => e.into(),
        }
    })
}

/// Applies `t` to `rows` input rows of `float`: `y = ((x - mean) / std) @ W + b`.
///
/// `x` holds `x_len = rows * dim_in` floats, row-major, `rows >= 1`; `y` has room for
/// `y_len >= rows * dim_out` floats, of which the first `rows * dim_out` are written. `x` and
/// `y` must not overlap. Accumulation is f32; a NaN in a row of `x` makes that whole row of `y`
/// NaN. Never allocates; safe to call from many threads at once on one `t`.
///
/// Returns `GLOCAL_STATUS_OK`, or `GLOCAL_STATUS_NULL_POINTER`, `GLOCAL_STATUS_NOT_INITIALIZED`,
/// `GLOCAL_STATUS_MISALIGNED_POINTER`, `GLOCAL_STATUS_INPUT_LENGTH`,
/// `GLOCAL_STATUS_OUTPUT_LENGTH`, `GLOCAL_STATUS_BUFFERS_OVERLAP`; on any error `y` is not
/// written at all.
///
/// # Safety
/// `t` is NULL or points to `glocal_transform` storage not being initialised concurrently,
/// whose blob is still alive; `x` is NULL or points to `x_len` readable elements; `y` is NULL
/// or points to `y_len` writable elements.
#[no_mangle]
pub unsafe extern "C" fn glocal_apply_f32(
    t: *const glocal_transform,
    x: *const f32,
    x_len: usize,
    y: *mut f32,
    y_len: usize,
) -> glocal_status {
    // SAFETY: forwarded caller promise.
    unsafe {
        apply::<f32, f32, false, false, _>(
            t,
            x,
            x_len,
            y,
            y_len,
            0,
            core::ptr::null_mut(),
            0,
            float_call::<f32, f32, false>,
        )
    }
}

/// As `glocal_apply_f32`, with inputs and outputs as IEEE-754 binary16 bit patterns
/// (`uint16_t`; `_Float16` / `__fp16` have the same layout). Inputs are widened exactly;
/// outputs are rounded once from the f32 accumulator, to nearest even (overflow gives
/// infinity).
///
/// # Safety
/// As `glocal_apply_f32`.
#[no_mangle]
pub unsafe extern "C" fn glocal_apply_f16(
    t: *const glocal_transform,
    x: *const u16,
    x_len: usize,
    y: *mut u16,
    y_len: usize,
) -> glocal_status {
    // SAFETY: half's f16 is #[repr(transparent)] over u16, so the pointers address the same
    // elements with the same size and alignment; forwarded caller promise.
    unsafe {
        apply::<f16, f16, false, false, _>(
            t,
            x.cast(),
            x_len,
            y.cast(),
            y_len,
            0,
            core::ptr::null_mut(),
            0,
            float_call::<f16, f16, false>,
        )
    }
}

/// As `glocal_apply_f32`, with inputs and outputs as bfloat16 bit patterns (`uint16_t`: the
/// top 16 bits of a binary32). Outputs are rounded once, to nearest even.
///
/// # Safety
/// As `glocal_apply_f32`.
#[no_mangle]
pub unsafe extern "C" fn glocal_apply_bf16(
    t: *const glocal_transform,
    x: *const u16,
    x_len: usize,
    y: *mut u16,
    y_len: usize,
) -> glocal_status {
    // SAFETY: half's bf16 is #[repr(transparent)] over u16; forwarded caller promise.
    unsafe {
        apply::<bf16, bf16, false, false, _>(
            t,
            x.cast(),
            x_len,
            y.cast(),
            y_len,
            0,
            core::ptr::null_mut(),
            0,
            float_call::<bf16, bf16, false>,
        )
    }
}

/// Applies `t` to `rows` quantized input rows of `int8_t` (TFLite Micro, Ethos-U, NPUs):
/// element `q` stands for `x_scale * (q - x_zero_point)`, and `y` gets floats as from
/// `glocal_apply_f32` on those values.
///
/// Each input is dequantized as the kernel reads it, `(float)(q - x_zero_point) * x_scale`
/// (one rounding; the same on every kernel), with no copy of the rows and no extra stack per
/// row: `y` is bit for bit what `glocal_apply_f32` gives on the dequantized floats, with the
/// same kernel. `x_scale` must be finite and positive; `x_zero_point` in `-128..=127`.
/// Lengths, overlap and threads as `glocal_apply_f32` (`x_len = rows * dim_in` elements).
///
/// Returns `GLOCAL_STATUS_OK`, the statuses of `glocal_apply_f32`, or
/// `GLOCAL_STATUS_BAD_INPUT_SCALE` (`x_scale` NaN, infinite, zero or negative) or
/// `GLOCAL_STATUS_BAD_INPUT_ZERO_POINT`; on any error `y` is not written at all.
///
/// # Safety
/// As `glocal_apply_f32`, with `x` NULL or pointing to `x_len` readable `int8_t`.
#[no_mangle]
pub unsafe extern "C" fn glocal_apply_s8(
    t: *const glocal_transform,
    x: *const i8,
    x_len: usize,
    x_scale: f32,
    x_zero_point: i32,
    y: *mut f32,
    y_len: usize,
) -> glocal_status {
    let call = |t: &Transform<'static>, xs: &[i8], ys: &mut [f32], _: PostOp, _: &mut [f32]| {
        t.apply_quantized(QuantizedRows::i8(xs, x_scale, x_zero_point), ys)
    };
    // SAFETY: forwarded caller promise (i8 is C's int8_t: every bit pattern valid).
    unsafe { apply::<i8, f32, false, false, _>(t, x, x_len, y, y_len, 0, core::ptr::null_mut(), 0, call) }
}

/// As `glocal_apply_s8`, with `uint8_t` inputs and `x_zero_point` in `0..=255`.
///
/// # Safety
/// As `glocal_apply_f32`, with `x` NULL or pointing to `x_len` readable `uint8_t`.
#[no_mangle]
pub unsafe extern "C" fn glocal_apply_u8(
    t: *const glocal_transform,
    x: *const u8,
    x_len: usize,
    x_scale: f32,
    x_zero_point: i32,
    y: *mut f32,
    y_len: usize,
) -> glocal_status {
    let call = |t: &Transform<'static>, xs: &[u8], ys: &mut [f32], _: PostOp, _: &mut [f32]| {
        t.apply_quantized(QuantizedRows::u8(xs, x_scale, x_zero_point), ys)
    };
    // SAFETY: forwarded caller promise (u8 is C's uint8_t: every bit pattern valid).
    unsafe { apply::<u8, f32, false, false, _>(t, x, x_len, y, y_len, 0, core::ptr::null_mut(), 0, call) }
}

/// `glocal_apply_f32` with options: `flags` is 0 or a bitwise OR of `GLOCAL_APPLY_*` flags,
/// applied to each output row before the call returns (one pass, no extra buffer). With
/// `flags == 0` it is exactly `glocal_apply_f32`.
///
/// `GLOCAL_APPLY_L2_NORMALIZE`: each of the `rows` output rows of `dim_out` floats is scaled to
/// unit L2 norm; a zero row stays zero, a row with a NaN or infinite value becomes all NaN.
///
/// Returns what `glocal_apply_f32` returns, and `GLOCAL_STATUS_UNKNOWN_FLAGS` when `flags` holds
/// a bit this library does not define (checked before anything else). On any error `y` is not
/// written at all. Never allocates; safe to call from many threads at once on one `t`.
///
/// # Safety
/// As `glocal_apply_f32`.
#[no_mangle]
pub unsafe extern "C" fn glocal_apply_f32_ex(
    t: *const glocal_transform,
    x: *const f32,
    x_len: usize,
    y: *mut f32,
    y_len: usize,
    flags: u32,
) -> glocal_status {
    // SAFETY: forwarded caller promise.
    unsafe {
        apply::<f32, f32, true, false, _>(
            t,
            x,
            x_len,
            y,
            y_len,
            flags,
            core::ptr::null_mut(),
            0,
            float_call::<f32, f32, false>,
        )
    }
}

/// `glocal_apply_f16` with options, as `glocal_apply_f32_ex`. With
/// `GLOCAL_APPLY_L2_NORMALIZE` the norm is taken from the rounded binary16 outputs and each
/// quotient is rounded once more, to nearest even.
///
/// # Safety
/// As `glocal_apply_f32`.
#[no_mangle]
pub unsafe extern "C" fn glocal_apply_f16_ex(
    t: *const glocal_transform,
    x: *const u16,
    x_len: usize,
    y: *mut u16,
    y_len: usize,
    flags: u32,
) -> glocal_status {
    // SAFETY: as glocal_apply_f16; forwarded caller promise.
    unsafe {
        apply::<f16, f16, true, false, _>(
            t,
            x.cast(),
            x_len,
            y.cast(),
            y_len,
            flags,
            core::ptr::null_mut(),
            0,
            float_call::<f16, f16, false>,
        )
    }
}

/// `glocal_apply_bf16` with options, as `glocal_apply_f32_ex`. With
/// `GLOCAL_APPLY_L2_NORMALIZE` the norm is taken from the rounded bfloat16 outputs and each
/// quotient is rounded once more, to nearest even.
///
/// # Safety
/// As `glocal_apply_f32`.
#[no_mangle]
pub unsafe extern "C" fn glocal_apply_bf16_ex(
    t: *const glocal_transform,
    x: *const u16,
    x_len: usize,
    y: *mut u16,
    y_len: usize,
    flags: u32,
) -> glocal_status {
    // SAFETY: as glocal_apply_bf16; forwarded caller promise.
    unsafe {
        apply::<bf16, bf16, true, false, _>(
            t,
            x.cast(),
            x_len,
            y.cast(),
            y_len,
            flags,
            core::ptr::null_mut(),
            0,
            float_call::<bf16, bf16, false>,
        )
    }
}

/// Floats of workspace `glocal_apply_f32_ws` (and the f16/bf16 forms) use for a batch of
/// `rows` rows: one chunk of inputs with the x86_64 kernels (AVX2, AVX-512) for batches large
/// enough to gain from packing, never more than `rows * dim_in`; 0 for smaller batches, for the
/// other kernels, and for a NULL or uninitialised `t`. One workspace of
/// `glocal_workspace_len(t, max_rows)` floats serves every batch of up to `max_rows` rows.
///
/// # Safety
/// `t` is NULL or points to `glocal_transform` storage not being initialised concurrently.
#[no_mangle]
pub unsafe extern "C" fn glocal_workspace_len(t: *const glocal_transform, rows: usize) -> usize {
    guard(0, || {
        // SAFETY: forwarded caller promise about `t`.
        match unsafe { slot(t) } {
            Ok(s) => s.transform.workspace_len(rows),
            Err(_) => 0,
        }
    })
}

/// `glocal_apply_f32_ex` with a caller-owned workspace for large batches: with at least
/// `glocal_workspace_len(t, rows)` floats, the x86_64 kernels pack the inputs of each chunk of
/// rows there once, and their register tiles read them as one sequential stream (a few percent
/// faster on large batches). The results are bit-for-bit those of `glocal_apply_f32_ex`. A shorter
/// workspace, or `workspace == NULL` with `workspace_len == 0`, runs unpacked.
///
/// Only the first `min(workspace_len, glocal_workspace_len(t, rows))` floats are used; that
/// range must not overlap `x` or `y` (`GLOCAL_STATUS_BUFFERS_OVERLAP`), and is NULL
/// (`GLOCAL_STATUS_NULL_POINTER`) or misaligned (`GLOCAL_STATUS_MISALIGNED_POINTER`) only when
/// empty. Its contents on return are unspecified. Returns what `glocal_apply_f32_ex` returns;
/// on any error neither `y` nor the workspace is written. Never allocates. Calls on one `t`
/// may run in many threads at once, each with its own workspace.
///
/// # Safety
/// As `glocal_apply_f32`; `workspace` is NULL or points to `workspace_len` writable floats.
#[no_mangle]
pub unsafe extern "C" fn glocal_apply_f32_ws(
    t: *const glocal_transform,
    x: *const f32,
    x_len: usize,
    y: *mut f32,
    y_len: usize,
    flags: u32,
    workspace: *mut f32,
    workspace_len: usize,
) -> glocal_status {
    // SAFETY: forwarded caller promise.
    unsafe {
        apply::<f32, f32, true, true, _>(
            t,
            x,
            x_len,
            y,
            y_len,
            flags,
            workspace,
            workspace_len,
            float_call::<f32, f32, true>,
        )
    }
}

/// `glocal_apply_f16_ex` with a workspace of floats, as `glocal_apply_f32_ws` (the inputs are
/// widened to f32 as they are packed).
///
/// # Safety
/// As `glocal_apply_f32_ws`.
#[no_mangle]
pub unsafe extern "C" fn glocal_apply_f16_ws(
    t: *const glocal_transform,
    x: *const u16,
    x_len: usize,
    y: *mut u16,
    y_len: usize,
    flags: u32,
    workspace: *mut f32,
    workspace_len: usize,
) -> glocal_status {
    // SAFETY: as glocal_apply_f16; forwarded caller promise.
    unsafe {
        apply::<f16, f16, true, true, _>(
            t,
            x.cast(),
            x_len,
            y.cast(),
            y_len,
            flags,
            workspace,
            workspace_len,
            float_call::<f16, f16, true>,
        )
    }
}

/// `glocal_apply_bf16_ex` with a workspace of floats, as `glocal_apply_f32_ws`.
///
/// # Safety
/// As `glocal_apply_f32_ws`.
#[no_mangle]
pub unsafe extern "C" fn glocal_apply_bf16_ws(
    t: *const glocal_transform,
    x: *const u16,
    x_len: usize,
    y: *mut u16,
    y_len: usize,
    flags: u32,
    workspace: *mut f32,
    workspace_len: usize,
) -> glocal_status {
    // SAFETY: as glocal_apply_bf16; forwarded caller promise.
    unsafe {
        apply::<bf16, bf16, true, true, _>(
            t,
            x.cast(),
            x_len,
            y.cast(),
            y_len,
            flags,
            workspace,
            workspace_len,
            float_call::<bf16, bf16, true>,
        )
    }
}

const _: () = assert!(size_of::<f16>() == 2 && align_of::<f16>() == align_of::<u16>());
const _: () = assert!(size_of::<bf16>() == 2 && align_of::<bf16>() == align_of::<u16>());

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_fits_with_room_to_grow() {
        // Report the real size (x86_64 and thumbv7em differ); the compile-time asserts enforce it.
        std::eprintln!("size_of::<Slot>() = {} of {GLOCAL_TRANSFORM_SIZE}", size_of::<Slot>());
        assert!(size_of::<Slot>() + 64 <= GLOCAL_TRANSFORM_SIZE);
    }
}
