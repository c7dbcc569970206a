//! Bad npz/npy files never hurt: missing members, shapes, dtypes, Fortran order, huge declared
//! shapes, malformed npy headers, zip members that lie about their size, corrupt data and every
//! truncation, through `glocal::pack::npz`. Each case asserts the specific error, that nothing
//! panics, and that memory stays bounded by the input size: a counting global allocator records
//! the largest single allocation each test thread makes.
#![cfg(feature = "npz")]

use std::cell::Cell;

use glocal::pack::npy::{Npy, NpyError};
use glocal::pack::npz::{read_transform, NpzError, MAX_MEMBER_BYTES};
use glocal::pack::PackError;
use glocal_test_support::npy::{f32_bytes as f32s, f32s as f32_npy, f64_bytes as f64s, image as npy};
use glocal_test_support::npz::archive as zip_members;
use zip::CompressionMethod;

// ---------------------------------------------------------------------------------------------
// Allocation meter.

struct Meter;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    let _ = LARGEST.try_with(|m| m.set(m.get().max(size)));
}

// SAFETY: forwards every call to the system allocator unchanged; only records sizes.
unsafe impl std::alloc::GlobalAlloc for Meter {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: same contract as ours.
        unsafe { std::alloc::System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        // SAFETY: same contract as ours.
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: same contract as ours.
        unsafe { std::alloc::System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: same contract as ours.
        unsafe { std::alloc::System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static METER: Meter = Meter;

/// Runs `f` and returns its result with the largest single allocation it made on this thread.
fn largest_alloc<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|m| m.set(0));
    let out = f();
    (out, LARGEST.with(|m| m.get()))
}

const D_IN: usize = 3;
const D_OUT: usize = 4;

fn weights() -> Vec<f32> {
    (0..D_IN * D_OUT).map(|i| i as f32 * 0.5 - 2.0).collect()
}

/// Members of a valid transform.npz (weights [3, 4], bias [4], f64 mean, f32 std).
fn good_members() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("weights.npy", f32_npy(&[D_IN, D_OUT], &weights())),
        ("bias.npy", f32_npy(&[D_OUT], &[0.5, -0.5, 1.0, 0.0])),
        ("mean.npy", npy("<f8", false, "()", &f64s(&[0.25]))),
        ("std.npy", f32_npy(&[], &[2.0])),
    ]
}

fn with(replace: &str, data: Option<Vec<u8>>) -> Vec<(&'static str, Vec<u8>)> {
    let mut m: Vec<_> = good_members().into_iter().filter(|(n, _)| *n != replace).collect();
    if let Some(d) = data {
        let name = good_members().into_iter().find(|(n, _)| *n == replace).unwrap().0;
        m.push((name, d));
    }
    m
}

fn read(members: &[(&str, Vec<u8>)]) -> Result<glocal::pack::Source, NpzError> {
    let bytes = zip_members(members, CompressionMethod::Deflated);
    let (result, largest) = largest_alloc(|| read_transform(&bytes));
    // Bounded memory: no allocation larger than a small multiple of the archive.
    assert!(
        largest <= 8 * bytes.len() + 65536,
        "allocated {largest} bytes for a {}-byte archive",
        bytes.len()
    );
    // Stored (uncompressed) archives give the same answer.
    let stored = zip_members(members, CompressionMethod::Stored);
    assert_eq!(
        read_transform(&stored).map_err(|e| e.to_string()),
        result.as_ref().map(Clone::clone).map_err(|e| e.to_string())
    );
    result
}

#[test]
fn baseline_npz_reads_and_packs() {
    let s = read(&good_members()).unwrap();
    assert_eq!((s.d_in, s.d_out, s.mean, s.std), (D_IN, D_OUT, 0.25, 2.0));
    assert_eq!(s.weights, weights().iter().map(|&v| v as f64).collect::<Vec<_>>());
    assert_eq!(s.bias, Some(vec![0.5, -0.5, 1.0, 0.0]));
    // The older single-array layout: transform [d, d + 1], bias as last column.
    let t: Vec<f32> = (0..3 * 4).map(|i| i as f32).collect();
    let members = vec![
        ("transform.npy", f32_npy(&[3, 4], &t)),
        ("mean.npy", f32_npy(&[], &[0.0])),
        ("std.npy", f32_npy(&[1], &[1.0])),
    ];
    let s = read(&members).unwrap();
    assert_eq!(s.weights, vec![0.0, 1.0, 2.0, 4.0, 5.0, 6.0, 8.0, 9.0, 10.0]);
    assert_eq!(s.bias, Some(vec![3.0, 7.0, 11.0]));
}

