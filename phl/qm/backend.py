"""Choice of compute backend: gpu4pyscf on a CUDA GPU, PySCF on the CPU, through one code path.

The engine always builds a PySCF object and, on the GPU backend, converts it with PySCF's
``to_gpu()`` (which hands over to gpu4pyscf); everything else is shared.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable

from phl.errors import InputError

log = logging.getLogger(__name__)

#: What to install for each CUDA line (pyproject extras), named in every GPU error.
INSTALL_HINT = (
    "gpu4pyscf and CuPy must be the builds for this machine's CUDA (nvidia-smi shows the driver's CUDA "
    "version): pip install -e '.[gpu]' for CUDA 12, pip install -e '.[gpu-cuda13]' for CUDA 13"
)


def _cuda_query() -> tuple[int, str]:
    """(CUDA devices CuPy sees, CuPy's one-line complaint when it cannot ask the driver)."""
    if importlib.util.find_spec("cupy") is None:
        return 0, ""
    try:
        import cupy

        return int(cupy.cuda.runtime.getDeviceCount()), ""
    except Exception as exc:  # CuPy built for another CUDA, no driver, no device node ...
        return 0, f"{type(exc).__name__}: {' '.join(str(exc).split())}"


def cuda_device_count() -> int:
    """Number of CUDA devices visible through CuPy; 0 when CuPy or a driver is missing."""
    return _cuda_query()[0]


def cuda_problem() -> str:
    """Why CuPy cannot reach the CUDA driver, in one line ('' when it can, or CuPy is absent):
    typically a CuPy/gpu4pyscf build for another CUDA line than the driver's."""
    return _cuda_query()[1]


def gpu4pyscf_available() -> bool:
    return importlib.util.find_spec("gpu4pyscf") is not None


def resolve_backend(
    requested: str,
    cuda_devices: Callable[[], int] = cuda_device_count,
    has_gpu4pyscf: Callable[[], bool] = gpu4pyscf_available,
    cuda_error: Callable[[], str] = cuda_problem,
) -> str:
    """Turn ``auto|cpu|gpu`` into ``cpu`` or ``gpu``.

    ``auto`` is ``gpu`` when gpu4pyscf is installed and a CUDA device is visible, else ``cpu``
    (with a warning when gpu4pyscf is installed but CuPy cannot reach the driver); ``gpu`` without
    both is an error naming what is missing, and CuPy's own complaint when it has one.
    """
    if requested == "cpu":
        return "cpu"
    if requested not in ("auto", "gpu"):
        raise InputError(f"backend must be auto, cpu or gpu, got {requested!r}")
    have_lib, n_dev = has_gpu4pyscf(), cuda_devices()
    if have_lib and n_dev > 0:
        return "gpu"
    problem = cuda_error() if n_dev == 0 else ""
    if requested == "gpu":
        missing = [] if have_lib else ["gpu4pyscf is not installed"]
        if n_dev == 0:
            missing.append(f"CuPy cannot use the CUDA driver ({problem})" if problem else "no CUDA device is visible")
        raise InputError("backend 'gpu' requested but " + " and ".join(missing) + "; " + INSTALL_HINT)
    if have_lib and problem:
        log.warning("gpu4pyscf is installed but CuPy cannot use the CUDA driver (%s): running on the CPU", problem)
    return "cpu"


def gpu_scf(mf):
    """``mf.to_gpu()``, with a failing gpu4pyscf import (a build for another CUDA line: missing
    libcublas.so.13, a CUDA symbol ...) turned into one line naming the fix."""
    try:
        return mf.to_gpu()
    except (ImportError, OSError) as exc:
        raise InputError(f"gpu4pyscf cannot be loaded ({' '.join(str(exc).split())}); {INSTALL_HINT}") from None


def resolve_hessian_mode(requested: str, backend: str) -> str:
    """``auto`` → ``analytic`` on GPU (gpu4pyscf has the grid response), ``fd`` on CPU."""
    if requested == "auto":
        return "analytic" if backend == "gpu" else "fd"
    return requested
