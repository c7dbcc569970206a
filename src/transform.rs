//! [`Transform`]: a validated, borrowed view of a blob, and the driver that applies it.

#![forbid(unsafe_code)]

use crate::dtype::{Element, WeightDtype};
use crate::error::Error;
use crate::format::{Header, BLOB_ALIGN};
use crate::kernel::i8d::I8dPanels;
use crate::kernel::{self, Isa, KernelInfo, PackedWeights, Panels, WeightElem};
use crate::quantized::QuantizedRows;

/// Blocks per worker in [`Transform::apply_parallel`] (dynamic balancing between cores).
#[cfg(feature = "std")]
const PARALLEL_BLOCKS_PER_WORKER: usize = 32;
/// Fewest row tiles in one block of [`Transform::apply_parallel`].
#[cfg(feature = "std")]
const PARALLEL_BLOCK_MIN_TILES: usize = 16;

/// An operation fused onto each output row by [`Transform::apply_with`] and
/// [`Transform::apply_parallel_with`], applied before the call returns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PostOp {
    /// Nothing: the plain affine output (what [`Transform::apply`] returns).
    #[default]
    None,
    /// Scale each output row to unit L2 norm, so cosine similarity is a dot product.
    ///
    /// A row whose output is the zero vector stays zero (no direction; never NaN); a row with a
    /// NaN or infinite output becomes all NaN; norms beyond the normal f32 range are computed
    /// without overflow or underflow. With f16/bf16 outputs the norm is taken from the rounded
    /// outputs and each quotient is rounded once more. See [`crate::similarity::l2_normalize`].
    L2Normalize,
}

/// A gLocal transform ready to apply: a validated view of a packed blob, with its kernel chosen.
///
/// Construction checks everything once (magic, version, header fields, dims, length,
/// alignment, checksum) and picks the kernel; [`Transform::apply`] then never allocates and
/// never panics. The weights are borrowed in place: `'static` for a blob in flash
/// ([`embed_blob!`](crate::embed_blob)), the mapping's lifetime for an mmap.
///
/// `Transform` is `Copy`, `Send` and `Sync`: one value can serve many threads.
#[derive(Clone, Copy, Debug)]
pub struct Transform<'a> {
    header: Header,
    weights: PackedWeights<'a>,
    kernel: &'static KernelInfo,
}

fn panels<'a, W: WeightElem>(blob: &'a [u8], h: &Header) -> Result<Panels<'a, W>, Error> {
    let l = &h.layout;
    let misaligned = Error::Misaligned { required: BLOB_ALIGN, address: blob.as_ptr() as usize };
    // The header was validated against this blob: every section lies inside it.
    let section = |off: u64, len: u64| {
        let s = blob.get(off as usize..(off + len) as usize);
        debug_assert!(s.is_some(), "section {off}+{len} outside a validated blob of {} bytes", blob.len());
        s.unwrap_or(&[])
    };
    let bias =
        bytemuck::try_cast_slice::<u8, f32>(section(l.bias_offset, l.bias_len)).map_err(|_| misaligned)?;
    let weights = bytemuck::try_cast_slice::<u8, W>(section(l.weights_offset, l.weights_len))
        .map_err(|_| misaligned)?;
    Ok(Panels {
        bias,
        weights,
        d_in: h.d_in as usize,
        d_out: h.d_out as usize,
        stride: l.panel_stride as usize / core::mem::size_of::<W>(),
        finite: kernel::all_finite(weights),
    })
}

