//! Helpers shared by glocal's tests (`tests/`, `cli/tests/`), benchmarks (`benches/`) and the
//! fuzz seed generator (`fuzz/seedgen`): one of each instead of a copy per suite.
//!
//! - [`npy`]: `.npy` images with any dtype, order and shape (also invalid ones, for the
//!   malformed-input tests);
//! - [`npz`]: `.npz` archives (zip) of named members;
//! - [`Rng`]: a small deterministic generator for test data.

pub mod npy {
    //! `.npy` images (format version 1.0), as numpy writes them: the header padded with spaces
    //! and a newline so the data starts at a multiple of 64 bytes.

    /// An `.npy` image with a free-form `descr`, order and shape text (the shape as numpy prints
    /// it, see [`shape_text`]; anything, for malformed headers) followed by `data` as is.
    pub fn image(descr: &str, fortran: bool, shape: &str, data: &[u8]) -> Vec<u8> {
        let order = if fortran { "True" } else { "False" };
        let mut header = format!("{{'descr': '{descr}', 'fortran_order': {order}, 'shape': {shape}, }}");
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let len = u16::try_from(header.len()).expect("npy header longer than 65535 bytes");
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out
    }

    /// A shape as numpy prints it: `()`, `(3,)`, `(2, 3)`.
    pub fn shape_text(shape: &[usize]) -> String {
        match shape {
            [] => "()".to_string(),
            [n] => format!("({n},)"),
            _ => format!("({})", shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")),
        }
    }

    /// A C-order image of `descr` values given as raw little- or big-endian bytes.
    pub fn array(descr: &str, shape: &[usize], data: &[u8]) -> Vec<u8> {
        image(descr, false, &shape_text(shape), data)
    }

    /// Little-endian bytes of f32 values.
    pub fn f32_bytes(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    /// Little-endian bytes of f64 values.
    pub fn f64_bytes(v: &[f64]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    /// A C-order `<f4` image.
    pub fn f32s(shape: &[usize], v: &[f32]) -> Vec<u8> {
        array("<f4", shape, &f32_bytes(v))
    }

    /// A C-order `<f8` image.
    pub fn f64s(shape: &[usize], v: &[f64]) -> Vec<u8> {
        array("<f8", shape, &f64_bytes(v))
    }

    /// A 0-d `<f8` scalar, as numpy writes `np.float64(v)`.
    pub fn f64_scalar(v: f64) -> Vec<u8> {
        f64s(&[], &[v])
    }
}

pub mod npz {
    //! `.npz` archives: zip files of named members.

    use std::io::{Cursor, Write};

    pub use zip::CompressionMethod;

    /// A zip archive of `members` (name, bytes), each compressed with `method`.
    pub fn archive(members: &[(&str, Vec<u8>)], method: CompressionMethod) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default().compression_method(method);
        for (name, data) in members {
            zip.start_file(*name, options).expect("zip member");
            zip.write_all(data).expect("zip write");
        }
        zip.finish().expect("zip finish").into_inner()
    }
}

/// A deterministic xorshift64* generator for test data: no dependency, the same stream on every
/// platform and in every run.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed` (any value, 0 included).
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `[-a, a)`.
    pub fn uniform(&mut self, a: f64) -> f64 {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) * a
    }

    /// Uniform in `[-1, 1)`.
    pub fn unit(&mut self) -> f64 {
        self.uniform(1.0)
    }

    /// An integer in `[lo, hi]`.
    pub fn int_in(&mut self, lo: i64, hi: i64) -> i64 {
        assert!(lo <= hi, "empty range {lo}..={hi}");
        lo + (self.next_u64() % (hi - lo + 1) as u64) as i64
    }

    /// `n` values uniform in `[-a, a)`.
    pub fn uniform_vec(&mut self, n: usize, a: f64) -> Vec<f64> {
        (0..n).map(|_| self.uniform(a)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_header_is_64_byte_aligned_and_shapes_read_as_numpy_prints_them() {
        for shape in [&[][..], &[3], &[2, 3], &[1, 2, 3]] {
            let img = npy::f32s(shape, &vec![0.5; shape.iter().product()]);
            let hl = u16::from_le_bytes([img[8], img[9]]) as usize;
            assert_eq!((10 + hl) % 64, 0);
            assert!(img.ends_with(&0.5f32.to_le_bytes()) || shape.contains(&0));
        }
        assert_eq!(npy::shape_text(&[]), "()");
        assert_eq!(npy::shape_text(&[7]), "(7,)");
        assert_eq!(npy::shape_text(&[2, 3]), "(2, 3)");
    }

    #[test]
    fn rng_is_deterministic_and_in_range() {
        let (mut a, mut b) = (Rng::new(5), Rng::new(5));
        for _ in 0..1000 {
            let (x, y) = (a.uniform(2.0), b.uniform(2.0));
            assert_eq!(x, y);
            assert!((-2.0..2.0).contains(&x));
            let k = a.int_in(-3, 4);
            assert!((-3..=4).contains(&k));
            b.int_in(-3, 4);
        }
        assert_ne!(Rng::new(1).next_u64(), Rng::new(2).next_u64());
    }
}
