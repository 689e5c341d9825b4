"""The one interface every energy model of phl implements, and how a model is named and rebuilt.

An energy model is a ``torch.nn.Module`` with

* ``elements``: the atomic numbers it covers (a tuple of ints), checked against the data before
  any training or evaluation;
* ``forward(species, coordinates) -> energies``: ``species`` (B, N) atomic numbers with −1 on
  padded atoms, ``coordinates`` (B, N, 3) in Å, energies (B,) in Eh, differentiable at least
  three times with respect to the coordinates (forces, HVPs and the parameter gradient of an HVP
  loss all come from autograd, :mod:`phl.models.derivatives`); padded atoms must not change the
  energy.

Optionally ``set_self_energies(energies)``: per-element energies (Eh, in the order of
``elements``) that the trainer fits by least squares to the training energies before the first
epoch (ANI's self energies).

A model is named by a :class:`ModelSpec`: the import path of its class and the JSON-serialisable
keyword arguments of its constructor. Checkpoints store the spec (:mod:`phl.models.checkpoint`),
so any model, phl's or a user's, is rebuilt from a checkpoint alone. :func:`phl.testing.check_model`
verifies a model against this contract.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from phl.errors import InputError
from phl.models.modes import static_shapes_active

if TYPE_CHECKING:  # torch is imported where a model is built: settings and the CLI stay light
    import torch

#: The paper's model.
DEFAULT_MODEL = "phl.models.ani:ANIModel"
#: Short names of phl's models, accepted wherever a model class path is (``phl train --model mace``).
MODEL_ALIASES = {
    "ani": DEFAULT_MODEL,
    "mace": "phl.models.mace:MACEModel",
    "pair": "phl.models.pair:PairModel",
}

#: Vector-Jacobian products per vmap call in :func:`phl.models.derivatives.hessian` (0: one at a
#: time). On CPU vmap pays where a (sub-)batch is small and slows large ones, E-F-H epochs: science
#: data in one padded batch of 32 (576 atoms) 27.2 s against 36.4 s one at a time; 400 x 8.8 atoms
#: in 3 sub-batches (~1,200 atoms) 14.0 s against 12.5 s; 400 x 12.5 (~1,800) 38.1 s against 29.2 s.
HESSIAN_CHUNK = 9
#: E-F-H's automatic choice (``hessian_chunk: -1``): chunks of HESSIAN_CHUNK on CUDA and for
#: (sub-)batches of at most this many padded atoms on CPU (between 576 and ~1,200 above), one
#: product at a time above it.
HESSIAN_CHUNK_MAX_ATOMS = 1000


@runtime_checkable
class EnergyModel(Protocol):
    elements: Sequence[int]

    def __call__(self, species: torch.Tensor, coordinates: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class SupportsSelfEnergies(Protocol):
    def set_self_energies(self, energies: torch.Tensor) -> None: ...


@runtime_checkable
class SupportsEnergyScale(Protocol):
    """A model whose learned energy is scaled by a constant the trainer sets before the first
    epoch: the standard deviation (Eh) of the training energies per atom after the self energies
    (:func:`phl.training.trainer.energy_scale`, mace-torch's ``std_scaling``)."""

    def set_energy_scale(self, scale: float) -> None: ...


def supports_static_shapes(model: torch.nn.Module) -> bool:
    """Whether ``model`` computes at static shapes (:func:`phl.models.modes.static_shapes`);
    a model says it cannot with a class attribute ``supports_static_shapes = False``."""
    return bool(getattr(model, "supports_static_shapes", True))


def check_class_path(path: str) -> str:
    """The class path of ``path``: an alias of :data:`MODEL_ALIASES` resolved, or
    ``package.module:Class`` checked for syntax (without importing it)."""
    alias = MODEL_ALIASES.get(str(path).strip().lower())
    if alias:
        return alias
    module, sep, name = str(path).partition(":")
    if not sep or not module or not name.isidentifier() or not all(p.isidentifier() for p in module.split(".")):
        raise InputError(
            f"model must be one of {', '.join(MODEL_ALIASES)} or an import path 'package.module:Class', got {path!r}"
        )
    return str(path)


@dataclass(frozen=True)
class ModelSpec:
    """A model class (import path ``package.module:Class``) and its constructor arguments."""

    class_path: str = DEFAULT_MODEL
    kwargs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "class_path", check_class_path(self.class_path))  # aliases stored resolved
        if not isinstance(self.kwargs, dict):
            raise InputError(f"model arguments must be a mapping, got {type(self.kwargs).__name__}")
        try:
            json.dumps(self.kwargs)
        except (TypeError, ValueError) as exc:
            raise InputError(f"model arguments must be JSON values (they are stored in checkpoints): {exc}") from None

    @classmethod
    def of(cls, model_class: type, **kwargs: Any) -> ModelSpec:
        return cls(f"{model_class.__module__}:{model_class.__qualname__}", kwargs)

    def model_class(self) -> type[torch.nn.Module]:
        import torch

        module, _, name = self.class_path.partition(":")
        try:
            obj: Any = importlib.import_module(module)
            for part in name.split("."):
                obj = getattr(obj, part)
        except (ImportError, AttributeError) as exc:
            raise InputError(f"cannot import model class {self.class_path!r}: {exc}") from None
        if not (isinstance(obj, type) and issubclass(obj, torch.nn.Module)):
            raise InputError(f"model class {self.class_path!r} is not a torch.nn.Module")
        return obj

    def build(self, dtype: torch.dtype | None = None, device: torch.device | str | None = None) -> torch.nn.Module:
        """A new model of this class; fails with :class:`InputError` if it does not meet the
        interface (no ``elements``) or rejects its arguments."""
        cls = self.model_class()
        try:
            model = cls(**self.kwargs)
        except TypeError as exc:
            raise InputError(f"model {self.class_path} rejects its arguments {self.kwargs}: {exc}") from None
        if not isinstance(model, EnergyModel):
            raise InputError(f"model {self.class_path} has no 'elements' attribute (the atomic numbers it covers)")
        if dtype is not None or device is not None:
            model = model.to(device=device, dtype=dtype)
        return model

    def to_dict(self) -> dict[str, Any]:
        return {"class": self.class_path, "kwargs": dict(self.kwargs)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSpec:
        return cls(data["class"], dict(data.get("kwargs", {})))


def model_elements(model: torch.nn.Module) -> tuple[int, ...]:
    return tuple(int(z) for z in model.elements)  # type: ignore[attr-defined]


def element_lookup(elements: Sequence[int]) -> torch.Tensor:
    """Atomic number (0..118) → index into ``elements`` (−1 for others), for a model's buffer."""
    import torch

    table = torch.full((119,), -1, dtype=torch.long)
    table[list(elements)] = torch.arange(len(elements))
    return table


def element_indices(lookup: torch.Tensor, species: torch.Tensor, elements: Sequence[int]) -> torch.Tensor:
    """Atomic numbers (−1 padding) → element indices (−1 padding); an element outside
    ``elements`` raises :class:`InputError` naming it (not checked at static shapes, where it
    would read the device: :func:`phl.models.derivatives.static_shapes`)."""
    import torch

    idx = torch.where(species >= 0, lookup[species.clamp(min=0, max=118)], torch.full_like(species, -1))
    if static_shapes_active():  # no check that reads the device; the caller checked the elements
        return idx
    unknown = (species >= 0) & (idx < 0)
    if bool(unknown.any()):
        bad = sorted(set(species[unknown].tolist()))
        raise InputError(f"the model covers elements {list(elements)}, not {bad}")
    return idx
