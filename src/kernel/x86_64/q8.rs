//! `q8` kernels: exact int32 panel sums over tiles of rows (`q8::drive_tiles`), nothing else
//! (quantization and the float epilogue are `kernel/q8.rs`'s, shared by every kernel).
//!
//! * **AVX-512 VNNI** ([`Zmm`]): `vpdpbusd` multiplies unsigned bytes by signed bytes, four per
//!   int32 lane. A 12-bit activation `a` is split once per row into `a = 64 * hi + lo` with
//!   `hi = floor((a + 32) / 64)` in `-32..=32` and `lo` in `-32..=31`, both stored offset by 32
//!   as unsigned bytes; one 64-byte weight group (16 columns x 4 inputs) then takes two
//!   `vpdpbusd` per row, each with its four activation bytes as an embedded broadcast. The
//!   offsets come back out with the panel's column sums: `sum a w = 64 * (H - 32 S) + (L - 32 S)`.
//! * **AVX-VNNI** and **AVX2** ([`Ymm`]): the weights are sign-extended to 16 bits
//!   (`vpmovsxbw`, once per group for the whole tile) and multiplied in pairs by the 16-bit
//!   activations, broadcast four at a time: `vpdpwssd` (VEX) or `vpmaddwd` + `vpaddd`. Lane
//!   `2m` of an accumulator sums inputs `4g, 4g + 1` of a column, lane `2m + 1` inputs
//!   `4g + 2, 4g + 3`; one `vphaddd` per 8 columns adds them.
//!
//! Every sum is exact: see the bounds at each kernel.

#![allow(unsafe_code)]

use core::arch::x86_64::*;

use super::{Avx2, Avx512Vnni, AvxVnni};
use crate::format::Q8_GROUP;
use crate::kernel::io::{InputRows, OutputRows};
use crate::kernel::q8::{drive_tiles, Q8Panels, Tile, TILE_ROWS};
use crate::kernel::{portable, PackedWeights, NR};

/// Rows per panel pass of the AVX-512 VNNI kernel: 2 x 12 zmm accumulators and one weight
/// register, the activations broadcast from memory by the multiply-adds.
pub const MR_ZMM: usize = 12;

/// Rows per panel pass of the ymm kernels: 4 x 3 accumulators, 3 activation registers and one
/// weight register fill the 16 ymm registers.
pub const MR_YMM: usize = 3;

const _: () = assert!(MR_ZMM <= TILE_ROWS && MR_YMM <= TILE_ROWS && NR == 16 && Q8_GROUP == 4);

/// Bytes of one weight group: 16 columns x 4 inputs.
const GROUP_BYTES: usize = NR * Q8_GROUP;

/// Whether `act` holds `rows` rows of `len` activations and `panel` `len / 4` groups: what the
/// raw-pointer loops below rely on (always true from `drive_tiles`; checked anyway, once per
/// panel pass, so each kernel is sound on its own).
fn in_bounds(act: &[i16], len: usize, rows: usize, panel: &[i8], mr: usize) -> bool {
    len.is_multiple_of(Q8_GROUP)
        && (1..=mr).contains(&rows)
        && rows.checked_mul(len).is_some_and(|n| n <= act.len())
        && len.checked_mul(NR).is_some_and(|n| n <= panel.len())
}

/// The AVX-512 VNNI tile kernel (`vpdpbusd`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Zmm(pub(crate) Avx512Vnni);

impl Tile for Zmm {
    const MR: usize = MR_ZMM;

    fn encode(self, act: &mut [i16]) {
        // SAFETY: the token proves avx512f, avx512bw and avx512vnni; the function reads and
        // writes `act` within its length only.
        unsafe { encode_zmm(act) }
    }

