"""Apply gLocal human-alignment transforms to vision embeddings, fast.

``glocal.align(features, "clip_ViT-L/14")`` is the counterpart of thingsvision's
``extractor.align(features=..., module_name=..., alignment_type="gLocal")``: the same published
transforms (fetched once into a verified cache), the formula ``y = ((x - mean) / std) @ W + b``
applied by glocal's SIMD kernels. For repeated calls keep a :class:`Transform`
(``Transform.from_model``, ``Transform.open``) and call :meth:`Transform.apply`.
"""

from __future__ import annotations

import os
from typing import Dict, Optional, Tuple

import numpy as np

from ._glocal import (
    GlocalCaution,
    GlocalError,
    Transform,
    __version__,
    cache_dir,
    models,
    pack,
)

__all__ = [
    "GlocalCaution",
    "GlocalError",
    "Transform",
    "__version__",
    "align",
    "cache_dir",
    "models",
    "pack",
]

# Transforms already loaded by `align`, keyed by what selects the file: a second call with the
# same model does not re-read, re-verify and re-pack it.
_loaded: Dict[Tuple[str, Optional[str], str, bool, Optional[str], Optional[str]], Transform] = {}


def align(
    features: np.ndarray,
    model: str,
    module: Optional[str] = None,
    *,
    normalize: bool = False,
    dtype: str = "f32",
    threads: int = 1,
    first_upload: bool = False,
    out_dtype: str = "f32",
) -> np.ndarray:
    """Aligns ``features`` (``[n, d]`` or ``[d]``) with a published model's gLocal transform.

    The transform is resolved like ``glocal fetch``: the registry's sha256 pins, the cache
    (``GLOCAL_CACHE_DIR``), the download base (``GLOCAL_BASE_URL``). Cautions (ImageNet models,
    the duplicated DINOv2-B/14 file) are issued as :class:`GlocalCaution` warnings.
    """
    key = (
        model,
        module,
        dtype,
        first_upload,
        os.environ.get("GLOCAL_CACHE_DIR"),
        os.environ.get("GLOCAL_BASE_URL"),
    )
    t = _loaded.get(key)
    if t is None:
        t = Transform.from_model(model, module, dtype=dtype, first_upload=first_upload)
        _loaded[key] = t
    return t.apply(features, normalize=normalize, threads=threads, out_dtype=out_dtype)
