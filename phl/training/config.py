"""Training configuration: one validated object per run (model, regime, probes, optimiser,
stopping). Every field is a key of ``phl train --config``/``--settings``, an option of
``phl train`` and a key of the workflow's ``training.settings``."""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from phl.errors import InputError
from phl.models.interface import (
    DEFAULT_MODEL,
    HESSIAN_CHUNK,
    HESSIAN_CHUNK_MAX_ATOMS,
    ModelSpec,
    check_class_path,
)
from phl.registry import PROBE_MODES, RANDOM_PROBE_KINDS, REGIMES, uses_hvp
from phl.settings import Settings, setting

#: Training steps (phl.training.static_step): auto, the plain step, static shapes eager or captured.
StaticStepMode = Literal["auto", "off", "eager", "graph"]
STATIC_STEP_MODES: tuple[str, ...] = typing.get_args(StaticStepMode)


@dataclass(frozen=True)
class TrainConfig(Settings):
    """Hyperparameters of one training run (defaults: the paper's code, docs/training.md)."""

    what: ClassVar[str] = "training"

    regime: str = setting("hvp-random", "training regime: " + " | ".join(REGIMES))
    probes: str = setting(
        "randomized",
        "HVP probes re-drawn every minibatch (randomized), one set per structure "
        "for the whole run (fixed), or the data set's reference pairs (stored); ignored by ef, efh",
    )
    random_probe: str = setting("gaussian", "distribution of hvp-random probes: gaussian (the paper's) or rademacher")
    k_probes: int = setting(1, "probes per structure and minibatch (randomized and fixed)")
    weight_energy: float = setting(1.0, "weight of the energy loss")
    weight_forces: float = setting(0.30, "weight of the force loss")
    weight_hessian: float = setting(0.09, "weight of the Hessian (or HVP) loss")
    batch_size: int = setting(400, "structures per minibatch")
    lr: float = setting(1e-3, "initial learning rate")
    weight_decay: float = setting(1e-2, "AdamW weight decay (weights; biases use SGD)")
    lr_factor: float = setting(0.5, "ReduceLROnPlateau factor")
    lr_patience: int = setting(100, "ReduceLROnPlateau patience (epochs)")
    min_lr: float = setting(1e-5, "stop when the learning rate falls below this")
    max_epochs: int = setting(1000, "stop after this many epochs")
    seed: int = setting(0, "seed of initial weights, shuffling and randomized probes")
    probe_seed: int = setting(
        0,
        "seed of the fixed probes; each run's set is a function of (probe_seed, seed, structure index), so "
        "runs of different seeds are independent, as the paper's five models",
    )
    split: str = setting("paper", "name of the split stored in the data set")
    device: str = setting("auto", "auto, cpu or cuda[:N] (auto: CUDA when present)")
    dtype: str = setting("float64", "float64 or float32")
    hessian_chunk: int = setting(
        -1,
        "E-F-H: vector-Jacobian products per vmap call when building the model Hessian (0: one at a "
        f"time; more trades memory for fewer kernel launches; -1: {HESSIAN_CHUNK} on CUDA and on CPU for "
        f"(sub-)batches of up to {HESSIAN_CHUNK_MAX_ATOMS} padded atoms, else 0)",
    )
    size_groups: int = setting(
        0,
        "sub-batches of similar molecule size per minibatch, each padded to its own largest molecule "
        "(same losses, less padding); 0: for efh 3 where they cut the padded Hessian work by a quarter or "
        "more, else 1 (one padded batch), and 1 for the others",
    )
    static_step: StaticStepMode = setting(
        "auto",
        "training step at static shapes: graph (captured as a CUDA graph and replayed, CUDA only), eager "
        "(same padded step without a graph), off (plain step), auto (graph for ef and hvp-* on CUDA, else off)",
    )
    validate_hessian: bool = setting(True, "also log the validation Hessian RMSE each epoch, on a fixed subset")
    validate_hessian_structures: int = setting(
        64, "size of that subset: the first validation structures (by index) that have reference Hessians"
    )
    lr_threshold: float = setting(0.0, "ReduceLROnPlateau threshold (the paper's code: 0, any improvement counts)")
    model: str = setting(
        DEFAULT_MODEL,
        "energy model: ani (the paper's), mace (mace-torch, the .[mace] extra), pair, or a class path "
        "package.module:Class",
    )
    model_kwargs: dict[str, Any] = setting(
        help="JSON object of the model's constructor arguments", default_factory=dict
    )

    def __post_init__(self) -> None:
        if self.regime not in REGIMES:
            raise InputError(f"regime must be one of {', '.join(REGIMES)}, got {self.regime!r}")
        if self.probes not in PROBE_MODES:
            raise InputError(f"probes must be one of {', '.join(PROBE_MODES)}, got {self.probes!r}")
        if self.random_probe not in RANDOM_PROBE_KINDS:
            raise InputError(f"random_probe must be {' or '.join(RANDOM_PROBE_KINDS)}, got {self.random_probe!r}")
        for name in ("k_probes", "batch_size", "max_epochs"):
            if getattr(self, name) < 1:
                raise InputError(f"{name} must be at least 1, got {getattr(self, name)!r}")
        for name in ("lr", "min_lr"):
            if not getattr(self, name) > 0:
                raise InputError(f"{name} must be positive, got {getattr(self, name)!r}")
        if not 0 < self.lr_factor < 1:
            raise InputError(f"lr_factor must be in (0, 1), got {self.lr_factor!r}")
        if self.static_step not in STATIC_STEP_MODES:
            raise InputError(f"static_step must be one of {', '.join(STATIC_STEP_MODES)}, got {self.static_step!r}")
        if self.hessian_chunk < -1:
            raise InputError(f"hessian_chunk must be >= -1 (-1: automatic), got {self.hessian_chunk!r}")
        for name in (
            "lr_patience",
            "size_groups",
            "weight_decay",
            "lr_threshold",
            "validate_hessian_structures",
        ):
            if getattr(self, name) < 0:
                raise InputError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            raise InputError(f"device must be auto, cpu or cuda[:N], got {self.device!r}")
        if self.dtype not in ("float64", "float32"):
            raise InputError(f"dtype must be float64 or float32, got {self.dtype!r}")
        object.__setattr__(self, "model", check_class_path(self.model))  # an alias recorded as its class

    @property
    def uses_hvp(self) -> bool:
        return uses_hvp(self.regime)

    @property
    def probe_kind(self) -> str:
        return "onehot" if self.regime == "hvp-onehot" else self.random_probe

    @property
    def needs_hessian(self) -> bool:
        """Whether every training structure needs a full reference Hessian."""
        return self.regime == "efh" or (self.uses_hvp and self.probes != "stored")

    @property
    def model_spec(self) -> ModelSpec:
        return ModelSpec(self.model, self.model_kwargs)
