"""Where models run: ``auto`` (CUDA when present, else CPU), ``cpu``, ``cuda`` or ``cuda:N``."""

from __future__ import annotations

from collections.abc import Callable

import torch

from phl.errors import InputError


def resolve_device(requested: str, cuda_available: Callable[[], bool] = torch.cuda.is_available) -> torch.device:
    """The torch device for ``requested``; asking for CUDA where there is none is an error."""
    if requested == "auto":
        return torch.device("cuda" if cuda_available() else "cpu")
    if requested != "cpu" and requested != "cuda" and not requested.startswith("cuda:"):
        raise InputError(f"device must be auto, cpu or cuda[:N], got {requested!r}")
    if requested.startswith("cuda") and not cuda_available():
        raise InputError(f"device {requested!r} requested but CUDA is not available")
    return torch.device(requested)