#[test]
fn npz_without_weights() {
    match read(&with("weights.npy", None)) {
        Err(NpzError::MissingMember { member: "weights", found }) => {
            assert_eq!(found, ["bias.npy", "mean.npy", "std.npy"])
        }
        r => panic!("{r:?}"),
    }
    assert!(matches!(read(&with("mean.npy", None)), Err(NpzError::MissingMember { member: "mean", .. })));
    assert!(matches!(read(&with("std.npy", None)), Err(NpzError::MissingMember { member: "std", .. })));
    // Not a zip at all, and an empty archive.
    assert!(matches!(read_transform(b"PK\x03\x04 not really"), Err(NpzError::Zip(_))));
    assert!(matches!(read_transform(&[]), Err(NpzError::Zip(_))));
    assert!(matches!(read(&[]), Err(NpzError::MissingMember { member: "mean", .. })));
}

#[test]
fn npz_bias_is_optional() {
    let s = read(&with("bias.npy", None)).unwrap();
    assert_eq!(s.bias, None);
}

#[test]
fn wrong_shapes() {
    let cases: [(&str, Vec<usize>); 4] = [
        ("weights.npy", vec![12]),
        ("weights.npy", vec![2, 3, 2]),
        ("weights.npy", vec![1, 3, 4]),
        ("weights.npy", vec![]),
    ];
    for (member, shape) in cases {
        let n: usize = shape.iter().product();
        match read(&with(member, Some(f32_npy(&shape, &vec![1.0; n])))) {
            Err(NpzError::Shape { member: "weights", found, .. }) => assert_eq!(found, shape),
            r => panic!("weights {shape:?}: {r:?}"),
        }
    }
    // Bias of the wrong length, or 2-D.
    for shape in [vec![3usize], vec![5], vec![2, 2], vec![4, 1]] {
        let n: usize = shape.iter().product();
        match read(&with("bias.npy", Some(f32_npy(&shape, &vec![0.0; n])))) {
            Err(NpzError::Shape { member: "bias", found, .. }) => assert_eq!(found, shape),
            r => panic!("bias {shape:?}: {r:?}"),
        }
    }
    // A [1, d_out] bias is accepted (numpy keeps such shapes after keepdims).
    assert!(read(&with("bias.npy", Some(f32_npy(&[1, D_OUT], &[0.0; D_OUT])))).is_ok());
    // mean/std that are not scalars.
    for shape in [vec![2usize], vec![1, 2], vec![0]] {
        let n: usize = shape.iter().product();
        match read(&with("mean.npy", Some(f32_npy(&shape, &vec![0.0; n])))) {
            Err(NpzError::Shape { member: "mean", found, .. }) => assert_eq!(found, shape),
            r => panic!("mean {shape:?}: {r:?}"),
        }
    }
    // Old layout with the wrong column count.
    let members = vec![
        ("transform.npy", f32_npy(&[3, 3], &[0.0; 9])),
        ("mean.npy", f32_npy(&[], &[0.0])),
        ("std.npy", f32_npy(&[], &[1.0])),
    ];
    assert!(matches!(read(&members), Err(NpzError::Shape { member: "transform", .. })));
    // Zero-sized weights.
    assert!(matches!(
        read(&with("weights.npy", Some(f32_npy(&[0, 4], &[])))),
        Err(NpzError::Invalid(PackError::Dims { d_in: 0, d_out: 4 }))
    ));
}

#[test]
fn transform_layout_with_overflowing_shape_is_rejected_without_panic() {
    // Regression (fuzz finding): shape (usize::MAX, 0) declares 0 elements, so the data
    // length check passes; the column check computed `d + 1` and overflowed.
    let members = vec![
        ("transform.npy", npy("<f4", false, &format!("({}, 0)", usize::MAX), &[])),
        ("mean.npy", f32_npy(&[], &[0.0])),
        ("std.npy", f32_npy(&[], &[1.0])),
    ];
    match read(&members) {
        Err(NpzError::Shape { member: "transform", found, .. }) => assert_eq!(found, [usize::MAX, 0]),
        r => panic!("{r:?}"),
    }
}