    fn dot(
        self,
        act: &[i16],
        len: usize,
        rows: usize,
        panel: &[i8],
        sums: &[i32; NR],
        acc: &mut [[i32; NR]; TILE_ROWS],
    ) {
        if !in_bounds(act, len, rows, panel, MR_ZMM) {
            debug_assert!(false, "q8 zmm: tile out of bounds");
            return;
        }
        let (a, w) = (act.as_ptr().cast::<u8>(), panel.as_ptr());
        // SAFETY: the token proves the target features of `dot_zmm`; `in_bounds` checked the
        // `rows * len` activations and `len * NR` weights it reads.
        unsafe {
            match rows {
                1 => dot_zmm::<1, 6>(a, len, w, sums, acc),
                2 => dot_zmm::<2, 3>(a, len, w, sums, acc),
                3 => dot_zmm::<3, 2>(a, len, w, sums, acc),
                4 => dot_zmm::<4, 2>(a, len, w, sums, acc),
                5 => dot_zmm::<5, 2>(a, len, w, sums, acc),
                6 => dot_zmm::<6, 2>(a, len, w, sums, acc),
                7 => dot_zmm::<7, 1>(a, len, w, sums, acc),
                8 => dot_zmm::<8, 1>(a, len, w, sums, acc),
                9 => dot_zmm::<9, 1>(a, len, w, sums, acc),
                10 => dot_zmm::<10, 1>(a, len, w, sums, acc),
                11 => dot_zmm::<11, 1>(a, len, w, sums, acc),
                _ => dot_zmm::<12, 1>(a, len, w, sums, acc),
            }
        }
    }
}

/// Re-encodes one row in place, 32 activations per step: each group of four `a` becomes the
/// bytes `hi_0+32 .. hi_3+32, lo_0+32 .. lo_3+32` (8 bytes, the size of the four `i16`), with
/// `a = 64 * hi + lo`, `hi = floor((a + 32) / 64)` in `-32..=32`, `lo` in `-32..=31` (for `a`
/// in `-2047..=2047`), so both bytes are in `0..=64`, valid `vpdpbusd` unsigned operands.
///
/// # Safety
/// avx512f, avx512bw and avx512vnni present.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn encode_zmm(act: &mut [i16]) {
    let off = _mm512_set1_epi16(32);
    // Per 128-bit lane, from `hb_k | lb_k << 8` in 16-bit lanes k = 0..8 to the bytes
    // `hb_0..hb_3, lb_0..lb_3, hb_4..hb_7, lb_4..lb_7`.
    let order = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 2, 4, 6, 1, 3, 5, 7, 8, 10, 12, 14, 9, 11, 13, 15));
    for chunk in act.chunks_mut(32) {
        // A whole number of groups (the row is padded to a multiple of four): the shuffle
        // never mixes a loaded lane with a masked one within a group.
        let mask: __mmask32 = if chunk.len() == 32 { !0 } else { (1u32 << chunk.len()) - 1 };
        let p = chunk.as_mut_ptr();
        // SAFETY: the mask covers the `chunk.len()` elements of `chunk` only.
        let a = unsafe { _mm512_maskz_loadu_epi16(mask, p) };
        let hi = _mm512_srai_epi16::<6>(_mm512_add_epi16(a, off));
        let lo = _mm512_sub_epi16(a, _mm512_slli_epi16::<6>(hi));
        let both =
            _mm512_or_si512(_mm512_add_epi16(hi, off), _mm512_slli_epi16::<8>(_mm512_add_epi16(lo, off)));
        // SAFETY: as the load.
        unsafe { _mm512_mask_storeu_epi16(p, mask, _mm512_shuffle_epi8(both, order)) };
    }
}

