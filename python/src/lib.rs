//! `glocal._glocal`: the Python extension module behind the `glocal` package (python/glocal/).
//!
//! A `Transform` owns its blob (a read-only mapping of a blob file, or an aligned buffer packed
//! from a `transform.npz`) and the validated core view of it, built once; `apply` hands the
//! kernel the numpy buffers themselves when they are C-contiguous float32/float16 and releases
//! the GIL while it runs. Model names resolve through `glocal_cli` (registry, cache, sha256
//! pins, `GLOCAL_CACHE_DIR`, `GLOCAL_BASE_URL`), exactly as `glocal fetch`/`glocal align` do.

use std::path::PathBuf;
use std::time::Duration;

use glocal::{f16, AlignedBlob, Element, PostOp, QuantizedRows, WeightDtype};
use glocal_cli::error::CliError;
use glocal_cli::fetch::{self, FetchOptions, Target};
use glocal_cli::load::{self, BlobBytes, Loaded};
use glocal_cli::registry;
use numpy::{PyArray1, PyArray2, PyArrayDescrMethods, PyArrayMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyFileNotFoundError, PyTypeError, PyUserWarning, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};

create_exception!(
    glocal,
    GlocalError,
    PyException,
    "A transform, blob, file, download or model name was rejected; the message is glocal's one line."
);
create_exception!(
    glocal,
    GlocalCaution,
    PyUserWarning,
    "A published transform with a known caveat (an ImageNet model, or the duplicated DINOv2-B/14 file)."
);

/// The core view of a blob: borrows the blob it lives beside.
type View<'a> = glocal::Transform<'a>;

self_cell::self_cell!(
    /// A blob and the validated transform that borrows it.
    struct Owned {
        owner: BlobBytes,
        #[covariant]
        dependent: View,
    }
);

fn cli_err(e: CliError) -> PyErr {
    GlocalError::new_err(e.to_string())
}

fn weight_dtype(name: &str) -> PyResult<WeightDtype> {
    WeightDtype::from_name(name).ok_or_else(|| {
        PyValueError::new_err(format!("dtype '{name}': expected one of 'f32', 'f16', 'bf16', 'i8d', 'q8'"))
    })
}

/// Network options of a fetch from Python: the CLI's defaults, notes on stderr.
fn fetch_options() -> FetchOptions {
    FetchOptions { timeout: Duration::from_secs(fetch::DEFAULT_TIMEOUT_SECS), force: false, quiet: false }
}

/// Output element type of `apply`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum OutDtype {
    F32,
    F16,
}

impl OutDtype {
    fn parse(name: &str) -> PyResult<OutDtype> {
        match name {
            "f32" | "float32" => Ok(OutDtype::F32),
            "f16" | "float16" => Ok(OutDtype::F16),
            _ => Err(PyValueError::new_err(format!("out_dtype '{name}': expected 'f32' or 'f16'"))),
        }
    }
}

/// A gLocal transform ready to apply: `y = ((x - mean) / std) @ W + b`.
#[pyclass(frozen, module = "glocal", name = "Transform")]
struct Transform {
    inner: Owned,
    label: String,
}

impl Transform {
    fn view(&self) -> &View<'_> {
        self.inner.borrow_dependent()
    }

    /// Validates the blob and warns about the model's cautions, if any.
    fn build(py: Python<'_>, loaded: Loaded) -> PyResult<Transform> {
        let label = loaded.label;
        let inner = Owned::try_new(loaded.blob, |blob| View::new(blob.bytes()))
            .map_err(|e| GlocalError::new_err(format!("{label}: {e}")))?;
        let t = Transform { inner, label };
        let header = t.view().header();
        for caution in registry::cautions(header.model(), Some(header.std)) {
            PyErr::warn(py, &py.get_type::<GlocalCaution>(), &std::ffi::CString::new(caution)?, 2)?;
        }
        Ok(t)
    }
}