#[test]
fn std_not_positive_or_mean_not_finite() {
    for std in [0.0f32, -0.0, -1.0, f32::NAN, f32::INFINITY] {
        match read(&with("std.npy", Some(f32_npy(&[], &[std])))) {
            Err(NpzError::Invalid(PackError::Normalisation { field: "std", value })) => {
                assert_eq!(value.to_bits(), (std as f64).to_bits())
            }
            r => panic!("std {std}: {r:?}"),
        }
    }
    for mean in [f64::NAN, f64::NEG_INFINITY] {
        assert!(matches!(
            read(&with("mean.npy", Some(npy("<f8", false, "()", &f64s(&[mean]))))),
            Err(NpzError::Invalid(PackError::Normalisation { field: "mean", .. }))
        ));
    }
}

#[test]
fn nan_or_inf_weights_and_bias() {
    for (at, bad) in [(0usize, f32::NAN), (7, f32::INFINITY), (11, f32::NEG_INFINITY)] {
        let mut w = weights();
        w[at] = bad;
        match read(&with("weights.npy", Some(f32_npy(&[D_IN, D_OUT], &w)))) {
            Err(NpzError::Invalid(PackError::NonFinite { array: "weights", row, col, value })) => {
                assert_eq!((row, col), (at / D_OUT, at % D_OUT));
                assert_eq!(value.is_nan(), bad.is_nan());
            }
            r => panic!("{r:?}"),
        }
    }
    match read(&with("bias.npy", Some(f32_npy(&[D_OUT], &[0.0, 0.0, f32::NAN, 0.0])))) {
        Err(NpzError::Invalid(PackError::NonFinite { array: "bias", row: 0, col: 2, .. })) => {}
        r => panic!("{r:?}"),
    }
}

#[test]
fn integer_bool_complex_string_object_and_structured_dtypes() {
    for descr in ["<i4", "<i8", "|u1", "|i1", "<u2", "|b1", "<c8", "<U3", "|S4", "|O", "<M8[ns]"] {
        let data = vec![0u8; 12 * 16];
        let member = npy(descr, false, "(3, 4)", &data);
        match read(&with("weights.npy", Some(member))) {
            Err(e @ NpzError::Npy { .. }) => {
                let NpzError::Npy { ref member, error: NpyError::UnsupportedDtype(ref d) } = e else {
                    panic!("{descr}: {e:?}")
                };
                assert_eq!((member.as_str(), d.as_str()), ("weights.npy", descr));
                let kind = match &descr[1..2] {
                    "i" | "u" => "integer",
                    "b" => "boolean",
                    "O" => "object",
                    "c" => "complex",
                    "U" | "S" => "string",
                    _ => "unsupported",
                };
                assert!(e.to_string().contains(kind), "{descr}: {e}");
            }
            r => panic!("{descr}: {r:?}"),
        }
    }
    let structured = "{'descr': [('a', '<f4'), ('b', '<f4')], 'fortran_order': False, 'shape': (3,), }";
    let mut member = b"\x93NUMPY\x01\x00".to_vec();
    member.extend_from_slice(&(structured.len() as u16).to_le_bytes());
    member.extend_from_slice(structured.as_bytes());
    member.extend_from_slice(&[0; 24]);
    assert!(matches!(
        read(&with("weights.npy", Some(member))),
        Err(NpzError::Npy { error: NpyError::UnsupportedDtype(ref d), .. }) if d == "structured"
    ));
}

#[test]
fn fortran_order_is_transposed_correctly() {
    // Column-major storage of the same [3, 4] matrix: element (r, c) at c * 3 + r.
    let w = weights();
    let mut col_major = vec![0.0f32; D_IN * D_OUT];
    for r in 0..D_IN {
        for c in 0..D_OUT {
            col_major[c * D_IN + r] = w[r * D_OUT + c];
        }
    }
    let member = npy("<f4", true, "(3, 4)", &f32s(&col_major));
    let s = read(&with("weights.npy", Some(member))).unwrap();
    assert_eq!(s.weights, w.iter().map(|&v| v as f64).collect::<Vec<_>>());
    // Fortran order beyond 2-D is refused by name.
    let member = npy("<f4", true, "(3, 2, 2)", &f32s(&w));
    assert!(matches!(
        read(&with("weights.npy", Some(member))),
        Err(NpzError::Npy { error: NpyError::FortranOrderNd(3), .. })
    ));
}

