"""Reference labels: what a label holds (:class:`LabelSettings`), the label record that
``phl compute --json`` writes (:class:`Label`, read back with :func:`read_label`), and the table of
label files (:func:`summarize_labels`, ``phl summarize``).

A label's probes are called ``probes`` everywhere (labels, data sets, training); label files
written before this name was unified used ``hvp_probes`` and are read the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from phl.errors import InputError
from phl.registry import PROBE_KINDS
from phl.settings import Settings, setting


@dataclass(frozen=True)
class LabelSettings(Settings):
    """What each reference label holds besides energy and forces (``phl compute`` options and the
    workflow's ``labels`` section)."""

    what: ClassVar[str] = "labels"

    hessian: bool = setting(False, "also compute the Cartesian Hessian (Eh/Å²)")
    hvp: int = setting(0, "reference Hessian-vector products per probe kind, by finite differences of gradients")
    probe: str = setting(
        "gaussian",
        "probe kind(s) of the reference HVPs, comma-separated: gaussian, rademacher, onehot "
        "(gaussian,onehot gives pairs for stored one-hot and Hutchinson training)",
    )
    seed: int = setting(0, "seed of the probe draw")

    def __post_init__(self) -> None:
        if self.hvp < 0:
            raise InputError(f"hvp (--hvp) must be >= 0, got {self.hvp}")
        kinds = self.probe_kinds
        if not kinds or not set(kinds) <= set(PROBE_KINDS) or len(set(kinds)) != len(kinds):
            raise InputError(
                f"probe must be one of {', '.join(PROBE_KINDS)} (or several, comma-separated, each "
                f"once), got {self.probe!r}"
            )

    @property
    def probe_kinds(self) -> list[str]:
        return [k.strip() for k in str(self.probe).split(",") if k.strip()]


@dataclass
class Label:
    """A reference label as stored in JSON (storage units: Eh, Å, Eh/Å, Eh/Å²)."""

    symbols: list[str]
    positions: NDArray[np.float64]
    energy: float
    forces: NDArray[np.float64]
    dispersion_energy: float = 0.0
    hessian: NDArray[np.float64] | None = None
    probes: NDArray[np.float64] | None = None
    hvps: NDArray[np.float64] | None = None
    probe_kinds: list[str] | None = None  # kind of each probe
    name: str | None = None
    category: str | None = None
    reaction: str | None = None
    units: dict[str, str] = field(default_factory=dict)
    method: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)

    ARRAYS: ClassVar[tuple[str, ...]] = ("positions", "forces", "hessian", "probes", "hvps")

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "label") -> Label:
        if not isinstance(data, dict):
            raise InputError(f"{where}: not a label record")
        data = dict(data)
        if "hvp_probes" in data:  # the name used before probes had one name
            data["probes"] = data.pop("hvp_probes")
        for key in ("symbols", "positions", "energy", "forces"):
            if key not in data:
                raise InputError(f"{where}: missing required key {key!r}")
        known = {f for f in cls.__dataclass_fields__ if f != "ARRAYS"}
        values = {k: v for k, v in data.items() if k in known}
        for key in cls.ARRAYS:
            if values.get(key) is not None:
                values[key] = np.asarray(values[key], dtype=np.float64)
        values["energy"] = float(values["energy"])
        if values.get("probes") is not None and values.get("probe_kinds") is None:
            kind = (values.get("provenance") or {}).get("probe_kind")  # labels with one kind for all probes
            if kind in PROBE_KINDS:
                values["probe_kinds"] = [kind] * len(values["probes"])
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in self.__dataclass_fields__:
            value = getattr(self, key)
            if value is None:
                continue
            out[key] = value.tolist() if isinstance(value, np.ndarray) else value
        return out


def compute_label(
    engine: Any,
    atoms: Any,
    settings: LabelSettings,
    meta: dict[str, Any] | None = None,
    index: int | None = None,
    source: str = "",
) -> Label:
    """The label of one geometry: energy, forces and, as ``settings`` asks, Hessian and reference
    HVPs, computed by ``engine`` (a :class:`phl.qm.interface.Engine`, reused across
    molecules). ``meta`` (name, category, reaction) is copied in; the probes of structure
    ``index`` of a reaction depend on (seed, reaction, index), so no two structures share them."""
    from phl.probes import draw_probes, structure_seed

    meta = dict(meta or {})
    probe_seed = structure_seed(settings.seed, meta.get("reaction"), index)
    rng = np.random.default_rng(probe_seed)
    kinds = [kind for kind in settings.probe_kinds for _ in range(settings.hvp)]  # hvp probes of each kind
    probes = (
        np.concatenate([draw_probes(rng, len(atoms), settings.hvp, k) for k in settings.probe_kinds]) if kinds else None
    )
    result = engine.compute(atoms, forces=True, hessian=settings.hessian, probes=probes, where=source or "geometry")
    data = engine.record(result)
    data.update(meta)
    if kinds:
        data["probe_kinds"] = kinds
    data["provenance"].update(
        input=source,
        index=index,
        probe_kind=settings.probe if settings.hvp else None,
        seed=settings.seed,
        probe_seed_sequence=probe_seed,
    )
    return Label.from_dict(data, source or "label")


def read_label(path: str | Path) -> Label:
    """The label JSON written by ``phl compute --json``, with its required keys checked."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a readable label file: {exc}") from None
    return Label.from_dict(data, str(path))
