"""Transform.apply: layouts, dtypes, out=, normalize, threads, the GIL, and bad input."""

import threading
import time
import warnings

import numpy as np
import pytest

import glocal


@pytest.fixture(scope="module")
def t(resnet18_npz):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", glocal.GlocalCaution)
        return glocal.Transform.open(resnet18_npz)


@pytest.fixture(scope="module")
def x(shared):
    return np.load(shared / "golden" / "resnet18__avgpool" / "x.npy")


def test_properties_and_repr(t):
    assert (t.d_in, t.d_out, t.dtype, t.model, t.module) == (512, 512, "f32", "resnet18", "avgpool")
    assert t.kernel.startswith("f32_")
    assert "d_in=512" in repr(t) and t.kernel in repr(t)


def test_rows_alone_equal_the_batch(t, x):
    y = t.apply(x)
    for r in range(x.shape[0]):
        row = t.apply(x[r])
        assert row.shape == (512,)
        np.testing.assert_array_equal(row, y[r])


def test_input_not_modified_and_output_fresh(t, x):
    before = x.copy()
    y1 = t.apply(x)
    y2 = t.apply(x)
    np.testing.assert_array_equal(x, before)
    assert y1 is not y2 and not np.shares_memory(y1, y2)


def test_float16_in_and_out(t, x):
    x16 = x.astype(np.float16)
    want = t.apply(x16.astype(np.float32))
    y = t.apply(x16)
    np.testing.assert_array_equal(y, want)
    y16 = t.apply(x16, out_dtype="f16")
    assert y16.dtype == np.float16
    np.testing.assert_array_equal(y16, want.astype(np.float16))


def test_conversions_with_a_copy(t, x):
    want = t.apply(x)
    np.testing.assert_array_equal(t.apply(x.astype(np.float64)), want)
    np.testing.assert_array_equal(t.apply(np.asfortranarray(x)), want)
    wide = np.zeros((16, 1024), np.float32)
    wide[:, ::2] = x
    np.testing.assert_array_equal(t.apply(wide[:, ::2]), want)
    np.testing.assert_array_equal(t.apply(x[0].tolist()), want[0])
    ints = np.arange(512, dtype=np.int32)
    np.testing.assert_array_equal(t.apply(ints), t.apply(ints.astype(np.float32)))


def test_out(t, x):
    out = np.full((16, 512), np.nan, np.float32)
    r = t.apply(x, out=out)
    assert r is out
    np.testing.assert_array_equal(out, t.apply(x))
    out16 = np.full((16, 512), np.nan, np.float16)
    t.apply(x, out=out16)
    np.testing.assert_array_equal(out16, t.apply(x, out_dtype="f16"))
    row = np.empty(512, np.float32)
    t.apply(x[3], out=row)
    np.testing.assert_array_equal(row, t.apply(x)[3])


def test_normalize(t, x):
    y = t.apply(x, normalize=True)
    np.testing.assert_allclose(np.linalg.norm(y, axis=1), 1.0, rtol=1e-5)
    plain = t.apply(x)
    np.testing.assert_allclose(y, plain / np.linalg.norm(plain, axis=1, keepdims=True), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("threads", [0, 2, 3])
def test_threads_bit_identical(t, threads):
    rng = np.random.default_rng(1)
    xb = rng.standard_normal((301, 512)).astype(np.float32)
    np.testing.assert_array_equal(t.apply(xb, threads=threads), t.apply(xb, threads=1))


def test_zero_rows(t):
    y = t.apply(np.zeros((0, 512), np.float32))
    assert y.shape == (0, 512) and y.dtype == np.float32


def test_gil_released_while_the_kernel_runs(t):
    """A Python thread keeps running while another thread is inside apply()."""
    xb = np.ones((6000, 512), np.float32)
    start = time.perf_counter()
    t.apply(xb)
    alone = time.perf_counter() - start
    ticks = []
    stop = threading.Event()

    def count():
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.0005)

    worker = threading.Thread(target=lambda: [t.apply(xb) for _ in range(3)])
    counter = threading.Thread(target=count)
    counter.start()
    time.sleep(0.01)
    t0 = time.perf_counter()
    worker.start()
    worker.join()
    t1 = time.perf_counter()
    stop.set()
    counter.join()
    during = [v for v in ticks if t0 < v < t1]
    # With the GIL held the counter would stall for the whole of each call.
    assert t1 - t0 >= 2 * alone * 0.5
    assert len(during) >= 10, f"{len(during)} ticks in {t1 - t0:.3f} s of apply()"


@pytest.mark.parametrize(
    "bad, exc, match",
    [
        (np.zeros((2, 5), np.float32), ValueError, r"shape \(2, 5\): expected \(n, 512\) or \(512,\)"),
        (np.zeros(511, np.float32), ValueError, r"shape \(511,\)"),
        (np.zeros((2, 2, 512), np.float32), ValueError, r"shape \(2, 2, 512\)"),
        (np.zeros(512, np.complex64), TypeError, "got dtype complex64"),
        (np.zeros(512, bool), TypeError, "got dtype bool"),
        (np.array(["a"] * 512), TypeError, "float32 or float16"),
        (np.zeros(512, object), TypeError, "got dtype object"),
    ],
)
def test_bad_features(t, bad, exc, match):
    with pytest.raises(exc, match=match):
        t.apply(bad)