#[test]
fn other_float_types_and_byte_orders() {
    let w = weights();
    let be: Vec<u8> = w.iter().flat_map(|x| x.to_be_bytes()).collect();
    let s = read(&with("weights.npy", Some(npy(">f4", false, "(3, 4)", &be)))).unwrap();
    assert_eq!(s.weights, w.iter().map(|&v| v as f64).collect::<Vec<_>>());
    let f16: Vec<u8> = w.iter().flat_map(|&x| glocal::f16::from_f32(x).to_le_bytes()).collect();
    let s = read(&with("weights.npy", Some(npy("<f2", false, "(3, 4)", &f16)))).unwrap();
    assert_eq!(s.weights, w.iter().map(|&v| v as f64).collect::<Vec<_>>());
    let f64b = f64s(&w.iter().map(|&v| v as f64).collect::<Vec<_>>());
    let s = read(&with("weights.npy", Some(npy("<f8", false, "(3, 4)", &f64b)))).unwrap();
    assert_eq!(s.weights, w.iter().map(|&v| v as f64).collect::<Vec<_>>());
}

#[test]
fn huge_declared_shapes_fail_without_allocating() {
    let one_g = 1usize << 30;
    let cases: [(String, NpyError); 4] = [
        (format!("({}, {})", 1u64 << 40, 1u64 << 40), NpyError::ShapeOverflow),
        (format!("({}, {})", usize::MAX, 2), NpyError::ShapeOverflow),
        (format!("({one_g}, {one_g})"), NpyError::DataLength { declared: 1u128 << 62, found: 16 }),
        ("(3, 4)".into(), NpyError::DataLength { declared: 48, found: 16 }),
    ];
    for (shape, want) in cases {
        let bytes = npy("<f4", false, &shape, &[0u8; 16]);
        let (r, largest) = largest_alloc(|| Npy::parse(&bytes).map(|n| n.len()));
        assert_eq!(r, Err(want.clone()), "shape {shape}");
        assert!(largest < 4096, "shape {shape}: allocated {largest} bytes");
        match read(&with("weights.npy", Some(bytes))) {
            Err(NpzError::Npy { error, .. }) => assert_eq!(error, want),
            r => panic!("{shape}: {r:?}"),
        }
    }
}

#[test]
fn malformed_npy_headers() {
    let good = f32_npy(&[2], &[1.0, 2.0]);
    assert_eq!(Npy::parse(&good).unwrap().to_f64(), [1.0, 2.0]);
    // Every truncation of a valid .npy.
    for len in 0..good.len() {
        assert!(Npy::parse(&good[..len]).is_err(), "prefix {len}");
    }
    assert_eq!(Npy::parse(b"\x93NUM").err(), Some(NpyError::TruncatedHeader));
    assert_eq!(Npy::parse(b"PK\x03\x04zipzip").err(), Some(NpyError::BadMagic));
    let mut v4 = good.clone();
    v4[6] = 4;
    assert_eq!(Npy::parse(&v4).err(), Some(NpyError::UnsupportedVersion(4, 0)));
    let mut long_header = good.clone();
    long_header[8..10].copy_from_slice(&u16::MAX.to_le_bytes());
    assert_eq!(Npy::parse(&long_header).err(), Some(NpyError::TruncatedHeader));
    for (header, what) in [
        ("not a dict", "not a dictionary"),
        ("{'fortran_order': False, 'shape': (2,), }", "no 'descr'"),
        ("{'descr': '<f4', 'shape': (2,), }", "no 'fortran_order'"),
        ("{'descr': '<f4', 'fortran_order': False, }", "no 'shape'"),
        ("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,), }", "'fortran_order' is not True or False"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (two,), }", "'shape' holds a non-integer"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", "'shape' holds a non-integer"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': 2, }", "'shape' is not a tuple"),
        ("{'descr': 4, 'fortran_order': False, 'shape': (2,), }", "'descr' is not a string"),
    ] {
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend_from_slice(&(header.len() as u16).to_le_bytes());
        b.extend_from_slice(header.as_bytes());
        b.extend_from_slice(&f32s(&[1.0, 2.0]));
        assert_eq!(Npy::parse(&b).err(), Some(NpyError::MalformedHeader(what)), "{header}");
    }
    // An unterminated descr string swallows the text up to the next quote: not a float type.
    let header = "{'descr': '<f4, 'fortran_order': False, 'shape': (2,), }";
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    b.extend_from_slice(&(header.len() as u16).to_le_bytes());
    b.extend_from_slice(header.as_bytes());
    assert_eq!(Npy::parse(&b).err(), Some(NpyError::UnsupportedDtype("<f4, ".into())));
    // Non-ASCII header in version 1.
    let mut b = b"\x93NUMPY\x01\x00\x02\x00\xc3\xa9".to_vec();
    b.extend_from_slice(&[0; 4]);
    assert_eq!(Npy::parse(&b).err(), Some(NpyError::MalformedHeader("header is not ASCII")));
}