/// `acc[i] = sum_k a_i[k] * q[k][..]` for `R` rows encoded by [`encode_zmm`], in `U`
/// interleaved chains per accumulator (2 R U chains in all, enough to cover the `vpdpbusd`
/// latency on two ports for any `R`).
///
/// Exact: per lane, one `vpdpbusd` adds four products of at most `64 * 128`; over the at most
/// 2048 groups of `d_in <= 8192` the offset sums `H`, `L` stay within `2^26`. The result
/// `64 * H + L - 2080 * S` is formed with wrapping int32 operations, i.e. modulo `2^32`, and
/// equals `sum a * w`, whose magnitude is below `8192 * 2047 * 128 < 2^31`
/// (`Q8_MAX_D_IN`): it is that sum exactly.
///
/// # Safety
/// avx512f, avx512bw and avx512vnni present; `act` holds `R * len` encoded activations (`2 *
/// R * len` bytes), `panel` `len * 16` bytes; `len` a multiple of four.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn dot_zmm<const R: usize, const U: usize>(
    act: *const u8,
    len: usize,
    panel: *const i8,
    sums: &[i32; NR],
    acc: &mut [[i32; NR]; TILE_ROWS],
) {
    let groups = len / Q8_GROUP;
    let mut hi = [[_mm512_setzero_si512(); R]; U];
    let mut lo = [[_mm512_setzero_si512(); R]; U];
    // Row i's group g: its hi bytes at `act + 2 i len + 8 g`, its lo bytes 4 further.
    let bcst = |i: usize, g: usize, half: usize| {
        // SAFETY: `i < R`, `g < groups`: within the `2 R len` bytes of `act` (this
        // function's contract); unaligned 4-byte read.
        _mm512_set1_epi32(unsafe { act.add(2 * i * len + 8 * g + 4 * half).cast::<i32>().read_unaligned() })
    };
    let mut g = 0;
    while g + U <= groups {
        for u in 0..U {
            // SAFETY: group `g + u < groups` lies within the `len * 16` bytes of `panel`.
            let w = unsafe { _mm512_loadu_si512(panel.add((g + u) * GROUP_BYTES).cast()) };
            for i in 0..R {
                hi[u][i] = _mm512_dpbusd_epi32(hi[u][i], bcst(i, g + u, 0), w);
                lo[u][i] = _mm512_dpbusd_epi32(lo[u][i], bcst(i, g + u, 1), w);
            }
        }
        g += U;
    }
    while g < groups {
        // SAFETY: as above.
        let w = unsafe { _mm512_loadu_si512(panel.add(g * GROUP_BYTES).cast()) };
        for i in 0..R {
            hi[0][i] = _mm512_dpbusd_epi32(hi[0][i], bcst(i, g, 0), w);
            lo[0][i] = _mm512_dpbusd_epi32(lo[0][i], bcst(i, g, 1), w);
        }
        g += 1;
    }
    // SAFETY: `sums` is 16 int32, unaligned read.
    let s = unsafe { _mm512_loadu_si512(sums.as_ptr().cast()) };
    let offset = _mm512_mullo_epi32(s, _mm512_set1_epi32(64 * 32 + 32));
    for (i, out) in acc.iter_mut().take(R).enumerate() {
        let (mut h, mut l) = (hi[0][i], lo[0][i]);
        for u in 1..U {
            h = _mm512_add_epi32(h, hi[u][i]);
            l = _mm512_add_epi32(l, lo[u][i]);
        }
        let v = _mm512_sub_epi32(_mm512_add_epi32(_mm512_slli_epi32::<6>(h), l), offset);
        // SAFETY: `out` is 16 int32, unaligned write.
        unsafe { _mm512_storeu_si512(out.as_mut_ptr().cast(), v) };
    }
}

/// The ymm tile kernels: AVX-VNNI (`vpdpwssd`) or AVX2 (`vpmaddwd` + `vpaddd`), by token.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Ymm {
    /// `vpmaddwd` + `vpaddd`.
    Avx2(Avx2),
    /// `vpdpwssd` (VEX).
    AvxVnni(AvxVnni),
}

impl Tile for Ymm {
    const MR: usize = MR_YMM;

    /// The 16-bit activations as they are.
    fn encode(self, _act: &mut [i16]) {}