/// The view of an `i8d` blob: bias, int8 panels, and the scales and diagonal of `aux`.
fn i8d_panels<'a>(blob: &'a [u8], h: &Header) -> Result<I8dPanels<'a>, Error> {
    let l = &h.layout;
    let misaligned = Error::Misaligned { required: BLOB_ALIGN, address: blob.as_ptr() as usize };
    // The header was validated against this blob: every section lies inside it.
    let section = |off: u64, len: u64| {
        let s = blob.get(off as usize..(off + len) as usize);
        debug_assert!(s.is_some(), "section {off}+{len} outside a validated blob of {} bytes", blob.len());
        s.unwrap_or(&[])
    };
    let f32s = |off: u64, len: u64| bytemuck::try_cast_slice::<u8, f32>(section(off, len));
    let bias = f32s(l.bias_offset, l.bias_len).map_err(|_| misaligned)?;
    let parts = h.aux_parts();
    let part = |r: core::ops::Range<usize>| f32s(r.start as u64, r.len() as u64).map_err(|_| misaligned);
    let (scales, diag) = (part(parts.scales)?, part(parts.diag)?);
    let q: &[i8] = bytemuck::cast_slice(section(l.weights_offset, l.weights_len));
    Ok(I8dPanels {
        bias,
        q,
        scales,
        diag,
        d_in: h.d_in as usize,
        d_out: h.d_out as usize,
        stride: l.panel_stride as usize,
    })
}

/// The view of a `q8` blob: `i8d`'s sections (the same bias, int8 panels, scales and
/// diagonal), then the column sums that follow the diagonal in `aux`.
#[cfg(feature = "q8")]
fn q8_panels<'a>(blob: &'a [u8], h: &Header) -> Result<kernel::q8::Q8Panels<'a>, Error> {
    if h.d_in as usize > kernel::q8::ACT_LEN {
        return Err(Error::BadDims { d_in: h.d_in, d_out: h.d_out });
    }
    let I8dPanels { bias, q, scales, diag, d_in, d_out, stride } = i8d_panels(blob, h)?;
    let sums = blob.get(h.aux_parts().sums);
    debug_assert!(sums.is_some(), "column sums outside a validated blob of {} bytes", blob.len());
    let sums = bytemuck::try_cast_slice(sums.unwrap_or(&[]))
        .map_err(|_| Error::Misaligned { required: BLOB_ALIGN, address: blob.as_ptr() as usize })?;
    Ok(kernel::q8::Q8Panels { bias, q, scales, diag, sums, d_in, d_out, stride })
}

/// The ISA named by `GLOCAL_FORCE_ISA` (with `std`), or `None` to choose per dtype.
fn forced_isa() -> Result<Option<Isa>, Error> {
    #[cfg(feature = "std")]
    if std::env::var_os("GLOCAL_FORCE_ISA").is_some() {
        return Isa::default_choice().map(Some);
    }
    Ok(None)
}

impl<'a> Transform<'a> {
    /// Validates `blob` and chooses the best kernel for this CPU (or the one named by
    /// `GLOCAL_FORCE_ISA` when the `std` feature is on).
    ///
    /// # Errors
    /// Any [`Error`] describing the first problem found in the blob, or
    /// [`Error::KernelUnavailable`] when `GLOCAL_FORCE_ISA` names an ISA this CPU lacks. (A
    /// forced ISA without a kernel for the blob's dtype, such as `avx2` for `i8d`, runs scalar.)
    ///
    /// ```
    /// # fn main() -> Result<(), glocal::Error> {
    /// # let source = glocal::pack::Source {
    /// #     d_in: 3, d_out: 3, weights: vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
    /// #     bias: None, mean: 0.0, std: 1.0,
    /// # };
    /// # let blob = glocal::pack::pack(&source, glocal::WeightDtype::F32, "identity", "").unwrap();
    /// let t = glocal::Transform::new(blob.as_bytes())?;
    /// let mut y = [f32::NAN; 3];
    /// t.apply(&[1.0f32, 2.0, 3.0], &mut y)?;
    /// assert_eq!(y, [1.0, 2.0, 3.0]);
    /// # Ok(()) }
    /// ```
    pub fn new(blob: &'a [u8]) -> Result<Self, Error> {
        Self::build(blob, forced_isa()?, true)
    }

    /// Validates `blob` and uses the kernel of `isa`.
    ///
    /// # Errors
    /// As [`Transform::new`]; [`Error::KernelUnavailable`] if `isa` cannot run here.
    pub fn with_isa(blob: &'a [u8], isa: Isa) -> Result<Self, Error> {
        Self::build(blob, Some(isa), false)
    }

