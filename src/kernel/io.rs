//! The kernels' edges: inputs and outputs of any element type as one value each.
//!
//! `Transform::apply` is generic over its input and output element types (f32, f16, bf16), and
//! `Transform::apply_quantized` takes int8/uint8 inputs with a scale and zero point; the
//! kernels are generic over neither. [`InputRows`] and [`OutputRows`] carry the element type as
//! data, so every loop nest is compiled once per ISA and weight dtype, and the element
//! conversion happens where the driver copies inputs into its buffers and stores finished rows,
//! never in a hot loop; quantized inputs are dequantized there by one formula
//! ([`Dequant::byte`]), so every kernel sees the same f32 inputs. f32 inputs are still read in
//! place and f32 outputs stored straight from the registers ([`InputRows::as_f32`],
//! [`OutputRows::f32_ptr`]).

#![allow(unsafe_code)]

use core::any::TypeId;
use core::marker::PhantomData;

use half::{bf16, f16};

use crate::dtype::Element;
use crate::quantized::{Dequant, QuantizedRows};

/// The element type of an input or output slice. `Q8` (int8 or uint8 bytes, quantized; the
/// parameters travel beside it, [`InKind`]) is an input kind only: outputs are f32, f16 or bf16.
///
/// One byte with no data, so that the Cortex-M drivers keep it in a register; the values are
/// chosen so that [`Kind::size`] is a shift, `1 << (kind & 3)`, not a lookup table per call site.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Kind {
    F32 = 2,
    F16 = 1,
    Bf16 = 5,
    // Read by the Cortex-M drivers (`InputRows::kind`); the others match on `InputRows`.
    #[cfg_attr(not(glocal_cortex_m), allow(dead_code))]
    Q8 = 0,
}

/// An input's element type as the Cortex-M drivers read its bytes: the kind, and for `Q8` the
/// dequantization (ignored for the other kinds). [`Dequant`]'s fields beside the kind rather
/// than a `Dequant` inside: eight bytes, passed in two registers, no frame space.
#[cfg(glocal_cortex_m)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct InKind {
    pub(crate) kind: Kind,
    signed: bool,
    zero_point: i16,
    scale: f32,
}

#[cfg(glocal_cortex_m)]
impl InKind {
    /// A float kind.
    #[inline(always)]
    const fn float(kind: Kind) -> InKind {
        InKind { kind, signed: true, zero_point: 0, scale: 1.0 }
    }

    /// Bytes per element.
    #[inline(always)]
    pub(crate) fn size(self) -> usize {
        self.kind.size()
    }

    /// The dequantization of `Q8` inputs.
    #[inline(always)]
    pub(crate) fn dequant(self) -> Dequant {
        Dequant { scale: self.scale, zero_point: self.zero_point, signed: self.signed }
    }
}

impl Kind {
    /// The kind of `E` (decided at compile time).
    #[inline(always)]
    pub(crate) fn of<E: Element>() -> Kind {
        if TypeId::of::<E>() == TypeId::of::<f32>() {
            Kind::F32
        } else if TypeId::of::<E>() == TypeId::of::<f16>() {
            Kind::F16
        } else {
            debug_assert!(TypeId::of::<E>() == TypeId::of::<bf16>(), "Element is sealed: f32, f16, bf16");
            Kind::Bf16
        }
    }

    /// Bytes per element.
    #[inline(always)]
    pub(crate) const fn size(self) -> usize {
        // F32 (2) -> 4, F16 (1) and Bf16 (5) -> 2, Q8 (0) -> 1.
        1 << (self as u8 & 3)
    }
}