def test_bad_out_and_options(t, x):
    with pytest.raises(ValueError, match=r"out has shape \(16, 511\): expected \(16, 512\)"):
        t.apply(x, out=np.empty((16, 511), np.float32))
    with pytest.raises(TypeError, match="out has dtype float64"):
        t.apply(x, out=np.empty((16, 512), np.float64))
    with pytest.raises(TypeError, match="out must be a numpy array"):
        t.apply(x, out=[0.0] * 512)
    with pytest.raises(ValueError, match="C-contiguous"):
        t.apply(x, out=np.empty((16, 512), np.float32, order="F"))
    with pytest.raises(ValueError, match="must not share memory"):
        t.apply(x, out=x)
    with pytest.raises(ValueError, match="out_dtype 'f16' disagrees"):
        t.apply(x, out=np.empty((16, 512), np.float32), out_dtype="f16")
    with pytest.raises(ValueError, match="out_dtype 'f64'"):
        t.apply(x, out_dtype="f64")
    ro = np.empty((16, 512), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="out is read-only"):
        t.apply(x, out=ro)
    with pytest.raises(ValueError, match="threads=-1"):
        t.apply(x, threads=-1)


def test_bad_blobs_and_files(tmp_path, resnet18_npz, shared):
    blob = bytearray(glocal.pack(resnet18_npz))
    blob[-1] ^= 1
    with pytest.raises(glocal.GlocalError, match="checksum mismatch"):
        glocal.Transform(bytes(blob))
    with pytest.raises(glocal.GlocalError, match="blob truncated: 10 bytes"):
        glocal.Transform(b"GLOCALW\x1a\x00\x00")
    with pytest.raises(TypeError, match="bytes-like"):
        glocal.Transform(3.5)
    with pytest.raises(FileNotFoundError, match="no such file"):
        glocal.Transform.open(tmp_path / "missing.glw")
    with pytest.raises(glocal.GlocalError, match="neither a glocal blob"):
        glocal.Transform.open(shared / "golden" / "resnet18__avgpool" / "x.npy")
    empty = tmp_path / "empty.glw"
    empty.write_bytes(b"")
    with pytest.raises(glocal.GlocalError, match="empty file"):
        glocal.Transform.open(empty)
    with pytest.raises(ValueError, match="dtype 'f8'"):
        glocal.Transform.open(resnet18_npz, dtype="f8")
    with pytest.raises(glocal.GlocalError, match="not a transform.npz"):
        glocal.pack(shared / "golden" / "resnet18__avgpool" / "x.npy", "f32")


@pytest.mark.parametrize("dtype, zero_point", [(np.int8, 0), (np.int8, -9), (np.uint8, 128), (np.uint8, 3)])
def test_quantized_features_are_dequantized_exactly(t, x, dtype, zero_point):
    # A quantized pipeline's embedding: real = scale * (q - zero_point).
    info = np.iinfo(dtype)
    scale = np.float32(np.abs(x).max() / 100)
    q = np.clip(np.round(x / scale) + zero_point, info.min, info.max).astype(dtype)
    # glocal's dequantization, (q - zero_point) as float32 times scale: one rounding.
    deq = (q.astype(np.int32) - zero_point).astype(np.float32) * scale
    want = t.apply(deq)
    got = t.apply(q, scale=float(scale), zero_point=zero_point)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(t.apply(q, scale=float(scale), zero_point=zero_point, threads=2), want)
    np.testing.assert_array_equal(t.apply(q[1], scale=float(scale), zero_point=zero_point), want[1])
    # Any layout: a Fortran-order copy gives the same rows.
    np.testing.assert_array_equal(t.apply(np.asfortranarray(q), scale=float(scale), zero_point=zero_point), want)


def test_quantized_features_bad_options(t):
    q = np.zeros((2, 512), np.int8)
    with pytest.raises(ValueError, match="scale"):
        t.apply(q, scale=0.0)
    with pytest.raises(ValueError, match="scale"):
        t.apply(q, scale=float("nan"))
    with pytest.raises(ValueError, match="zero point"):
        t.apply(q, scale=0.1, zero_point=128)
    with pytest.raises(ValueError, match="zero point"):
        t.apply(q.astype(np.uint8), scale=0.1, zero_point=-1)
    with pytest.raises(ValueError, match="needs scale"):
        t.apply(q, zero_point=3)
    with pytest.raises(TypeError, match="int8/uint8"):
        t.apply(np.zeros((2, 512), np.float32), scale=0.1)
    with pytest.raises(TypeError, match="int8/uint8"):
        t.apply(np.zeros((2, 512), np.int16), scale=0.1)
    with pytest.raises(ValueError, match="shape"):
        t.apply(np.zeros((2, 511), np.int8), scale=0.1)