    /// Validates `blob`; uses the kernel of `isa`, or when `None` the best available ISA with
    /// a kernel for the blob's dtype ([`Isa::best_for`]). With `scalar_if_no_kernel`, an
    /// available `isa` that has no kernel for the blob's dtype (`GLOCAL_FORCE_ISA=avx2` on an
    /// `i8d` blob) runs the portable scalar kernel, which every dtype has.
    fn build(blob: &'a [u8], isa: Option<Isa>, scalar_if_no_kernel: bool) -> Result<Self, Error> {
        if let Some(isa) = isa {
            isa.checked()?;
        }
        if !(blob.as_ptr() as usize).is_multiple_of(BLOB_ALIGN) {
            return Err(Error::Misaligned { required: BLOB_ALIGN, address: blob.as_ptr() as usize });
        }
        let header = Header::validate_blob(blob)?;
        let weights = match header.dtype {
            WeightDtype::F32 => PackedWeights::F32(panels(blob, &header)?),
            WeightDtype::F16 => PackedWeights::F16(panels(blob, &header)?),
            WeightDtype::Bf16 => PackedWeights::Bf16(panels(blob, &header)?),
            WeightDtype::I8d => PackedWeights::I8d(i8d_panels(blob, &header)?),
            #[cfg(feature = "q8")]
            WeightDtype::Q8 => PackedWeights::Q8(q8_panels(blob, &header)?),
            // Refused by `Header::parse` in builds without the feature.
            #[cfg(not(feature = "q8"))]
            WeightDtype::Q8 => return Err(Error::KernelUnavailable { isa: "q8" }),
        };
        let mut isa = isa.unwrap_or_else(|| Isa::best_for(header.dtype));
        if scalar_if_no_kernel && kernel::kernel_info(isa, header.dtype).is_none() {
            isa = Isa::Scalar;
        }
        let kernel =
            kernel::kernel_info(isa, header.dtype).ok_or(Error::KernelUnavailable { isa: isa.name() })?;
        Ok(Transform { header, weights, kernel })
    }

    /// Input dimension: elements per input row.
    pub fn d_in(&self) -> usize {
        self.header.d_in as usize
    }

    /// Output dimension: elements per output row.
    pub fn d_out(&self) -> usize {
        self.header.d_out as usize
    }

    /// Weight storage dtype.
    pub fn dtype(&self) -> WeightDtype {
        self.header.dtype
    }