/// A C-contiguous float32 or float16 numpy view of `x`: `x` itself when it already is one,
/// else a float32 copy (numbers of another real dtype, other layouts, sequences).
fn as_input<'py>(py: Python<'py>, x: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyUntypedArray>> {
    if let Ok(a) = x.cast::<PyUntypedArray>() {
        let dt = a.dtype();
        if a.is_c_contiguous()
            && (dt.is_equiv_to(&numpy::dtype::<f32>(py)) || dt.is_equiv_to(&numpy::dtype::<f16>(py)))
        {
            return Ok(a.clone());
        }
    }
    let np = py.import("numpy")?;
    let arr = np.call_method1("asarray", (x,))?;
    let kind: String = arr.getattr("dtype")?.getattr("kind")?.extract()?;
    // Real numbers only: bool, complex, object, strings and datetimes are refused, not coerced.
    if !matches!(kind.as_str(), "f" | "i" | "u") {
        let name: String = arr.getattr("dtype")?.str()?.extract()?;
        return Err(PyTypeError::new_err(format!(
            "features must be float32 or float16 (other real dtypes are converted with a copy); got dtype {name}"
        )));
    }
    let kwargs = PyDict::new(py);
    kwargs.set_item("dtype", np.getattr("float32")?)?;
    let converted = np.call_method("ascontiguousarray", (arr,), Some(&kwargs))?;
    Ok(converted.cast_into::<PyUntypedArray>()?)
}

fn shape_text(shape: &[usize]) -> String {
    match shape {
        [d] => format!("({d},)"),
        _ => format!("({})", shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")),
    }
}

/// Runs the kernel on borrowed slices with the GIL released.
fn run<I: Element + Sync, O: Element + Send>(
    py: Python<'_>,
    t: &View<'_>,
    x: &[I],
    y: &mut [O],
    post: PostOp,
    threads: usize,
) -> PyResult<()> {
    py.detach(|| t.apply_parallel_with(x, y, post, threads))
        .map(|_| ())
        .map_err(|e| PyValueError::new_err(e.to_string()))
}

/// `y` for the input element type `I`: borrows `x` and `out` (numpy refuses overlapping
/// borrows, so `out` aliasing `x` is an error, not a silent corruption).
fn apply_typed<I: Element + Sync + numpy::Element>(
    py: Python<'_>,
    t: &View<'_>,
    x: &Bound<'_, PyUntypedArray>,
    out: &Bound<'_, PyUntypedArray>,
    out_dtype: OutDtype,
    post: PostOp,
    threads: usize,
) -> PyResult<()> {
    let x = x.cast::<numpy::PyArrayDyn<I>>()?;
    let x = x.try_readonly().map_err(|e| PyValueError::new_err(format!("features: {e}")))?;
    let xs = x.as_slice().map_err(|e| PyValueError::new_err(format!("features: {e}")))?;
    apply_slice(py, t, xs, out, out_dtype, post, threads)
}

/// The features `apply` runs on.
enum Input<'py> {
    /// float32/float16, C-contiguous (used in place, or a converted copy).
    Array(Bound<'py, PyUntypedArray>),
    /// int8/uint8 features dequantized: their shape and values.
    Dequantized(Vec<usize>, Vec<f32>),
}

/// int8/uint8 features with `scale` and `zero_point`, dequantized (C order) exactly as
/// `Transform::apply_quantized` reads them, so `apply` then gives its bits. `None` when `x` is
/// not an int8/uint8 array.
fn dequantized<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    scale: f32,
    zero_point: i32,
) -> PyResult<Option<(Vec<usize>, Vec<f32>)>> {
    let Ok(a) = x.cast::<PyUntypedArray>() else { return Ok(None) };
    let (signed, unsigned) =
        (a.dtype().is_equiv_to(&numpy::dtype::<i8>(py)), a.dtype().is_equiv_to(&numpy::dtype::<u8>(py)));
    if !(signed || unsigned) {
        return Ok(None);
    }
    let a = py.import("numpy")?.call_method1("ascontiguousarray", (a,))?.cast_into::<PyUntypedArray>()?;
    let shape = a.shape().to_vec();
    // Read in place: the dequantized float32 values are the only copy.
    let read = |e: numpy::BorrowError| PyValueError::new_err(format!("features: {e}"));
    let values = if signed {
        let v = a.cast::<numpy::PyArrayDyn<i8>>()?.try_readonly().map_err(read)?;
        dequantize_all(QuantizedRows::i8(
            v.as_slice().map_err(|e| PyValueError::new_err(e.to_string()))?,
            scale,
            zero_point,
        ))?
    } else {
        let v = a.cast::<numpy::PyArrayDyn<u8>>()?.try_readonly().map_err(read)?;
        dequantize_all(QuantizedRows::u8(
            v.as_slice().map_err(|e| PyValueError::new_err(e.to_string()))?,
            scale,
            zero_point,
        ))?
    };
    Ok(Some((shape, values)))
}