/// Input rows, row-major, of any element type.
#[derive(Clone, Copy, Debug)]
pub(crate) enum InputRows<'a> {
    F32(&'a [f32]),
    F16(&'a [f16]),
    Bf16(&'a [bf16]),
    /// int8 or uint8 elements (their bytes), dequantized as they are read.
    Q8(&'a [u8], Dequant),
}

// The Cortex-M drivers read bytes: without the portable kernels the f32 helpers go unused.
#[cfg_attr(not(glocal_portable), allow(dead_code))]
impl<'a> InputRows<'a> {
    /// `x` as input rows.
    #[inline(always)]
    pub(crate) fn of<I: Element>(x: &'a [I]) -> InputRows<'a> {
        // Element is sealed to these three Pod types, so each cast is between identical types
        // and cannot fail; the empty fallback keeps the function total without a panic path.
        match Kind::of::<I>() {
            Kind::F32 => InputRows::F32(bytemuck::try_cast_slice(x).unwrap_or_default()),
            Kind::F16 => InputRows::F16(bytemuck::try_cast_slice(x).unwrap_or_default()),
            // Bf16 (`Kind::of` never gives the quantized kinds).
            _ => InputRows::Bf16(bytemuck::try_cast_slice(x).unwrap_or_default()),
        }
    }

    /// Quantized rows (parameters checked by the caller).
    #[inline(always)]
    pub(crate) fn quantized(x: QuantizedRows<'a>) -> InputRows<'a> {
        InputRows::Q8(x.bytes(), x.dequant())
    }

    /// Number of elements.
    #[inline(always)]
    pub(crate) fn len(&self) -> usize {
        match self {
            InputRows::F32(s) => s.len(),
            InputRows::F16(s) => s.len(),
            InputRows::Bf16(s) => s.len(),
            InputRows::Q8(s, _) => s.len(),
        }
    }

    /// The elements as little-endian bytes and their type (the Cortex-M drivers read them so).
    #[cfg(glocal_cortex_m)]
    #[inline(always)]
    pub(crate) fn bytes_and_kind(&self) -> (&'a [u8], InKind) {
        match *self {
            InputRows::F32(s) => (bytemuck::cast_slice(s), InKind::float(Kind::F32)),
            InputRows::F16(s) => (bytemuck::cast_slice(s), InKind::float(Kind::F16)),
            InputRows::Bf16(s) => (bytemuck::cast_slice(s), InKind::float(Kind::Bf16)),
            InputRows::Q8(s, q) => {
                let Dequant { scale, zero_point, signed } = q;
                (s, InKind { kind: Kind::Q8, signed, zero_point, scale })
            }
        }
    }

    /// The elements as f32 when they are f32 (read in place, no copy).
    #[inline(always)]
    pub(crate) fn as_f32(&self) -> Option<&'a [f32]> {
        match *self {
            InputRows::F32(s) => Some(s),
            _ => None,
        }
    }

    /// Element `i` widened to f32 (exact; quantized elements dequantized), if it exists.
    #[inline(always)]
    pub(crate) fn get(&self, i: usize) -> Option<f32> {
        match self {
            InputRows::F32(s) => s.get(i).copied(),
            InputRows::F16(s) => s.get(i).map(|v| v.to_f32()),
            InputRows::Bf16(s) => s.get(i).map(|v| v.to_f32()),
            InputRows::Q8(s, d) => s.get(i).map(|&v| d.byte(v)),
        }
    }

    /// Elements `start ..` widened to f32 into `dst` (as many as both hold; quantized ones
    /// dequantized, [`Dequant::byte`]), each times `scales[i]` when given (the `i8d` input
    /// scaling: one f32 rounding, as the portable `i8d` kernel forms `x * scale`). Once per
    /// chunk of inputs, outside the hot loops: not inlined, so its element types are not
    /// compiled into every loop nest.
    #[inline(never)]
    pub(crate) fn widen_into(&self, dst: &mut [f32], start: usize, scales: Option<&[f32]>) {
        fn go<E: Copy>(dst: &mut [f32], src: &[E], f: impl Fn(E) -> f32, scales: Option<&[f32]>) {
            match scales {
                None => dst.iter_mut().zip(src).for_each(|(d, &s)| *d = f(s)),
                Some(sc) => dst.iter_mut().zip(src).zip(sc).for_each(|((d, &s), c)| *d = f(s) * c),
            }
        }
        let n = dst.len();
        debug_assert!(start + n <= self.len(), "widen_into: {start} + {n} past {} inputs", self.len());
        match *self {
            InputRows::F32(s) => go(dst, s.get(start..).unwrap_or(&[]), |v| v, scales),
            InputRows::F16(s) => go(dst, s.get(start..).unwrap_or(&[]), f16::to_f32, scales),
            InputRows::Bf16(s) => go(dst, s.get(start..).unwrap_or(&[]), bf16::to_f32, scales),
            InputRows::Q8(s, d) => go(dst, s.get(start..).unwrap_or(&[]), |v| d.byte(v), scales),
        }
    }
}

/// Output rows, row-major, of any element type: a mutable borrow held as a raw pointer, so the
/// SIMD tiles' direct f32 stores ([`OutputRows::f32_ptr`]) and the epilogue's converting stores
/// ([`OutputRows::store`]) all go through one pointer and no reference to the outputs outlives
/// a write through another.
#[derive(Debug)]
pub(crate) struct OutputRows<'a> {
    ptr: *mut u8,
    len: usize,
    kind: Kind,
    _borrow: PhantomData<&'a mut [u8]>,
}

// Direct stores and prefetch hints are the SIMD drivers'; the Cortex-M drivers write bytes.
#[cfg_attr(not(any(target_arch = "x86_64", target_arch = "aarch64")), allow(dead_code))]
impl<'a> OutputRows<'a> {
    /// `y` as output rows, borrowed mutably for `'a`.
    #[inline(always)]
    pub(crate) fn of<O: Element>(y: &'a mut [O]) -> OutputRows<'a> {
        OutputRows { ptr: y.as_mut_ptr().cast(), len: y.len(), kind: Kind::of::<O>(), _borrow: PhantomData }
    }

    /// Number of elements.
    #[inline(always)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The element type.
    #[cfg(glocal_cortex_m)]
    #[inline(always)]
    pub(crate) fn kind(&self) -> Kind {
        self.kind
    }

    /// The outputs as a pointer to `len()` f32, when they are f32, for stores straight from
    /// registers (the caller keeps them within `len()` elements).
    #[inline(always)]
    pub(crate) fn f32_ptr(&mut self) -> Option<*mut f32> {
        (self.kind == Kind::F32).then_some(self.ptr.cast())
    }

    /// The address of element `i` (for prefetch hints; never dereferenced by the caller).
    #[inline(always)]
    pub(crate) fn hint_addr(&self, i: usize) -> *const u8 {
        self.ptr.wrapping_add(i * self.kind.size())
    }

    /// The outputs as little-endian bytes (the Cortex-M drivers write them so).
    #[cfg(glocal_cortex_m)]
    #[inline(always)]
    pub(crate) fn as_bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: `ptr` and `len` come from a `&'a mut [O]` that this value borrows (so the
        // memory is valid, initialised and not aliased for as long as `self` is borrowed here);
        // every `Element` is plain old data without padding and every bit pattern is valid, so
        // the bytes may be read and written freely.
        unsafe { core::slice::from_raw_parts_mut(self.ptr, self.len * self.kind.size()) }
    }

    /// [`OutputRows::store`] of the first `cols` of a panel's 16 accumulators, with a full f32
    /// panel (the common case) copied inline rather than through the converting call.
    #[inline(always)]
    pub(crate) fn store_panel(&mut self, start: usize, acc: &[f32; 16], cols: usize) {
        if self.kind == Kind::F32 && cols == 16 && start + 16 <= self.len {
            // SAFETY: elements start .. start + 16 lie inside the `len` f32 of the borrowed
            // slice (checked just above); the slice lives only for this statement, during which
            // no other pointer to the outputs is used.
            let dst = unsafe { core::slice::from_raw_parts_mut(self.ptr.cast::<f32>().add(start), 16) };
            dst.copy_from_slice(acc);
        } else {
            self.store(start, acc.get(..cols).unwrap_or(&[]));
        }
    }

    /// Rounds `acc` into elements `start .. start + acc.len()` (as many as exist). Once per
    /// finished row of a panel: not inlined, so its three element types are not compiled into
    /// every loop nest.
    #[inline(never)]
    pub(crate) fn store(&mut self, start: usize, acc: &[f32]) {
        fn go<E: Element>(dst: &mut [E], acc: &[f32]) {
            dst.iter_mut().zip(acc).for_each(|(d, &a)| *d = E::from_f32(a));
        }
        debug_assert!(
            start + acc.len() <= self.len,
            "store: {start} + {} past {} outputs",
            acc.len(),
            self.len
        );
        let n = acc.len().min(self.len.saturating_sub(start));
        if n == 0 {
            return;
        }
        // SAFETY: elements start .. start + n lie inside the `len` elements of the borrowed
        // slice (n <= len - start); the slice made here lives only for this call, during which
        // no other pointer to the outputs is used.
        unsafe {
            let at = self.ptr.add(start * self.kind.size());
            match self.kind {
                Kind::F32 => go(core::slice::from_raw_parts_mut(at.cast::<f32>(), n), acc),
                Kind::F16 => go(core::slice::from_raw_parts_mut(at.cast::<f16>(), n), acc),
                Kind::Bf16 => go(core::slice::from_raw_parts_mut(at.cast::<bf16>(), n), acc),
                // Not output kinds (`OutputRows::of` takes f32, f16 or bf16 only).
                Kind::Q8 => debug_assert!(false, "store: quantized output kind"),
            }
        }
    }
}
