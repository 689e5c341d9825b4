"""Choice of compute backend: gpu4pyscf on a CUDA GPU, PySCF on the CPU, through one code path.

The engine always builds a PySCF object and, on the GPU backend, converts it with PySCF's
``to_gpu()`` (which hands over to gpu4pyscf); everything else is shared.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

from phl.errors import InputError


def cuda_device_count() -> int:
    """Number of CUDA devices visible through CuPy; 0 when CuPy or a driver is missing."""
    if importlib.util.find_spec("cupy") is None:
        return 0
    try:
        import cupy

        return int(cupy.cuda.runtime.getDeviceCount())
    except Exception:
        return 0


def gpu4pyscf_available() -> bool:
    return importlib.util.find_spec("gpu4pyscf") is not None


def resolve_backend(
    requested: str,
    cuda_devices: Callable[[], int] = cuda_device_count,
    has_gpu4pyscf: Callable[[], bool] = gpu4pyscf_available,
) -> str:
    """Turn ``auto|cpu|gpu`` into ``cpu`` or ``gpu``.

    ``auto`` is ``gpu`` when gpu4pyscf is installed and a CUDA device is visible, else ``cpu``;
    ``gpu`` without both is an error naming what is missing.
    """
    if requested == "cpu":
        return "cpu"
    if requested not in ("auto", "gpu"):
        raise InputError(f"backend must be auto, cpu or gpu, got {requested!r}")
    have_lib, n_dev = has_gpu4pyscf(), cuda_devices()
    if have_lib and n_dev > 0:
        return "gpu"
    if requested == "gpu":
        missing = [] if have_lib else ["gpu4pyscf is not installed (pip install gpu4pyscf-cuda12x)"]
        if n_dev == 0:
            missing.append("no CUDA device is visible")
        raise InputError("backend 'gpu' requested but " + " and ".join(missing))
    return "cpu"


def resolve_hessian_mode(requested: str, backend: str) -> str:
    """``auto`` → ``analytic`` on GPU (gpu4pyscf has the grid response), ``fd`` on CPU."""
    if requested == "auto":
        return "analytic" if backend == "gpu" else "fd"
    return requested
