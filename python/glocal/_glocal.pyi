"""Type stubs of the compiled module ``glocal._glocal`` (re-exported by ``glocal``)."""

import os
import pathlib
from typing import List, Optional, TypedDict, Union

import numpy as np
import numpy.typing as npt

__version__: str

class GlocalError(Exception):
    """A transform, blob, file, download or model name was rejected (glocal's one-line message)."""

class GlocalCaution(UserWarning):
    """A published transform with a known caveat (ImageNet model, duplicated DINOv2-B/14 file)."""

class ModelInfo(TypedDict):
    model: str
    module: str
    dim: int
    sha256: Optional[str]
    imagenet: bool
    note: str
    cached: Optional[bool]

_Path = Union[str, "os.PathLike[str]"]

class Transform:
    """A validated gLocal transform: ``y = ((x - mean) / std) @ W + b``."""

    def __init__(self, data: Union[bytes, bytearray, memoryview]) -> None:
        """A transform from packed blob bytes (copied into an aligned buffer)."""
    @staticmethod
    def open(path: _Path, *, dtype: Optional[str] = None) -> "Transform":
        """A blob file (memory-mapped) or a ``transform.npz`` (packed as ``dtype``, default f32)."""
    @staticmethod
    def from_model(
        model: str, module: Optional[str] = None, *, dtype: str = "f32", first_upload: bool = False
    ) -> "Transform":
        """A published model's transform from the verified cache (fetched if absent)."""
    @property
    def d_in(self) -> int: ...
    @property
    def d_out(self) -> int: ...
    @property
    def dtype(self) -> str:
        """Weight dtype: 'f32', 'f16', 'bf16', 'i8d' or 'q8'."""
    @property
    def kernel(self) -> str:
        """The kernel chosen for this CPU."""
    @property
    def model(self) -> str: ...
    @property
    def module(self) -> str: ...
    def apply(
        self,
        x: npt.ArrayLike,
        *,
        out: Optional[np.ndarray] = None,
        normalize: bool = False,
        threads: int = 1,
        out_dtype: Optional[str] = None,
        scale: Optional[float] = None,
        zero_point: Optional[int] = None,
    ) -> np.ndarray:
        """Applies the transform to ``[d_in]`` or ``[n, d_in]`` features.

        C-contiguous float32/float16 input is used in place (other real dtypes and layouts are
        converted with a copy); the GIL is released while the kernel runs. The result is float32
        (float16 with ``out_dtype="f16"``), or written into ``out``. ``normalize=True`` scales each
        output row to unit L2 norm; ``threads=0`` uses every core.

        With ``scale`` (and ``zero_point``, default 0), ``x`` is an int8 or uint8 array from a
        quantized pipeline: element ``q`` is the real value ``scale * (q - zero_point)``,
        dequantized as ``Transform::apply_quantized`` and ``glocal_apply_s8``/``_u8`` do, so the
        result has their bits. ``scale`` must be finite and > 0, ``zero_point`` in -128..127
        (int8) or 0..255 (uint8) (``ValueError``); ``scale`` with any other dtype is a
        ``TypeError``.
        """

def pack(npz_path: _Path, dtype: str = "f32") -> bytes:
    """Packs a ``transform.npz`` into blob bytes (``Transform(bytes)`` reads them back)."""

def models() -> List[ModelInfo]:
    """The published gLocal transforms (registry order), with whether each is cached."""

def cache_dir() -> pathlib.Path:
    """The cache directory model names resolve into (``GLOCAL_CACHE_DIR`` honoured)."""
