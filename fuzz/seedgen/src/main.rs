//! Writes seed corpora for the fuzz targets into `<out>/<target>/`:
//! synthetic blobs, npz archives and npy arrays of edge shapes, plus blobs and archives
//! derived from the real gLocal transforms in `<shared>` when it is present.
//!
//! Usage: `glocal-fuzz-seedgen <out dir> <shared dir>`. Nothing it writes is committed.

use std::path::{Path, PathBuf};

use glocal::pack::{self, npy, npz, Source};
use glocal::WeightDtype;
use glocal_test_support::npy::{f64_scalar as npy_f64_scalar, image as npy_image};
use glocal_test_support::npz as test_npz;
use zip::CompressionMethod;

fn put(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::create_dir_all(dir).expect("create corpus dir");
    std::fs::write(dir.join(name), bytes).expect("write seed");
}

fn synthetic(d_in: usize, d_out: usize, bias: bool) -> Source {
    Source {
        d_in,
        d_out,
        weights: (0..d_in * d_out).map(|i| ((i * 37) % 101) as f64 / 50.0 - 1.0).collect(),
        bias: bias.then(|| (0..d_out).map(|j| j as f64 / 16.0 - 0.5).collect()),
        mean: 0.125,
        std: 0.75,
    }
}

fn npz_of(s: &Source, method: CompressionMethod) -> Vec<u8> {
    let f32s = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<_>>();
    let mut members = vec![("weights.npy", npy::write_f32(&[s.d_in, s.d_out], &f32s(&s.weights)))];
    if let Some(b) = &s.bias {
        members.push(("bias.npy", npy::write_f32(&[s.d_out], &f32s(b))));
    }
    members.push(("mean.npy", npy_f64_scalar(s.mean)));
    members.push(("std.npy", npy::write_f32(&[], &[s.std as f32])));
    test_npz::archive(&members, method)
}

fn blob_seeds(dir: &Path, tag: &str, s: &Source) {
    for dtype in WeightDtype::ALL {
        match pack::pack(s, dtype, tag, "seed") {
            Ok(blob) => {
                for mode in [0u8, 1] {
                    let mut seed = vec![mode];
                    seed.extend_from_slice(blob.as_bytes());
                    put(dir, &format!("{tag}_{dtype}_{mode}"), &seed);
                }
            }
            Err(e) => eprintln!("seedgen: {tag} {dtype}: {e}"),
        }
    }
}

fn zip_of(members: &[(&str, Vec<u8>)]) -> Vec<u8> {
    test_npz::archive(members, CompressionMethod::Stored)
}

/// Writes the fixtures of `.ci/steps/81-malformed-tools.sh` into `dir`: `good_*` files that
/// must work, `bad_*` files each of which must be refused with a one-line error.
fn malformed(dir: &Path) {
    let s = synthetic(3, 5, true);
    let blob = pack::pack(&s, WeightDtype::F16, "fixture", "malformed").unwrap();
    let good = blob.as_bytes();
    put(dir, "good.glw", good);
    let f32b = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let members = |w: Vec<u8>| {
        vec![
            ("weights.npy", w),
            ("bias.npy", npy::write_f32(&[5], &[0.0; 5])),
            ("mean.npy", npy::write_f32(&[], &[0.0])),
            ("std.npy", npy::write_f32(&[], &[1.0])),
        ]
    };
    let w: Vec<f32> = s.weights.iter().map(|&v| v as f32).collect();
    put(dir, "good.npz", &zip_of(&members(npy::write_f32(&[3, 5], &w))));
    put(dir, "good_features.npy", &npy::write_f32(&[4, 3], &[0.5; 12]));
    let mut nan = vec![0.5f32; 12];
    nan[4] = f32::NAN;
    put(dir, "good_features_nan_row.npy", &npy::write_f32(&[4, 3], &nan));

    // Blobs.
    put(dir, "bad_blob_truncated.glw", &good[..good.len() - 1]);
    put(dir, "bad_blob_header_only.glw", &good[..100]);
    let mut long = good.to_vec();
    long.extend_from_slice(&[0; 64]);
    put(dir, "bad_blob_overlong.glw", &long);
    let mut flip = good.to_vec();
    flip[300] ^= 0x08;
    put(dir, "bad_blob_bitflip.glw", &flip);
    let mut magic = good.to_vec();
    magic[0] = b'X';
    put(dir, "bad_blob_magic.glw", &magic);
    let mut version = good.to_vec();
    version[8] = 2;
    put(dir, "bad_blob_version.glw", &version);
    put(dir, "bad_blob_empty.glw", &[]);

    // Transforms (.npz).
    let mut no_weights = members(Vec::new());
    no_weights.remove(0);
    put(dir, "bad_npz_no_weights.npz", &zip_of(&no_weights));
    let mut std0 = members(npy::write_f32(&[3, 5], &w));
    std0[3].1 = npy::write_f32(&[], &[0.0]);
    put(dir, "bad_npz_std_zero.npz", &zip_of(&std0));
    let mut wn = w.clone();
    wn[7] = f32::NAN;
    put(dir, "bad_npz_nan_weight.npz", &zip_of(&members(npy::write_f32(&[3, 5], &wn))));
    let mut wi = w.clone();
    wi[2] = f32::INFINITY;
    put(dir, "bad_npz_inf_weight.npz", &zip_of(&members(npy::write_f32(&[3, 5], &wi))));
    put(dir, "bad_npz_int_weights.npz", &zip_of(&members(npy_image("<i4", false, "(3, 5)", &[0; 60]))));
    put(dir, "bad_npz_object_weights.npz", &zip_of(&members(npy_image("|O", false, "(3, 5)", &[0; 120]))));
    put(dir, "bad_npz_3d_weights.npz", &zip_of(&members(npy::write_f32(&[3, 5, 1], &w))));
    put(
        dir,
        "bad_npz_huge_shape.npz",
        &zip_of(&members(npy_image("<f4", false, "(1099511627776, 1099511627776)", &f32b(&w)))),
    );
    let mut bias = members(npy::write_f32(&[3, 5], &w));
    bias[1].1 = npy::write_f32(&[4], &[0.0; 4]);
    put(dir, "bad_npz_bias_length.npz", &zip_of(&bias));
    let mut lying = zip_of(&members(npy::write_f32(&[3, 5], &w)));
    // Every member claims 1 GiB uncompressed (local headers and central directory).
    for sig in [&b"PK\x03\x04"[..], &b"PK\x01\x02"[..]] {
        let at: Vec<usize> =
            lying.windows(4).enumerate().filter(|(_, x)| *x == sig).map(|(i, _)| i).collect();
        let field = if sig[2] == 3 { 22 } else { 24 };
        for i in at {
            lying[i + field..i + field + 4].copy_from_slice(&(1u32 << 30).to_le_bytes());
        }
    }
    put(dir, "bad_npz_lying_size.npz", &lying);
    put(dir, "bad_npz_not_zip.npz", b"this is not a zip archive");

    // Features.
    put(dir, "bad_features_width.npy", &npy::write_f32(&[4, 4], &[0.5; 16]));
    put(dir, "bad_features_0_rows.npy", &npy::write_f32(&[0, 3], &[]));
    put(dir, "bad_features_3d.npy", &npy::write_f32(&[2, 2, 3], &[0.5; 12]));
    put(dir, "bad_features_int.npy", &npy_image("<i4", false, "(4, 3)", &[0; 48]));
    put(dir, "bad_features_object.npy", &npy_image("|O", false, "(4, 3)", &[0; 96]));
    put(dir, "bad_features_truncated.npy", &npy::write_f32(&[4, 3], &[0.5; 12])[..100]);
    put(dir, "bad_features_huge_shape.npy", &npy_image("<f4", false, "(1099511627776, 3)", &[0; 48]));
}