fn dequantize_all(x: QuantizedRows<'_>) -> PyResult<Vec<f32>> {
    x.check().map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok((0..x.len()).map(|i| x.dequantize(i).unwrap_or(f32::NAN)).collect())
}

/// `t` on the inputs `xs` into `out` (of `out_dtype`).
fn apply_slice<I: Element + Sync>(
    py: Python<'_>,
    t: &View<'_>,
    xs: &[I],
    out: &Bound<'_, PyUntypedArray>,
    out_dtype: OutDtype,
    post: PostOp,
    threads: usize,
) -> PyResult<()> {
    let overlap = |e: numpy::BorrowError| {
        let why = e.to_string();
        if why.contains("writeable") {
            PyValueError::new_err("out is read-only")
        } else {
            PyValueError::new_err(format!("out: {why} (out must not share memory with the features)"))
        }
    };
    match out_dtype {
        OutDtype::F32 => {
            let out = out.cast::<numpy::PyArrayDyn<f32>>()?;
            let mut y = out.try_readwrite().map_err(overlap)?;
            let ys = y.as_slice_mut().map_err(|e| PyValueError::new_err(format!("out: {e}")))?;
            run(py, t, xs, ys, post, threads)
        }
        OutDtype::F16 => {
            let out = out.cast::<numpy::PyArrayDyn<f16>>()?;
            let mut y = out.try_readwrite().map_err(overlap)?;
            let ys = y.as_slice_mut().map_err(|e| PyValueError::new_err(format!("out: {e}")))?;
            run(py, t, xs, ys, post, threads)
        }
    }
}

#[pymethods]
impl Transform {
    /// A transform from the bytes of a packed blob (copied into an aligned buffer).
    #[new]
    fn new(py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<Transform> {
        let bytes = match data.cast::<PyBytes>() {
            Ok(b) => b.clone(),
            Err(_) => py
                .import("builtins")?
                .getattr("bytes")?
                .call1((data,))
                .map_err(|_| {
                    PyTypeError::new_err(
                        "Transform(data): data must be bytes-like (bytes, bytearray, memoryview)",
                    )
                })?
                .cast_into::<PyBytes>()?,
        };
        let blob = AlignedBlob::from_bytes(bytes.as_bytes());
        Transform::build(py, Loaded { blob: BlobBytes::Packed(blob), label: "<bytes>".to_string() })
    }

    /// Opens a blob file (memory-mapped) or a `transform.npz` (packed in memory as `dtype`).
    #[staticmethod]
    #[pyo3(signature = (path, *, dtype = None))]
    fn open(py: Python<'_>, path: PathBuf, dtype: Option<&str>) -> PyResult<Transform> {
        let dtype = dtype.map(weight_dtype).transpose()?;
        if !path.exists() {
            return Err(PyFileNotFoundError::new_err(format!(
                "{}: no such file (for a published model name use Transform.from_model or glocal.align)",
                path.display()
            )));
        }
        let loaded = py.detach(|| load::load_file(&path, dtype)).map_err(cli_err)?;
        Transform::build(py, loaded)
    }

    /// A published model's transform, from the cache (fetched and verified first if absent).
    #[staticmethod]
    #[pyo3(signature = (model, module = None, *, dtype = "f32", first_upload = false))]
    fn from_model(
        py: Python<'_>,
        model: &str,
        module: Option<&str>,
        dtype: &str,
        first_upload: bool,
    ) -> PyResult<Transform> {
        let dtype = weight_dtype(dtype)?;
        let loaded = py
            .detach(|| load::load_model(model, Some(dtype), module, first_upload, fetch_options()))
            .map_err(cli_err)?;
        Transform::build(py, loaded)
    }

    /// Input dimension.
    #[getter]
    fn d_in(&self) -> usize {
        self.view().d_in()
    }

    /// Output dimension.
    #[getter]
    fn d_out(&self) -> usize {
        self.view().d_out()
    }

    /// Weight dtype of the blob: 'f32', 'f16', 'bf16', 'i8d' or 'q8'.
    #[getter]
    fn dtype(&self) -> &'static str {
        self.view().dtype().name()
    }