/// Offsets of the size fields of the first member in a zip image.
fn size_fields(zip: &[u8]) -> (usize, usize) {
    let local = zip.windows(4).position(|w| w == b"PK\x03\x04").unwrap();
    let central = zip.windows(4).position(|w| w == b"PK\x01\x02").unwrap();
    (local + 18, central + 20) // compressed size, then uncompressed size, 4 bytes each
}

fn patch_sizes(zip: &mut [u8], compressed: Option<u32>, uncompressed: Option<u32>) {
    let (local, central) = size_fields(zip);
    for at in [local, central] {
        if let Some(c) = compressed {
            zip[at..at + 4].copy_from_slice(&c.to_le_bytes());
        }
        if let Some(u) = uncompressed {
            zip[at + 4..at + 8].copy_from_slice(&u.to_le_bytes());
        }
    }
}

/// Zip with the `mean` member first (so its sizes are the first patched), then the rest.
fn mean_first(method: CompressionMethod) -> (Vec<u8>, u32, u32) {
    let mut members = with("mean.npy", None);
    members.insert(0, ("mean.npy", npy("<f8", false, "()", &f64s(&[0.25]))));
    let zip = zip_members(&members, method);
    let (_, central) = size_fields(&zip);
    let c = u32::from_le_bytes(zip[central..central + 4].try_into().unwrap());
    let u = u32::from_le_bytes(zip[central + 4..central + 8].try_into().unwrap());
    (zip, c, u)
}

fn read_bounded(zip: &[u8]) -> Result<glocal::pack::Source, NpzError> {
    let (r, largest) = largest_alloc(|| read_transform(zip));
    assert!(largest <= 8 * zip.len() + 65536, "allocated {largest} bytes for a {}-byte archive", zip.len());
    r
}

#[test]
fn zip_members_that_lie_about_their_size() {
    for method in [CompressionMethod::Stored, CompressionMethod::Deflated] {
        let (zip, c, u) = mean_first(method);
        assert!(read_bounded(&zip).is_ok());
        let len = zip.len() as u64;

        // Claims (far) more than the archive can hold.
        for claim in [u32::MAX, 1 << 30, (len * 2000) as u32] {
            let mut z = zip.clone();
            patch_sizes(&mut z, None, Some(claim));
            match read_bounded(&z) {
                Err(NpzError::MemberSize { member, declared, limit }) => {
                    assert_eq!((member.as_str(), declared), ("mean.npy", claim as u64), "{method:?}");
                    assert!(limit < declared);
                }
                r => panic!("{method:?} claim {claim}: {r:?}"),
            }
        }
        // Claims a huge compressed size too (regression: the compressed size was trusted
        // in the expansion bound, allowing a 1 GiB reservation for a tiny archive).
        let mut z = zip.clone();
        patch_sizes(&mut z, Some(u32::MAX - 1), Some((MAX_MEMBER_BYTES - 1) as u32));
        match read_bounded(&z) {
            Err(NpzError::MemberSize { member, declared, limit }) => {
                assert_eq!((member.as_str(), declared), ("mean.npy", MAX_MEMBER_BYTES - 1));
                assert!(limit <= len * 1100, "{limit}");
            }
            r => panic!("{method:?}: {r:?}"),
        }
        // Claims a little more or less than it holds: the short or long read is caught.
        for claim in [u - 1, u + 1, u + 100, 0] {
            let mut z = zip.clone();
            patch_sizes(&mut z, None, Some(claim));
            match read_bounded(&z) {
                Err(NpzError::MemberRead { member, .. }) => assert_eq!(member, "mean.npy"),
                Err(NpzError::Npy { member, .. }) => assert_eq!(member, "mean.npy"),
                r => panic!("{method:?} claim {claim} (holds {u}): {r:?}"),
            }
        }
        // Compressed size that runs past the end of the archive or is too short. A deflate
        // stream ends itself, so a deflated member may still read correctly (its CRC-32 and
        // exact length are verified); a stored member cannot.
        for claim in [c + 1, c - 1, c + 1_000_000] {
            let mut z = zip.clone();
            patch_sizes(&mut z, Some(claim), None);
            match read_bounded(&z) {
                Ok(s) if method == CompressionMethod::Deflated && claim > c => assert_eq!(s.mean, 0.25),
                Err(NpzError::Zip(_) | NpzError::MemberRead { .. } | NpzError::MemberSize { .. }) => {}
                r => panic!("{method:?} compressed claim {claim} (holds {c}): {r:?}"),
            }
        }
    }
}

