//! [`QuantizedRows`]: int8 or uint8 input rows with a scale and a zero point, as quantized
//! pipelines (TFLite Micro, Ethos-U, NPUs) produce embeddings.
//!
//! Element `q` stands for the real value `scale * (q - zero_point)`, computed as
//! `((q - zero_point) as f32) * scale`: the difference is an integer of at most 9 bits (exact in
//! f32), so the product is the only rounding, and every kernel sees the same bits
//! ([`QuantizedRows::dequantize`] gives them). The conversion happens where the kernels' drivers
//! widen 16-bit inputs (`kernel/io.rs`, `kernel/arm/mod.rs`), never in a hot loop, by one
//! function for both element types (`Dequant::byte`).

#![forbid(unsafe_code)]

use core::ops::RangeInclusive;

use crate::error::Error;

/// Input rows of int8 or uint8 elements with their quantization parameters, for
/// [`Transform::apply_quantized`](crate::Transform::apply_quantized).
///
/// Built unchecked (`const` constructors); the apply call checks the parameters: `scale`
/// must be finite and positive ([`Error::BadInputScale`]) and `zero_point` within the element
/// type's range, `-128..=127` for int8 and `0..=255` for uint8, as TFLite defines them
/// ([`Error::BadInputZeroPoint`]).
///
/// ```
/// use glocal::QuantizedRows;
/// let q = [-128i8, 0, 5, 127];
/// let x = QuantizedRows::i8(&q, 0.5, 1);
/// assert_eq!(x.dequantize(0), Some(-64.5)); // 0.5 * (-128 - 1)
/// assert_eq!(x.dequantize(3), Some(63.0));
/// assert_eq!(x.dequantize(4), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QuantizedRows<'a> {
    pub(crate) data: QuantizedData<'a>,
    pub(crate) scale: f32,
    pub(crate) zero_point: i32,
}

/// The elements of [`QuantizedRows`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum QuantizedData<'a> {
    I8(&'a [i8]),
    U8(&'a [u8]),
}

/// The parameters of a dequantization, as the kernels' drivers carry them with the raw bytes
/// of the elements: one formula for every path and both element types ([`Dequant::byte`]).
///
/// Eight bytes (the zero point of a validated [`QuantizedRows`] fits an `i16`), so it adds
/// little to the inputs' value and the Cortex-M drivers pass it in registers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Dequant {
    pub(crate) scale: f32,
    pub(crate) zero_point: i16,
    /// int8 elements (else uint8).
    pub(crate) signed: bool,
}

impl Dequant {
    /// The element whose byte is `b`, dequantized: `((q - zero_point) as f32) * scale` with
    /// `q = b as i8` for int8 and `q = b` for uint8. The difference is exact in i32 and in f32
    /// for a validated zero point (at most 255 in magnitude), so the product is the one
    /// rounding. Both element types in one branch-free formula (a uint8 with its top bit
    /// flipped, read as int8, is `b - 128`), so the drivers hold one conversion loop, not two.
    /// `wrapping_*` only keeps overflow panic paths out of the binary.
    #[inline(always)]
    pub(crate) fn byte(self, b: u8) -> f32 {
        let flip: u8 = if self.signed { 0 } else { 0x80 };
        let q = ((b ^ flip) as i8 as i32).wrapping_add(flip as i32);
        (q.wrapping_sub(self.zero_point as i32) as f32) * self.scale
    }
}

impl<'a> QuantizedRows<'a> {
    /// int8 rows: element `q` stands for `scale * (q - zero_point)`.
    pub const fn i8(data: &'a [i8], scale: f32, zero_point: i32) -> Self {
        QuantizedRows { data: QuantizedData::I8(data), scale, zero_point }
    }

    /// uint8 rows: element `q` stands for `scale * (q - zero_point)`.
    pub const fn u8(data: &'a [u8], scale: f32, zero_point: i32) -> Self {
        QuantizedRows { data: QuantizedData::U8(data), scale, zero_point }
    }

    /// Number of elements (all rows).
    pub const fn len(&self) -> usize {
        match self.data {
            QuantizedData::I8(s) => s.len(),
            QuantizedData::U8(s) => s.len(),
        }
    }

    /// Whether there are no elements.
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The scale.
    pub const fn scale(&self) -> f32 {
        self.scale
    }

    /// The zero point.
    pub const fn zero_point(&self) -> i32 {
        self.zero_point
    }

    /// The zero points the element type allows: `-128..=127` for int8, `0..=255` for uint8.
    pub const fn zero_point_range(&self) -> RangeInclusive<i32> {
        match self.data {
            QuantizedData::I8(_) => -128..=127,
            QuantizedData::U8(_) => 0..=255,
        }
    }

    /// Element `i` dequantized exactly as every kernel sees it, `((q - zero_point) as f32) *
    /// scale` (one f32 rounding), or `None` past the end or when the scale or zero point would
    /// be refused (see the type's documentation).
    pub fn dequantize(&self, i: usize) -> Option<f32> {
        self.check().ok()?;
        Some(self.dequant().byte(*self.bytes().get(i)?))
    }

    /// The elements' bytes (an int8 as its two's complement byte), as the drivers read them.
    pub(crate) fn bytes(&self) -> &'a [u8] {
        match self.data {
            QuantizedData::I8(s) => bytemuck::cast_slice(s),
            QuantizedData::U8(s) => s,
        }
    }

    /// The parameters as the drivers carry them, once [`QuantizedRows::check`] passed (the
    /// zero point then fits an `i16`).
    pub(crate) const fn dequant(&self) -> Dequant {
        let signed = matches!(self.data, QuantizedData::I8(_));
        Dequant { scale: self.scale, zero_point: self.zero_point as i16, signed }
    }

    /// `Ok` if the scale is finite and positive and the zero point in range: the check every
    /// apply call makes first, for callers that validate the parameters up front.
    ///
    /// # Errors
    /// [`Error::BadInputScale`] or [`Error::BadInputZeroPoint`].
    pub fn check(&self) -> Result<(), Error> {
        if !(self.scale.is_finite() && self.scale > 0.0) {
            return Err(Error::BadInputScale { value: self.scale });
        }
        let range = self.zero_point_range();
        if !range.contains(&self.zero_point) {
            return Err(Error::BadInputZeroPoint {
                value: self.zero_point,
                min: *range.start(),
                max: *range.end(),
            });
        }
        Ok(())
    }
}