    /// Name of the kernel chosen for this CPU.
    #[getter]
    fn kernel(&self) -> &'static str {
        self.view().kernel().name
    }

    /// Model name stored in the blob ('' if none).
    #[getter]
    fn model(&self) -> String {
        self.view().header().model().to_string()
    }

    /// Module name stored in the blob ('' if none).
    #[getter]
    fn module(&self) -> String {
        self.view().header().module().to_string()
    }

    fn __repr__(&self) -> String {
        let t = self.view();
        format!(
            "glocal.Transform({:?}, d_in={}, d_out={}, dtype='{}', kernel='{}')",
            self.label,
            t.d_in(),
            t.d_out(),
            t.dtype().name(),
            t.kernel().name
        )
    }

    /// Applies the transform to one row (1-D) or a batch (2-D) of features.
    // One parameter per Python keyword argument.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (x, *, out = None, normalize = false, threads = 1, out_dtype = None, scale = None, zero_point = None))]
    fn apply<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        out: Option<&Bound<'py, PyAny>>,
        normalize: bool,
        threads: i64,
        out_dtype: Option<&str>,
        scale: Option<f32>,
        zero_point: Option<i32>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let t = self.view();
        let (d_in, d_out) = (t.d_in(), t.d_out());
        let threads = usize::try_from(threads)
            .map_err(|_| PyValueError::new_err(format!("threads={threads}: must be >= 0 (0: every core)")))?;
        // Quantized features (int8/uint8 with a scale) are dequantized into a float32 copy;
        // floats are used in place when they can be.
        let x = match scale {
            Some(s) => match dequantized(py, x, s, zero_point.unwrap_or(0))? {
                Some((shape, values)) => Input::Dequantized(shape, values),
                None => {
                    return Err(PyTypeError::new_err(
                        "scale= and zero_point= are for int8/uint8 features (a numpy array of either)",
                    ))
                }
            },
            None if zero_point.is_some() => {
                return Err(PyValueError::new_err("zero_point= needs scale= (int8/uint8 features)"))
            }
            None => Input::Array(as_input(py, x)?),
        };
        let shape = match &x {
            Input::Array(a) => a.shape().to_vec(),
            Input::Dequantized(shape, _) => shape.clone(),
        };
        let out_shape = match shape[..] {
            [d] if d == d_in => vec![d_out],
            [n, d] if d == d_in => vec![n, d_out],
            _ => {
                return Err(PyValueError::new_err(format!(
                    "features have shape {}: expected (n, {d_in}) or ({d_in},) for this transform",
                    shape_text(&shape)
                )))
            }
        };
        let requested = out_dtype.map(OutDtype::parse).transpose()?;
        let (out, out_dtype) = match out {
            None => {
                let dt = requested.unwrap_or(OutDtype::F32);
                // One row (1-D) or n rows (2-D), as the input.
                let rows = (shape.len() == 2).then_some(shape[0]);
                let arr: Bound<'py, PyUntypedArray> = match (dt, rows) {
                    (OutDtype::F32, None) => {
                        PyArray1::<f32>::zeros(py, d_out, false).into_any().cast_into()?
                    }
                    (OutDtype::F32, Some(n)) => {
                        PyArray2::<f32>::zeros(py, [n, d_out], false).into_any().cast_into()?
                    }
                    (OutDtype::F16, None) => {
                        PyArray1::<f16>::zeros(py, d_out, false).into_any().cast_into()?
                    }
                    (OutDtype::F16, Some(n)) => {
                        PyArray2::<f16>::zeros(py, [n, d_out], false).into_any().cast_into()?
                    }
                };
                (arr, dt)
            }
            Some(o) => {
                let o = o
                    .cast::<PyUntypedArray>()
                    .map_err(|_| PyTypeError::new_err("out must be a numpy array (float32, or float16)"))?;
                let dt = o.dtype();
                let found = if dt.is_equiv_to(&numpy::dtype::<f32>(py)) {
                    OutDtype::F32
                } else if dt.is_equiv_to(&numpy::dtype::<f16>(py)) {
                    OutDtype::F16
                } else {
                    return Err(PyTypeError::new_err(format!(
                        "out has dtype {}: expected float32 or float16",
                        dt.str()?
                    )));
                };
                if requested.is_some_and(|r| r != found) {
                    return Err(PyValueError::new_err(format!(
                        "out_dtype '{}' disagrees with out's dtype {}",
                        out_dtype.unwrap_or(""),
                        dt.str()?
                    )));
                }
                if o.shape() != &out_shape[..] {
                    return Err(PyValueError::new_err(format!(
                        "out has shape {}: expected {}",
                        shape_text(o.shape()),
                        shape_text(&out_shape)
                    )));
                }
                if !o.is_c_contiguous() {
                    return Err(PyValueError::new_err("out must be C-contiguous"));
                }
                (o.clone(), found)
            }
        };
        // Nothing to compute for zero rows; the core refuses empty inputs.
        if shape.iter().product::<usize>() == 0 {
            return Ok(out.into_any());
        }
        let post = if normalize { PostOp::L2Normalize } else { PostOp::None };
        match &x {
            Input::Dequantized(_, values) => apply_slice(py, t, values, &out, out_dtype, post, threads)?,
            Input::Array(a) if a.dtype().is_equiv_to(&numpy::dtype::<f32>(py)) => {
                apply_typed::<f32>(py, t, a, &out, out_dtype, post, threads)?
            }
            Input::Array(a) => apply_typed::<f16>(py, t, a, &out, out_dtype, post, threads)?,
        }
        Ok(out.into_any())
    }
}