    /// The validated header (names, original mean and std, layout).
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The kernel this transform runs.
    pub fn kernel(&self) -> &'static KernelInfo {
        self.kernel
    }

    /// The stored (folded, rounded) weight `W'[k][j]` widened to f32, or `None` out of range.
    pub fn folded_weight(&self, k: usize, j: usize) -> Option<f32> {
        fn get<W: WeightElem>(p: &Panels<'_, W>, k: usize, j: usize) -> Option<f32> {
            if k >= p.d_in || j >= p.d_out {
                return None;
            }
            let at = (j / kernel::NR) * p.stride + k * kernel::NR + j % kernel::NR;
            let w = p.weights.get(at).map(|w| w.widen());
            debug_assert!(w.is_some(), "weight [{k}][{j}] outside validated panels");
            w
        }
        match &self.weights {
            PackedWeights::F32(p) => get(p, k, j),
            PackedWeights::F16(p) => get(p, k, j),
            PackedWeights::Bf16(p) => get(p, k, j),
            PackedWeights::I8d(p) => p.weight(k, j),
            #[cfg(feature = "q8")]
            PackedWeights::Q8(p) => p.weight(k, j),
        }
    }

    /// The stored (folded) bias `b'[j]`, or `None` out of range.
    pub fn folded_bias(&self, j: usize) -> Option<f32> {
        let bias = match &self.weights {
            PackedWeights::F32(p) => p.bias,
            PackedWeights::F16(p) => p.bias,
            PackedWeights::Bf16(p) => p.bias,
            PackedWeights::I8d(p) => p.bias,
            #[cfg(feature = "q8")]
            PackedWeights::Q8(p) => p.bias,
        };
        bias.get(..self.d_out()).and_then(|b| b.get(j)).copied()
    }

    /// The folded weights `W'` (`d_in x d_out`) and bias `b'` as nalgebra values, so that
    /// `y^T = x^T W' + b'^T` (for peers, checks and interop; copies the weights).
    #[cfg(feature = "nalgebra")]
    pub fn to_nalgebra(&self) -> (nalgebra::DMatrix<f32>, nalgebra::DVector<f32>) {
        let w = nalgebra::DMatrix::from_fn(self.d_in(), self.d_out(), |k, j| {
            self.folded_weight(k, j).unwrap_or(f32::NAN)
        });
        let b = nalgebra::DVector::from_fn(self.d_out(), |j, _| self.folded_bias(j).unwrap_or(f32::NAN));
        (w, b)
    }

    /// Checks the argument lengths of an apply call; returns the number of rows.
    fn check_lengths(&self, x_len: usize, y_len: usize) -> Result<usize, Error> {
        let (d_in, d_out) = (self.d_in(), self.d_out());
        // checked_rem/checked_div: d_in >= 1 by validation, and this keeps a division-by-zero
        // panic path out of bare-metal builds.
        let rows = match (x_len.checked_rem(d_in), x_len.checked_div(d_in)) {
            (Some(0), Some(rows)) if rows > 0 => rows,
            _ => return Err(Error::InputLength { found: x_len, d_in }),
        };
        // rows * d_out cannot overflow: x_len >= rows, and d_out <= MAX_DIM.
        let expected =
            rows.checked_mul(d_out).ok_or(Error::OutputLength { found: y_len, expected: usize::MAX })?;
        if y_len != expected {
            return Err(Error::OutputLength { found: y_len, expected });
        }
        Ok(rows)
    }

    /// Kernel (with a workspace for packed inputs, possibly empty) plus post-op on lengths
    /// already checked.
    #[inline]
    fn run<I: Element, O: Element>(&self, x: &[I], y: &mut [O], post: PostOp, ws: &mut [f32]) {
        kernel::run(self.kernel, &self.weights, x, y, ws);
        self.post(y, post);
    }

    /// The post-op on every output row.
    #[inline]
    fn post<O: Element>(&self, y: &mut [O], post: PostOp) {
        match post {
            PostOp::None => {}
            PostOp::L2Normalize => {
                for row in y.chunks_exact_mut(self.d_out()) {
                    crate::similarity::l2_normalize_elems(row);
                }
            }
        }
    }

    /// Applies the transform to one row or a batch of rows: `y = ((x - mean) / std) @ W + b`.
    ///
    /// `x` holds `rows * d_in` elements (row-major, `rows >= 1`), `y` exactly `rows * d_out`.
    /// Inputs and outputs may be `f32`, `f16` or `bf16` independently; accumulation is f32.
    /// A NaN in a row of `x` makes that row of `y` NaN. Returns the number of rows.
    ///
    /// Never allocates, never panics, single-threaded and deterministic.
    ///
    /// # Errors
    /// [`Error::InputLength`] or [`Error::OutputLength`]; then `y` is left untouched.
    pub fn apply<I: Element, O: Element>(&self, x: &[I], y: &mut [O]) -> Result<usize, Error> {
        // Not `apply_with(.., PostOp::None)`: that shares one instance with the post-op callers
        // and links the L2 normalisation into every plain apply (3 KiB of bare-metal flash).
        let rows = self.check_lengths(x.len(), y.len())?;
        kernel::run(self.kernel, &self.weights, x, y, &mut []);
        Ok(rows)
    }

    /// [`Transform::apply`] followed by a fused post-op on each output row, e.g.
    /// [`PostOp::L2Normalize`] for cosine-ready embeddings in one call.
    ///
    /// Never allocates, never panics, single-threaded and deterministic.
    ///
    /// ```
    /// # let source = glocal::pack::Source {
    /// #     d_in: 2, d_out: 2, weights: vec![1.0, 0.0, 0.0, 1.0], bias: None, mean: 0.0, std: 1.0,
    /// # };
    /// # let blob = glocal::pack::pack(&source, glocal::WeightDtype::F32, "identity", "").unwrap();
    /// use glocal::{PostOp, Transform};
    /// let t = Transform::new(blob.as_bytes()).unwrap();
    /// let mut y = [f32::NAN; 4];
    /// t.apply_with(&[3.0f32, 4.0, 0.0, 0.0], &mut y, PostOp::L2Normalize).unwrap();
    /// assert_eq!(y, [0.6, 0.8, 0.0, 0.0]); // a zero row stays zero
    /// ```
    ///
    /// # Errors
    /// As [`Transform::apply`]; then `y` is left untouched.
    pub fn apply_with<I: Element, O: Element>(
        &self,
        x: &[I],
        y: &mut [O],
        post: PostOp,
    ) -> Result<usize, Error> {
        self.apply_with_workspace(x, y, post, &mut [])
    }

    /// f32 elements of workspace [`Transform::apply_with_workspace`] uses for a batch of `rows`
    /// rows: one chunk of inputs with the SIMD kernels (AVX2, AVX-512, NEON) for batches large
    /// enough to gain from packing, never more than `rows * d_in`; 0 for smaller batches and
    /// for the other kernels. The same workspace serves any batch of at
    /// most as many rows.
    pub fn workspace_len(&self, rows: usize) -> usize {
        kernel::workspace_len(self.kernel, self.d_in(), rows)
    }

    /// [`Transform::apply_with`] (`post` may be [`PostOp::None`]) with a workspace of at least
    /// [`Transform::workspace_len`]`(rows)` f32: large batches then have their inputs packed
    /// once per chunk of rows, so the register tiles read them as one sequential stream (a few
    /// percent faster on large batches; benches/README.md has the current figures). The
    /// results are bit-for-bit those of [`Transform::apply_with`]: packing copies, the
    /// arithmetic and its order are unchanged. A shorter workspace, an empty one included, runs
    /// the kernel unpacked.
    ///
    /// Never allocates, never panics, single-threaded and deterministic; the workspace is only
    /// written, its contents on return are unspecified.
    ///
    /// ```
    /// # let source = glocal::pack::Source {
    /// #     d_in: 2, d_out: 2, weights: vec![1.0, 0.0, 0.0, 1.0], bias: None, mean: 0.0, std: 1.0,
    /// # };
    /// # let blob = glocal::pack::pack(&source, glocal::WeightDtype::F32, "identity", "").unwrap();
    /// let t = glocal::Transform::new(blob.as_bytes()).unwrap();
    /// let rows = 100;
    /// let x: Vec<f32> = (0..rows * 2).map(|i| i as f32).collect();
    /// let mut workspace = vec![0f32; t.workspace_len(rows)]; // once, reused for every batch
    /// let mut y = vec![0f32; rows * 2];
    /// t.apply_with_workspace(&x, &mut y, glocal::PostOp::None, &mut workspace).unwrap();
    /// assert_eq!(y, x);
    /// ```
    ///
    /// # Errors
    /// As [`Transform::apply`]; then `y` is left untouched.
    pub fn apply_with_workspace<I: Element, O: Element>(
        &self,
        x: &[I],
        y: &mut [O],
        post: PostOp,
        workspace: &mut [f32],
    ) -> Result<usize, Error> {
        let rows = self.check_lengths(x.len(), y.len())?;
        self.run(x, y, post, workspace);
        Ok(rows)
    }

    /// [`Transform::apply`] for quantized inputs: int8 or uint8 rows with a scale and zero
    /// point ([`QuantizedRows`]), as TFLite Micro, Ethos-U and NPU pipelines produce them.
    ///
    /// Each element `q` is dequantized as the kernels read it, `((q - zero_point) as f32) *
    /// scale` (one f32 rounding; [`QuantizedRows::dequantize`]), the same on every kernel and
    /// ISA, so `y` is bit for bit what [`Transform::apply`] gives for those f32 inputs, with
    /// the same kernel. The conversion happens where the kernels widen 16-bit inputs: no copy
    /// of the rows is made. Outputs may be `f32`, `f16` or `bf16`. Returns the number of rows.
    ///
    /// Never allocates, never panics, single-threaded and deterministic.
    ///
    /// ```
    /// # let source = glocal::pack::Source {
    /// #     d_in: 2, d_out: 2, weights: vec![1.0, 0.0, 0.0, 1.0], bias: None, mean: 0.0, std: 1.0,
    /// # };
    /// # let blob = glocal::pack::pack(&source, glocal::WeightDtype::F32, "identity", "").unwrap();
    /// use glocal::{QuantizedRows, Transform};
    /// let t = Transform::new(blob.as_bytes()).unwrap();
    /// let mut y = [f32::NAN; 2];
    /// // real = 0.25 * (q - 10)
    /// t.apply_quantized(QuantizedRows::u8(&[14, 2], 0.25, 10), &mut y).unwrap();
    /// assert_eq!(y, [1.0, -2.0]);
    /// ```
    ///
    /// # Errors
    /// [`Error::BadInputScale`] (scale NaN, infinite, zero or negative) and
    /// [`Error::BadInputZeroPoint`] (outside `-128..=127` for int8, `0..=255` for uint8),
    /// checked first; then [`Error::InputLength`] or [`Error::OutputLength`]. On any error
    /// `y` is left untouched.
    pub fn apply_quantized<O: Element>(&self, x: QuantizedRows<'_>, y: &mut [O]) -> Result<usize, Error> {
        x.check()?;
        let rows = self.check_lengths(x.len(), y.len())?;
        kernel::run_quantized(self.kernel, &self.weights, x, y, &mut []);
        Ok(rows)
    }

    /// [`Transform::apply_quantized`] with a fused post-op ([`Transform::apply_with`]) and a
    /// workspace ([`Transform::apply_with_workspace`]; `&mut []` for none): bit for bit what
    /// [`Transform::apply_with_workspace`] gives for the dequantized inputs.
    ///
    /// Never allocates, never panics, single-threaded and deterministic; the workspace is only
    /// written, its contents on return are unspecified.
    ///
    /// # Errors
    /// As [`Transform::apply_quantized`]; then `y` is left untouched.
    pub fn apply_quantized_with_workspace<O: Element>(
        &self,
        x: QuantizedRows<'_>,
        y: &mut [O],
        post: PostOp,
        workspace: &mut [f32],
    ) -> Result<usize, Error> {
        x.check()?;
        let rows = self.check_lengths(x.len(), y.len())?;
        kernel::run_quantized(self.kernel, &self.weights, x, y, workspace);
        self.post(y, post);
        Ok(rows)
    }

    /// [`Transform::apply`] on `threads` cores: the rows are split into contiguous blocks (whole
    /// register tiles of the kernel, up to 32 blocks per thread) that the threads claim one at a
    /// time under `std::thread::scope`, so a thread on a slower or busier core simply does
    /// fewer blocks. The result is bit-for-bit the one [`Transform::apply`] gives: every row is
    /// computed by the same kernel with the same arithmetic, whatever block it falls in.
    ///
    /// `threads == 0` means `std::thread::available_parallelism()`. Fewer threads are used when
    /// there are fewer row tiles than threads; `threads == 1` runs on the calling thread, which
    /// otherwise works as one of the threads. If the OS refuses a thread, the others claim its
    /// blocks (same result, less parallel). Spawning allocates (thread stacks and handles, the
    /// block list), and so does each worker's workspace for packed inputs
    /// ([`Transform::apply_with_workspace`]; [`Transform::workspace_len`] f32, skipped if it
    /// cannot be had);
    /// the buffers do not.
    ///
    /// # Errors
    /// As [`Transform::apply`]; then `y` is left untouched.
    #[cfg(feature = "std")]
    pub fn apply_parallel<I: Element + Sync, O: Element + Send>(
        &self,
        x: &[I],
        y: &mut [O],
        threads: usize,
    ) -> Result<usize, Error> {
        self.apply_parallel_with(x, y, PostOp::None, threads)
    }

    /// [`Transform::apply_parallel`] with a fused post-op ([`Transform::apply_with`]).
    ///
    /// # Errors
    /// As [`Transform::apply`]; then `y` is left untouched.
    #[cfg(feature = "std")]
    pub fn apply_parallel_with<I: Element + Sync, O: Element + Send>(
        &self,
        x: &[I],
        y: &mut [O],
        post: PostOp,
        threads: usize,
    ) -> Result<usize, Error> {
        let rows = self.check_lengths(x.len(), y.len())?;
        let threads = match threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let mr = self.kernel.mr.max(1);
        let tiles = rows.div_ceil(mr);
        let workers = threads.min(tiles).max(1);
        if workers == 1 {
            self.run(x, y, post, &mut self.parallel_workspace(rows));
            return Ok(rows);
        }
        // Several blocks per worker, claimed from a counter: a worker on a slower or busier core
        // takes fewer of them instead of finishing last, and if the OS refuses a thread the
        // others (and the caller) take its share. Each block keeps at least
        // PARALLEL_BLOCK_MIN_TILES row tiles, so its fixed cost stays negligible.
        let blocks =
            (workers * PARALLEL_BLOCKS_PER_WORKER).min(tiles / PARALLEL_BLOCK_MIN_TILES).max(workers);
        // Whole tiles per block, the remainder spread over the first blocks.
        let (d_in, d_out) = (self.d_in(), self.d_out());
        let (per, extra) = (tiles / blocks, tiles % blocks);
        let mut sizes: std::vec::Vec<usize> =
            (0..blocks).map(|b| (per + usize::from(b < extra)) * mr).collect();
        // The last block takes what is left. A lone row would take the kernels' batch-1 path,
        // which sums in another order than the row tiles: give it to the block before, so the
        // result stays bit-identical to `apply`.
        let before_last: usize = sizes.iter().take(blocks - 1).sum();
        if rows - before_last == 1 {
            sizes.pop();
            if let Some(prev) = sizes.last_mut() {
                *prev += 1;
            }
        }
        let mut parts = std::vec::Vec::with_capacity(sizes.len());
        let (mut x_rest, mut y_rest) = (x, y);
        for &size in &sizes {
            let n = size.min(x_rest.len() / d_in);
            let (xb, xr) = x_rest.split_at(n * d_in);
            let (yb, yr) = core::mem::take(&mut y_rest).split_at_mut(n * d_out);
            (x_rest, y_rest) = (xr, yr);
            parts.push(std::sync::Mutex::new(Some((xb, yb))));
        }
        let next = core::sync::atomic::AtomicUsize::new(0);
        let largest = sizes.iter().max().copied().unwrap_or(0);
        let work = || {
            let mut ws = self.parallel_workspace(largest);
            while let Some(part) = parts.get(next.fetch_add(1, core::sync::atomic::Ordering::Relaxed)) {
                // `run` never panics, so the lock is never poisoned; take the data either way.
                let taken = part.lock().unwrap_or_else(|e| e.into_inner()).take();
                if let Some((xb, yb)) = taken {
                    self.run(xb, yb, post, &mut ws);
                }
            }
        };
        std::thread::scope(|scope| {
            for _ in 1..workers {
                // A refused thread is not an error: its block is claimed by another worker.
                let _ = std::thread::Builder::new().spawn_scoped(scope, work);
            }
            work();
        });
        Ok(rows)
    }

    /// One worker's workspace for blocks of up to `rows` rows ([`Transform::workspace_len`]);
    /// empty if the allocation fails, which only costs the packing (same results).
    #[cfg(feature = "std")]
    fn parallel_workspace(&self, rows: usize) -> std::vec::Vec<f32> {
        let len = self.workspace_len(rows);
        let mut ws = std::vec::Vec::new();
        if ws.try_reserve_exact(len).is_ok() {
            ws.resize(len, 0.0);
        }
        ws
    }
}
