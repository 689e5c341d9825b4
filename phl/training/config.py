"""Training configuration: one validated object per run (regime, probes, optimiser, stopping)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from phl.errors import InputError
from phl.options import check_known_keys

REGIMES = ("ef", "hvp-onehot", "hvp-random", "efh")
PROBE_MODES = ("randomized", "fixed", "stored")


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of one training run (defaults: the paper's code, DESIGN.md §4).

    regime: ef | hvp-onehot | hvp-random | efh.
    probes: randomized (re-drawn every minibatch), fixed (one set per structure for the whole
        run, from (probe_seed, structure index)), or stored (the data set's reference
        (probe, HVP) pairs: no Hessian needed). Ignored by ef and efh.
    random_probe: distribution of hvp-random: gaussian (the paper's) or rademacher.
    k_probes: probes per structure and minibatch (randomized and fixed).
    hessian_chunk: E-F-H only: 0 computes the model Hessian one VJP at a time (fastest on CPU);
        k > 0 batches k VJPs with vmap (try on GPUs).
    validate_hessian: also report the validation Hessian RMSE each epoch (3N backward passes).
    """

    regime: str = "hvp-random"
    probes: str = "randomized"
    random_probe: str = "gaussian"
    k_probes: int = 1
    weight_energy: float = 1.0
    weight_forces: float = 0.30
    weight_hessian: float = 0.09
    batch_size: int = 400
    lr: float = 1e-3
    weight_decay: float = 1e-2
    lr_factor: float = 0.5
    lr_patience: int = 100
    min_lr: float = 1e-5
    max_epochs: int = 1000
    seed: int = 0
    probe_seed: int = 0
    split: str = "paper"
    device: str = "auto"
    dtype: str = "float64"
    hessian_chunk: int = 0
    validate_hessian: bool = False

    def __post_init__(self) -> None:
        if self.regime not in REGIMES:
            raise InputError(f"regime must be one of {', '.join(REGIMES)}, got {self.regime!r}")
        if self.probes not in PROBE_MODES:
            raise InputError(f"probes must be one of {', '.join(PROBE_MODES)}, got {self.probes!r}")
        if self.random_probe not in ("gaussian", "rademacher"):
            raise InputError(f"random_probe must be gaussian or rademacher, got {self.random_probe!r}")
        for name in ("k_probes", "batch_size", "max_epochs"):
            if getattr(self, name) < 1:
                raise InputError(f"{name} must be at least 1, got {getattr(self, name)!r}")
        for name in ("lr", "min_lr"):
            if not getattr(self, name) > 0:
                raise InputError(f"{name} must be positive, got {getattr(self, name)!r}")
        if not 0 < self.lr_factor < 1:
            raise InputError(f"lr_factor must be in (0, 1), got {self.lr_factor!r}")
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            raise InputError(f"device must be auto, cpu or cuda[:N], got {self.device!r}")
        if self.dtype not in ("float64", "float32"):
            raise InputError(f"dtype must be float64 or float32, got {self.dtype!r}")

    @property
    def uses_hvp(self) -> bool:
        return self.regime.startswith("hvp")

    @property
    def probe_kind(self) -> str:
        return "onehot" if self.regime == "hvp-onehot" else self.random_probe

    @property
    def needs_hessian(self) -> bool:
        """Whether every training structure needs a full reference Hessian."""
        return self.regime == "efh" or (self.uses_hvp and self.probes != "stored")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        check_known_keys(cls, data, "training")
        return cls(**data)