    fn dot(
        self,
        act: &[i16],
        len: usize,
        rows: usize,
        panel: &[i8],
        _sums: &[i32; NR],
        acc: &mut [[i32; NR]; TILE_ROWS],
    ) {
        if !in_bounds(act, len, rows, panel, MR_YMM) {
            debug_assert!(false, "q8 ymm: tile out of bounds");
            return;
        }
        let (a, w) = (act.as_ptr(), panel.as_ptr());
        // SAFETY: each token proves the target features of the functions it selects;
        // `in_bounds` checked the `rows * len` activations and `len * NR` weights they read.
        unsafe {
            match (self, rows) {
                (Ymm::AvxVnni(_), 1) => dot_ymm_vnni::<1, 3>(a, len, w, acc),
                (Ymm::AvxVnni(_), 2) => dot_ymm_vnni::<2, 1>(a, len, w, acc),
                (Ymm::AvxVnni(_), _) => dot_ymm_vnni::<3, 1>(a, len, w, acc),
                (Ymm::Avx2(_), 1) => dot_ymm_avx2::<1, 3>(a, len, w, acc),
                (Ymm::Avx2(_), 2) => dot_ymm_avx2::<2, 1>(a, len, w, acc),
                (Ymm::Avx2(_), _) => dot_ymm_avx2::<3, 1>(a, len, w, acc),
            }
        }
    }
}

/// One ymm kernel per multiply-add: `$name::<R, U>` sums `R` rows of 16-bit activations in `U`
/// interleaved chains per accumulator.
///
/// Exact: a 32-bit lane adds pair products `a0 w0 + a1 w1` of magnitude at most
/// `2 * 2047 * 128 < 2^20` (`vpmaddwd` cannot overflow: no operand is -32768); a column's two
/// lanes together sum `|a| * |w|` over its inputs, below `8192 * 2047 * 128 < 2^31`
/// (`Q8_MAX_D_IN`), so no partial sum and not their total overflows.
macro_rules! dot_ymm {
    ($name:ident, $features:literal, |$acc:ident, $w:ident, $a:ident| $madd:expr) => {
        /// # Safety
        #[doc = concat!($features, " present; `act` holds `R * len` activations, `panel` `len * 16` bytes; `len` a multiple of four.")]
        #[target_feature(enable = $features)]
        unsafe fn $name<const R: usize, const U: usize>(
            act: *const i16,
            len: usize,
            panel: *const i8,
            acc: &mut [[i32; NR]; TILE_ROWS],
        ) {
            let groups = len / Q8_GROUP;
            // Accumulator [u][i][q]: row i, columns 4q .. 4q + 3.
            let mut sum = [[[_mm256_setzero_si256(); 4]; R]; U];
            let step = |sum: &mut [[__m256i; 4]; R], g: usize| {
                // Inputs 4g .. 4g + 3 of each row, broadcast as one 64-bit value.
                let a: [__m256i; R] = core::array::from_fn(|i| {
                    // SAFETY: `i < R`, `g < groups`: within the `R * len` activations
                    // (this function's contract); unaligned 8-byte read.
                    _mm256_set1_epi64x(unsafe { act.add(i * len + 4 * g).cast::<i64>().read_unaligned() })
                });
                for q in 0..4 {
                    // SAFETY: group `g < groups` lies within the `len * 16` bytes of `panel`.
                    let $w = _mm256_cvtepi8_epi16(unsafe {
                        _mm_loadu_si128(panel.add(g * GROUP_BYTES + 16 * q).cast())
                    });
                    for i in 0..R {
                        let ($acc, $a) = (sum[i][q], a[i]);
                        sum[i][q] = $madd;
                    }
                }
            };
            let mut g = 0;
            while g + U <= groups {
                for (u, s) in sum.iter_mut().enumerate() {
                    step(s, g + u);
                }
                g += U;
            }
            while g < groups {
                step(&mut sum[0], g);
                g += 1;
            }
            for (i, out) in acc.iter_mut().take(R).enumerate() {
                let mut s = sum[0][i];
                for t in sum.iter().skip(1) {
                    for q in 0..4 {
                        s[q] = _mm256_add_epi32(s[q], t[i][q]);
                    }
                }
                // hadd gives columns 0 1 4 5 2 3 6 7 (per 128-bit lane); the permute restores
                // the order.
                let lo = _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_hadd_epi32(s[0], s[1]));
                let hi = _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_hadd_epi32(s[2], s[3]));
                // SAFETY: `out` is 16 int32, unaligned writes of 8 each.
                unsafe {
                    _mm256_storeu_si256(out.as_mut_ptr().cast(), lo);
                    _mm256_storeu_si256(out.as_mut_ptr().add(8).cast(), hi);
                }
            }
        }
    };
}