#[test]
fn corrupt_member_data_is_a_read_error() {
    for method in [CompressionMethod::Stored, CompressionMethod::Deflated] {
        let (zip, _, _) = mean_first(method);
        // Flip a byte inside the first member's data (after its 30-byte header and name).
        let local = zip.windows(4).position(|w| w == b"PK\x03\x04").unwrap();
        let at = local + 30 + "mean.npy".len() + 20;
        let mut z = zip.clone();
        z[at] ^= 0x40;
        let r = read_bounded(&z);
        assert!(
            matches!(r, Err(NpzError::MemberRead { ref member, .. } | NpzError::Npy { ref member, .. }) if member == "mean.npy"),
            "{method:?}: {r:?}"
        );
    }
}

#[test]
fn every_truncation_of_an_npz_is_an_error() {
    let zip = zip_members(&good_members(), CompressionMethod::Deflated);
    for len in 0..zip.len() {
        let r = read_bounded(&zip[..len]);
        assert!(r.is_err(), "prefix {len} of {}", zip.len());
    }
}

/// Features from a quantized pipeline: `Npy::parse_features` reads int8 and uint8 (as the
/// stored integers, in either storage order), `Npy::parse` (transforms) still refuses them,
/// and other integer types stay refused by both.
#[test]
fn int8_and_uint8_features_only_through_parse_features() {
    let data = [0x80u8, 0xff, 0x00, 0x01, 0x7f, 0x05];
    for (descr, want) in [
        ("|i1", [-128.0, -1.0, 0.0, 1.0, 127.0, 5.0]),
        ("b", [-128.0, -1.0, 0.0, 1.0, 127.0, 5.0]),
        ("|u1", [128.0, 255.0, 0.0, 1.0, 127.0, 5.0]),
        ("B", [128.0, 255.0, 0.0, 1.0, 127.0, 5.0]),
    ] {
        let c_order = npy(descr, false, "(2, 3)", &data);
        assert_eq!(Npy::parse(&c_order).err(), Some(NpyError::UnsupportedDtype(descr.into())));
        let n = Npy::parse_features(&c_order).unwrap_or_else(|e| panic!("{descr}: {e}"));
        assert!(n.dtype.is_integer() && n.dtype.size() == 1, "{descr}: {:?}", n.dtype);
        assert_eq!((n.shape.as_slice(), n.to_f64()), (&[2, 3][..], want.to_vec()), "{descr}");
        // The same array stored column-major: the same values in C order.
        let fortran: Vec<u8> = (0..6).map(|s| data[(s % 2) * 3 + s / 2]).collect();
        let fortran = npy(descr, true, "(2, 3)", &fortran);
        let f = Npy::parse_features(&fortran).unwrap();
        assert_eq!(f.to_f64(), want.to_vec(), "{descr} Fortran order");
    }
    for descr in ["<i2", "<u2", "<i4", "|b1"] {
        let member = npy(descr, false, "(2,)", &[0u8; 8][..2 * descr[2..].parse::<usize>().unwrap_or(1)]);
        assert_eq!(
            Npy::parse_features(&member).err(),
            Some(NpyError::UnsupportedDtype(descr.into())),
            "{descr}"
        );
    }
}
