"""Typed records of the geometry stage, one JSON file each (``phl reaction``):

    reactant.json, product.json, ts.json   PointRecord      a stationary point
    irc.json                               IRCRecord        the IRC path and its end points
    nms.json                               NMSRecord        normal-mode samples
    structures.json                        StructuresRecord the structures a reaction contributes

Every step record has ``reaction``, ``step``, ``status`` (``ok``, ``failed``, ``skipped``),
``reason``, ``method``, ``settings``, ``units`` and ``provenance``; a failed or skipped record
has no content fields. ``to_dict`` gives the JSON form (without empty content fields) and
``from_dict`` reads it back, naming what is missing or of the wrong kind.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ase import Atoms

from phl.errors import InputError

STATUSES = ("ok", "failed", "skipped")


def geometry_of(atoms: Atoms) -> dict[str, Any]:
    return {"symbols": atoms.get_chemical_symbols(), "positions": atoms.get_positions().tolist()}


def atoms_of(record: Any) -> Atoms:
    """ASE atoms of anything with ``symbols`` and ``positions`` (a record or a mapping)."""
    get = record.get if isinstance(record, dict) else lambda k: getattr(record, k)
    return Atoms(symbols=get("symbols"), positions=get("positions"))


class _Record:
    def to_dict(self) -> dict[str, Any]:
        out = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if value is None and f.metadata.get("content"):
                continue
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "record"):
        if not isinstance(data, dict):
            raise InputError(f"{where}: not a geometry-stage record (a JSON object)")
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        required = {
            f.name
            for f in dataclasses.fields(cls)  # type: ignore[arg-type]
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        }
        missing = sorted(required - set(data))
        if missing:
            raise InputError(f"{where}: not a {cls.__name__}: missing {', '.join(missing)}")
        unknown = sorted(set(data) - names)
        if unknown:
            raise InputError(f"{where}: not a {cls.__name__}: unexpected key(s) {', '.join(unknown)}")
        record = cls(**data)
        if getattr(record, "status", "ok") not in STATUSES:
            raise InputError(f"{where}: status must be one of {', '.join(STATUSES)}, got {record.status!r}")
        return record


def content(default: Any = None) -> Any:
    """A step-specific field: absent from failed and skipped records."""
    return field(default=default, metadata={"content": True})


@dataclass
class StepRecord(_Record):
    reaction: str
    step: str
    status: str
    reason: str = ""
    method: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass
class PointRecord(StepRecord):
    """A minimum (reactant, product) or a transition state (ts)."""

    energy: float | None = content()  # Eh
    converged: bool | None = content()
    steps: int | None = content()
    n_imaginary: int | None = content()
    frequencies_cm1: list[float] | None = content()
    symbols: list[str] | None = content()
    positions: list[list[float]] | None = content()  # Å
    guess: str | None = content()  # ts only: "given" or "IDPP interpolation"


@dataclass
class IRCRecord(StepRecord):
    connects: bool | None = content()
    notes: list[str] | None = content()
    ts_index: int | None = content()
    path_position: list[float] | None = content()  # Å from the TS, reverse negative
    points: list[list[list[float]]] | None = content()  # Å, reverse end → TS → forward end
    symbols: list[str] | None = content()
    kept: list[int] | None = content()  # indices of the points labelled as IRC structures
    ends: dict[str, dict[str, Any]] | None = content()  # forward/reverse: energy, n_imaginary, geometry

    def interior(self) -> list[int]:
        """Indices of the path points that are neither an end nor the TS."""
        return [i for i in range(1, len(self.points or []) - 1) if i != self.ts_index]


@dataclass
class NMSRecord(StepRecord):
    samples: list[dict[str, Any]] | None = content()  # irc_index, harmonic_energy, symbols, positions


@dataclass
class StructuresRecord(_Record):
    """What a reaction contributes to labelling (none unless every step is ok), and its outcome."""

    reaction: str
    status: str = "ok"
    failed_step: str = ""
    reason: str = ""
    seconds: float = 0.0
    structures: list[dict[str, Any]] = field(default_factory=list)  # name, category, symbols, positions, ...
    charge: int = 0  # of the reaction: its structures are labelled at this charge and multiplicity
    multiplicity: int = 1

    @property
    def ok(self) -> bool:
        return self.status == "ok"


RECORD_TYPES: dict[str, type[_Record]] = {
    "reactant": PointRecord,
    "product": PointRecord,
    "ts": PointRecord,
    "irc": IRCRecord,
    "nms": NMSRecord,
    "structures": StructuresRecord,
}


def read_record(path: str | Path, what: str) -> Any:
    """The record of step ``what`` (or ``structures``) stored at ``path``."""
    cls = RECORD_TYPES[what]
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable {what} record: {exc}") from None
    record = cls.from_dict(data, f"{path}")
    if isinstance(record, StepRecord) and what != "structures" and record.step != what:
        raise InputError(f"{path}: a {record.step} record where a {what} record is needed")
    return record