dot_ymm!(dot_ymm_avx2, "avx2", |acc, w, a| _mm256_add_epi32(acc, _mm256_madd_epi16(w, a)));
dot_ymm!(dot_ymm_vnni, "avx2,avxvnni", |acc, w, a| _mm256_dpwssd_avx_epi32(acc, w, a));

/// [`drive_tiles`] with the AVX-512 VNNI kernel, compiled for AVX-512: the shared per-row
/// quantization and per-output epilogue vectorize 16 lanes wide (the same operations in the same
/// order as everywhere, so the same bits). Never inlined: it holds the tile buffer.
#[inline(never)]
fn drive_zmm(t: Zmm, p: &Q8Panels<'_>, x: InputRows<'_>, y: &mut OutputRows<'_>) {
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    unsafe fn run(t: Zmm, p: &Q8Panels<'_>, x: InputRows<'_>, y: &mut OutputRows<'_>) {
        drive_tiles(t, p, x, y)
    }
    // SAFETY: the token inside `t` proves avx512f, avx512bw and avx512vnni.
    unsafe { run(t, p, x, y) }
}

/// [`drive_tiles`] with a ymm kernel, compiled for AVX2 (as [`drive_zmm`]).
#[inline(never)]
fn drive_ymm(t: Ymm, p: &Q8Panels<'_>, x: InputRows<'_>, y: &mut OutputRows<'_>) {
    #[target_feature(enable = "avx2")]
    unsafe fn run(t: Ymm, p: &Q8Panels<'_>, x: InputRows<'_>, y: &mut OutputRows<'_>) {
        drive_tiles(t, p, x, y)
    }
    // SAFETY: both variants of `t` hold a token that proves AVX2 (AVX-VNNI's implies it).
    unsafe { run(t, p, x, y) }
}

/// A registry entry: runs the tile kernel `$tile` through `$drive` when `$token` is detected
/// and the blob is `q8` (always, through `Transform`), the portable kernel otherwise.
macro_rules! entry {
    ($name:ident, $isa:literal, $tile:expr, $drive:ident) => {
        #[doc = concat!("The registry's entry for the `", $isa, "` `q8` kernel.")]
        pub(crate) fn $name(
            weights: &PackedWeights<'_>,
            x: InputRows<'_>,
            mut y: OutputRows<'_>,
            ws: &mut [f32],
        ) {
            match (weights, $tile) {
                (PackedWeights::Q8(p), Some(t)) => $drive(t, p, x, &mut y),
                _ => {
                    debug_assert!(false, concat!($isa, " q8 kernel without its CPU or a q8 blob"));
                    portable(weights, x, y, ws)
                }
            }
        }
    };
}

entry!(run_avx512vnni, "avx512vnni", Avx512Vnni::detect().map(Zmm), drive_zmm);
entry!(run_avxvnni, "avxvnni", AvxVnni::detect().map(Ymm::AvxVnni), drive_ymm);
entry!(run_avx2, "avx2", Avx2::detect().map(Ymm::Avx2), drive_ymm);
entry!(run_avx512, "avx512", super::Avx512::detect().map(|t| Ymm::Avx2(t.avx2())), drive_ymm);
