"""Model checkpoints that rebuild any model: the model's :class:`ModelSpec` (class path and
constructor arguments), its dtype and its ``state_dict``, plus whatever the caller adds (the
training configuration, epoch, data set). ``load_model`` needs nothing but the file."""

from __future__ import annotations

import json
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from phl.errors import InputError
from phl.io.atomic import atomic_path
from phl.models.device import resolve_device
from phl.models.interface import ModelSpec, model_elements

DTYPES = {"float64": torch.float64, "float32": torch.float32}


def dtype_name(dtype: torch.dtype) -> str:
    return next(k for k, v in DTYPES.items() if v == dtype)


def model_record(model: torch.nn.Module, spec: ModelSpec, **extra: Any) -> dict[str, Any]:
    """What a model checkpoint holds: spec, dtype, elements, state_dict, and ``extra``."""
    dtype = next(model.parameters()).dtype
    return {
        "model_spec": spec.to_dict(),
        "dtype": dtype_name(dtype),
        "elements": list(model_elements(model)),
        "model": model.state_dict(),
        **extra,
    }


def save_checkpoint(record: dict[str, Any], path: str | Path) -> None:
    """Write a checkpoint atomically (a crash leaves the previous one)."""
    with atomic_path(path) as tmp:
        torch.save(record, tmp)


def read_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> dict[str, Any]:
    """The record of a checkpoint file; an unreadable or foreign file is an :class:`InputError`."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such checkpoint")
    try:
        record = torch.load(path, weights_only=False, map_location=device)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError) as exc:
        raise InputError(f"{path}: not a readable phl checkpoint: {' '.join(str(exc).split())[:200]}") from None
    if not isinstance(record, dict) or "model" not in record:
        raise InputError(f"{path}: not a phl model checkpoint (no model state)")
    return record


def spec_of(record: dict[str, Any]) -> ModelSpec:
    """The model spec of a checkpoint record; checkpoints written before specs were stored hold
    the paper's ANI model with its elements."""
    if "model_spec" in record:
        return ModelSpec.from_dict(record["model_spec"])
    return ModelSpec("phl.models.ani:ANIModel", {"elements": list(record.get("elements") or (1, 6, 7, 8))})


def trained_level_of_theory(record: dict[str, Any], path: str | Path) -> str | None:
    """The level of theory of the labels the checkpoint ``record`` (read from ``path``) was
    trained on: recorded in it, or, for checkpoints written before it was, in the ``config.json`` of
    the run folder beside it; None when neither says."""
    if "level_of_theory" in record:
        return record["level_of_theory"]
    config = Path(path).parent / "config.json"
    try:
        return json.loads(config.read_text()).get("level_of_theory") if config.is_file() else None
    except (OSError, ValueError):
        return None


def load_model(path: str | Path, device: str | torch.device = "cpu") -> torch.nn.Module:
    """The model stored in a checkpoint (``best.pt`` or ``last.pt`` of a training run), in
    evaluation mode on ``device``."""
    device = resolve_device(str(device))
    return model_of(read_checkpoint(path, device), path, device)


def model_of(record: dict[str, Any], path: str | Path, device: str | torch.device = "cpu") -> torch.nn.Module:
    """The model of a checkpoint record read from ``path``, in evaluation mode on ``device``."""
    dtype = DTYPES[record.get("dtype") or record.get("config", {}).get("dtype", "float64")]
    model = spec_of(record).build(dtype=dtype)
    try:
        model.load_state_dict(record["model"])
    except RuntimeError as exc:
        raise InputError(f"{path}: the stored weights do not fit the stored model: {str(exc)[:300]}") from None
    return model.to(device).eval()
