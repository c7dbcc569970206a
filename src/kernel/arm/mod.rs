//! Kernels for 32-bit Arm, and the element conversions their drivers share: they read inputs
//! and write outputs as bytes of a run-time [`Kind`], so each driver is compiled once.

#![allow(unsafe_code)]

use half::{bf16, f16};

use super::io::{InKind, Kind};

#[cfg(glocal_cortex_m_fpu)]
pub(crate) mod cortex_m;
#[cfg(glocal_helium)]
pub(crate) mod helium;

extern "C" {
    /// `dst[i] = src[i]` widened from f16 for `i < n` (exact). The ISA's own routine: the
    /// Helium one under tail predication, the FPv4 one with `VCVTB/VCVTT` otherwise.
    #[cfg_attr(glocal_helium, link_name = "__glocal_mve_f16_to_f32")]
    #[cfg_attr(not(glocal_helium), link_name = "__glocal_cm_f16_to_f32")]
    fn f16_to_f32(dst: *mut f32, src: *const u8, n: usize);
}

/// Widens `src` (elements of `kind`, little-endian bytes) into the front of `dst`; quantized
/// elements are dequantized by the one formula of every path (`Dequant::byte`).
pub(super) fn widen(kind: InKind, src: &[u8], dst: &mut [f32]) {
    let n = (src.len() / kind.size()).min(dst.len());
    match kind.kind {
        Kind::F16 => {
            // SAFETY: reads `n` halves from `src` (2-byte aligned: it is an `&[f16]`; both
            // routines need no more) and writes `n <= dst.len()` f32 to `dst` (4-byte aligned
            // by type). Each follows its AAPCS variant and touches no other memory.
            unsafe { f16_to_f32(dst.as_mut_ptr(), src.as_ptr(), n) }
        }
        Kind::Bf16 => {
            for (d, s) in dst.iter_mut().zip(src.chunks_exact(2)) {
                *d = f32::from_bits((u16::from_le_bytes([s[0], s[1]]) as u32) << 16);
            }
        }
        Kind::F32 => {
            for (d, s) in dst.iter_mut().zip(src.chunks_exact(4)) {
                *d = f32::from_le_bytes([s[0], s[1], s[2], s[3]]);
            }
        }
        Kind::Q8 => {
            let q = kind.dequant();
            dst.iter_mut().zip(src).for_each(|(d, &s)| *d = q.byte(s));
        }
    }
}

/// Writes `acc[..dst.len() / size]` into `dst` as elements of `kind` (rounded to nearest even).
pub(super) fn store(kind: Kind, acc: &[f32], dst: &mut [u8]) {
    match kind {
        Kind::F32 => dst.chunks_exact_mut(4).zip(acc).for_each(|(d, a)| d.copy_from_slice(&a.to_le_bytes())),
        Kind::F16 => dst
            .chunks_exact_mut(2)
            .zip(acc)
            .for_each(|(d, &a)| d.copy_from_slice(&f16::from_f32(a).to_le_bytes())),
        Kind::Bf16 => dst
            .chunks_exact_mut(2)
            .zip(acc)
            .for_each(|(d, &a)| d.copy_from_slice(&bf16::from_f32(a).to_le_bytes())),
        // Input kinds only: outputs are never quantized.
        Kind::Q8 => {}
    }
}

/// Element `i` of `src` (elements of `kind`, little-endian bytes) widened to f32, if present.
/// Through [`widen`], so f16 has one conversion routine (the `i8d` epilogues' diagonal inputs).
pub(super) fn element(kind: InKind, src: &[u8], i: usize) -> Option<f32> {
    let n = kind.size();
    let mut v = [0f32];
    widen(kind, src.get(i * n..i * n + n)?, &mut v);
    let [v] = v;
    Some(v)
}