/// Packs a `transform.npz` into blob bytes.
#[pyfunction]
#[pyo3(signature = (npz_path, dtype = "f32"))]
fn pack<'py>(py: Python<'py>, npz_path: PathBuf, dtype: &str) -> PyResult<Bound<'py, PyBytes>> {
    let dtype = weight_dtype(dtype)?;
    let blob = py
        .detach(|| -> Result<AlignedBlob, CliError> {
            let map = glocal_cli::fileio::map_file(&npz_path)?;
            if load::kind(&map) != load::Kind::Npz {
                return Err(CliError::file(&npz_path, "not a transform.npz (zip archive)"));
            }
            let (model, module) = registry::from_path(&npz_path).map_or(("", ""), |e| (e.model, e.module));
            load::pack_npz(&npz_path, &map, dtype, model, module)
        })
        .map_err(cli_err)?;
    Ok(PyBytes::new(py, blob.as_bytes()))
}

/// The published gLocal transforms: one dict per model.
#[pyfunction]
fn models(py: Python<'_>) -> PyResult<Bound<'_, PyList>> {
    let cache = fetch::cache_dir().ok();
    let list = PyList::empty(py);
    for e in &registry::REGISTRY {
        let d = PyDict::new(py);
        d.set_item("model", e.model)?;
        d.set_item("module", e.module)?;
        d.set_item("dim", e.dim)?;
        d.set_item("sha256", e.sha256)?;
        d.set_item("imagenet", e.imagenet)?;
        d.set_item("note", e.note)?;
        let cached = match (&cache, Target::new(e.model, None, false)) {
            (Some(dir), Ok(target)) => Some(target.cache_file(dir).is_file()),
            _ => None,
        };
        d.set_item("cached", cached)?;
        list.append(d)?;
    }
    Ok(list)
}

/// The cache directory model names resolve into (`GLOCAL_CACHE_DIR` honoured).
#[pyfunction]
fn cache_dir() -> PyResult<PathBuf> {
    fetch::cache_dir().map_err(cli_err)
}

#[pymodule]
fn _glocal(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<Transform>()?;
    m.add_function(wrap_pyfunction!(pack, m)?)?;
    m.add_function(wrap_pyfunction!(models, m)?)?;
    m.add_function(wrap_pyfunction!(cache_dir, m)?)?;
    m.add("GlocalError", py.get_type::<GlocalError>())?;
    m.add("GlocalCaution", py.get_type::<GlocalCaution>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