fn main() {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    if let [flag, dir] = &args[..] {
        if flag.as_os_str() == "--malformed" {
            malformed(dir);
            return;
        }
    }
    let [out, shared] = &args[..] else {
        eprintln!("usage: glocal-fuzz-seedgen <out dir> <shared dir>");
        std::process::exit(2);
    };
    let (blobs, applies, npzs) = (out.join("parse_blob"), out.join("apply_small"), out.join("npz_npy"));

    // Synthetic: edge shapes around the 16-wide panel and the 4-row tile.
    for (d_in, d_out, bias) in [(1, 1, true), (3, 5, true), (16, 16, false), (17, 33, true), (40, 3, true)] {
        let s = synthetic(d_in, d_out, bias);
        blob_seeds(&blobs, &format!("syn{d_in}x{d_out}"), &s);
        for method in [CompressionMethod::Stored, CompressionMethod::Deflated] {
            put(&npzs, &format!("syn{d_in}x{d_out}_{method:?}.npz"), &npz_of(&s, method));
        }
        put(
            &npzs,
            &format!("syn{d_in}x{d_out}_weights.npy"),
            &npy::write_f32(&[d_in, d_out], &s.weights.iter().map(|&v| v as f32).collect::<Vec<_>>()),
        );
    }
    put(&npzs, "scalar_f64.npy", &npy_f64_scalar(0.5));
    // apply_small decodes its input with `arbitrary`: any bytes are a case; vary the length.
    for (i, len) in [16usize, 64, 256, 1024, 4096].into_iter().enumerate() {
        let bytes: Vec<u8> = (0..len).map(|k| (k * 131 + i * 17) as u8).collect();
        put(&applies, &format!("syn_{len}"), &bytes);
    }

    // Real: the published resnet18 transform (the smallest), whole and cut down.
    let real = shared.join("transforms/resnet18/avgpool/transform.npz");
    let Ok(bytes) = std::fs::read(&real) else {
        eprintln!("seedgen: {} not found: real seeds skipped (synthetic only)", real.display());
        return;
    };
    // Full-size files slow mutation ~50x: they go to full/<target>/, which CI runs once
    // (-runs=0) before fuzzing from the small seeds.
    put(&out.join("full/npz_npy"), "real_resnet18.npz", &bytes);
    let s = npz::read_transform(&bytes).expect("the shared resnet18 transform reads");
    blob_seeds(&out.join("full/parse_blob"), "real_resnet18", &s);
    // A 24 x 20 corner keeps the real value distribution, mean, std and bias at fuzzing speed.
    let (d_in, d_out) = (24, 20);
    let corner = Source {
        d_in,
        d_out,
        weights: (0..d_in).flat_map(|k| s.weights[k * s.d_out..][..d_out].to_vec()).collect(),
        bias: s.bias.as_ref().map(|b| b[..d_out].to_vec()),
        mean: s.mean,
        std: s.std,
    };
    blob_seeds(&blobs, "real_corner", &corner);
    for method in [CompressionMethod::Stored, CompressionMethod::Deflated] {
        put(&npzs, &format!("real_corner_{method:?}.npz"), &npz_of(&corner, method));
    }
    let raw: Vec<u8> = corner.weights.iter().flat_map(|&v| (v as f32).to_le_bytes()).collect();
    for len in [64usize, 512, 1920] {
        put(&applies, &format!("real_corner_{len}"), &raw[..len]);
    }
    println!("seedgen: wrote seeds to {}", out.display());
}
