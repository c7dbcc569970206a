"""The published transforms in ../shared, packed in every dtype, against the f64 formula (y_ref),
with the bounds of the Rust golden test (tests/golden.rs)."""

import warnings

import numpy as np
import pytest

import glocal

# Error bound relative to max |y_ref| per weight dtype (tests/golden.rs: tolerance()).
TOLERANCE = {"f32": 4e-6, "f16": 1e-3, "bf16": 8e-3, "i8d": 8e-3, "q8": 8e-3}


def golden_sets(shared, index):
    sets = []
    for name, meta in sorted(index.items()):
        npz = shared / "transforms" / meta["model"] / meta["module"] / "transform.npz"
        if npz.is_file():
            sets.append((name, npz))
    return sets


def test_every_golden_set_every_dtype(shared, golden_index):
    sets = golden_sets(shared, golden_index)
    # Nine transforms are published in ../shared: a renamed folder must not silently shrink this.
    assert len(sets) == 9, [s[0] for s in sets]
    checked = 0
    for name, npz in sets:
        x = np.load(shared / "golden" / name / "x.npy")
        y_ref = np.load(shared / "golden" / name / "y_ref.npy")
        assert x.dtype == np.float32 and x.shape[0] == 16
        scale = np.abs(y_ref).max()
        for dtype, tol in TOLERANCE.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", glocal.GlocalCaution)
                t = glocal.Transform.open(npz, dtype=dtype)
            assert t.dtype == dtype and t.d_in == x.shape[1] and t.d_out == y_ref.shape[1]
            y = t.apply(x)
            assert y.dtype == np.float32 and y.shape == y_ref.shape
            err = np.abs(y.astype(np.float64) - y_ref)
            rel = err.max() / scale
            at = np.unravel_index(err.argmax(), err.shape)
            assert rel <= tol, f"{name} {dtype} {t.kernel}: rel err {rel:.3e} > {tol:.0e} at {at}"
            checked += 1
    assert checked == 9 * len(TOLERANCE)


def test_thingsvision_output_agrees(shared, golden_index):
    """What thingsvision returns for the golden inputs, within float32 rounding."""
    for name, npz in golden_sets(shared, golden_index):
        x = np.load(shared / "golden" / name / "x.npy")
        y_tv = np.load(shared / "golden" / name / "y_thingsvision.npy")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", glocal.GlocalCaution)
            y = glocal.Transform.open(npz).apply(x)
        assert np.abs(y - y_tv).max() / np.abs(y_tv).max() <= 4e-6, name


@pytest.mark.parametrize("dtype", ["f32", "f16", "bf16", "i8d", "q8"])
def test_pack_bytes_round_trip(resnet18_npz, dtype):
    blob = glocal.pack(resnet18_npz, dtype)
    with pytest.warns(glocal.GlocalCaution, match="ImageNet"):
        t = glocal.Transform(blob)
    assert isinstance(blob, bytes) and blob[:7] == b"GLOCALW"
    assert (t.model, t.module, t.dtype, t.d_in, t.d_out) == ("resnet18", "avgpool", dtype, 512, 512)
    with pytest.warns(glocal.GlocalCaution):
        t2 = glocal.Transform.open(resnet18_npz, dtype=dtype)
        t3 = glocal.Transform(bytearray(blob))
    x = np.linspace(-1, 1, 3 * 512, dtype=np.float32).reshape(3, 512)
    np.testing.assert_array_equal(t.apply(x), t2.apply(x))
    np.testing.assert_array_equal(t.apply(x), t3.apply(x))


def test_blob_file_is_mapped_and_dtype_checked(tmp_path, resnet18_npz):
    blob = glocal.pack(resnet18_npz, "f16")
    path = tmp_path / "r18.glw"
    path.write_bytes(blob)
    with pytest.warns(glocal.GlocalCaution):
        t = glocal.Transform.open(str(path))
    assert t.dtype == "f16"
    with pytest.raises(glocal.GlocalError, match="the blob stores f16 weights"):
        glocal.Transform.open(path, dtype="f32")
