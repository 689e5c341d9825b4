"""The geometry stage as independent jobs, one JSON file each, for one reaction at a time:

    reactant / product  minimised (no imaginary mode)          -> {step}.json
    ts                  Sella TS from the given or IDPP guess   -> ts.json (exactly one imaginary mode)
    irc                 Sella IRC both ways, ends minimised     -> irc.json (ends match reactant and product)
    nms                 normal-mode samples of IRC points       -> nms.json
    collect             the kept structures with categories     -> structures.json (input of the label jobs):
                        reactant, product, ts (together: RTP), irc, nms

Every file has ``status`` (``ok``, ``failed`` or ``skipped``) and ``reason``. A reaction whose
SCF does not converge, whose TS has zero or several imaginary modes, or whose IRC does not connect
reactant and product is ``failed`` at that step; later steps of the reaction are ``skipped`` and it
contributes no structure, while other reactions go on. ``summary_table`` gathers the outcome.
"""

from __future__ import annotations

import logging
import time
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers

from phl.calculators import ReferenceCalculator
from phl.checks import validate_atoms
from phl.errors import InputError, PHLError
from phl.geometries.nms import sample_normal_modes
from phl.geometries.pathways import (
    StationaryPoint,
    find_transition_state,
    interpolated_guess,
    irc_connects,
    minimize,
    run_irc,
)
from phl.geometries.reactions import Reaction
from phl.geometries.records import (
    RECORD_TYPES,
    StepRecord,
    StructuresRecord,
    atoms_of,
    geometry_of,
    read_record,
)
from phl.probes import structure_seed
from phl.provenance import provenance
from phl.qm.method import Method
from phl.qm.vibrations import IMAGINARY_THRESHOLD_CM1
from phl.registry import GROUPS, group_of
from phl.settings import Settings, setting

log = logging.getLogger(__name__)

STEPS = ("reactant", "product", "ts", "irc", "nms")
#: The records each step reads.
NEEDS: dict[str, tuple[str, ...]] = {
    "reactant": (),
    "product": (),
    "ts": ("reactant", "product"),
    "irc": ("ts", "reactant", "product"),
    "nms": ("irc",),
}
#: Errors that fail one reaction instead of the run: phl's own (SCF non-convergence, a bad
#: reaction, a breakdown inside Sella/ASE turned into GeometryError at the call). Anything else
#: is a bug in phl and stops the job.
REACTION_ERRORS: tuple[type[BaseException], ...] = (PHLError,)


@dataclass(frozen=True)
class GeometrySettings(Settings):
    """Settings of the geometry stage (forces in eV/Å, ``irc_dx`` in Å amu^½, temperature in K)."""

    what: ClassVar[str] = "geometry"

    fmax: float = setting(0.01, "force convergence of minima (eV/Å)")
    steps: int = setting(200, "maximum Sella steps of a minimisation or TS search")
    ts_fmax: float = setting(0.01, "force convergence of the TS search (eV/Å)")
    irc_fmax: float = setting(0.05, "force convergence of IRC inner loops (eV/Å)")
    neb_steps: int = setting(
        0,
        "climbing-image NEB steps (FIRE, 7 images) refining the IDPP path before the TS search; 0: the highest IDPP "
        "image as it is",
    )
    irc_steps: int = setting(30, "maximum IRC points each way")
    irc_dx: float = setting(0.1, "IRC step (Å amu^½)")
    irc_points: int = setting(4, "IRC structures kept for labelling, evenly spaced (TS and ends excluded)")
    nms_points: int = setting(1, "intermediate IRC structures that are normal-mode sampled (evenly spaced)")
    nms_samples: int = setting(4, "distortions drawn around each sampled IRC structure")
    nms_temperature: float = setting(500.0, "normal-mode sampling temperature (K)")
    nms_seed: int = setting(0, "seed of the normal-mode sampling")

    def __post_init__(self) -> None:
        for name in ("fmax", "ts_fmax", "irc_fmax", "irc_dx", "nms_temperature"):
            if not getattr(self, name) > 0:
                raise InputError(f"geometry setting {name} must be positive, got {getattr(self, name)!r}")
        for name in ("steps", "irc_steps"):
            if getattr(self, name) < 1:
                raise InputError(f"geometry setting {name} must be at least 1, got {getattr(self, name)!r}")
        for name in ("irc_points", "nms_points", "nms_samples", "neb_steps"):
            if getattr(self, name) < 0:
                raise InputError(f"geometry setting {name} must be >= 0, got {getattr(self, name)!r}")


def evenly_spaced(candidates: list[int], n: int) -> list[int]:
    """``n`` entries of ``candidates`` spread evenly (all of them when there are fewer)."""
    if n >= len(candidates):
        return list(candidates)
    if n <= 0:
        return []
    picks = np.linspace(0, len(candidates) - 1, n + 2)[1:-1] if n < len(candidates) - 1 else np.arange(n)
    return [candidates[int(round(p))] for p in picks]


class ReactionJob:
    """Runs the steps of one reaction at the reference level (charge and multiplicity of the reaction)."""

    UNITS = {"energy": "Eh", "positions": "Angstrom", "fmax": "eV/Angstrom", "path_position": "Angstrom"}

    def __init__(self, reaction: Reaction, method: Method, settings: GeometrySettings | None = None) -> None:
        self.reaction = reaction
        self.method = method.replace(charge=reaction.charge, multiplicity=reaction.multiplicity)
        self.settings = settings or GeometrySettings()
        self.calc = ReferenceCalculator(self.method)

    # ------------------------------------------------------------------------------------------
    def run(self, step: str, inputs: dict[str, StepRecord] | None = None) -> StepRecord:
        """Run ``step`` given the records of the earlier steps it needs; never raises for a
        reaction-level failure (:data:`REACTION_ERRORS`): the record says ``failed`` (or
        ``skipped``) with the reason."""
        if step not in STEPS:
            raise InputError(f"unknown geometry step {step!r} (one of {', '.join(STEPS)})")
        inputs = inputs or {}
        cls = RECORD_TYPES[step]
        t0 = time.perf_counter()
        upstream = [name for name, rec in inputs.items() if not rec.ok]
        if upstream:
            fields_ = {"status": "skipped", "reason": f"{upstream[0]} step {inputs[upstream[0]].status}"}
        else:
            try:
                self.calc.forget_restart()  # no SCF restart from the previous step's density
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    fields_ = getattr(self, "_" + step)(inputs)
            except REACTION_ERRORS as exc:
                log.warning("reaction %s, step %s failed:\n%s", self.reaction.id, step, traceback.format_exc())
                fields_ = {"status": "failed", "reason": f"{type(exc).__name__}: {' '.join(str(exc).split())}"}
        return cls(
            reaction=self.reaction.id,
            step=step,
            **fields_,
            method=self.method.to_dict(),
            settings=self.settings.to_dict(),
            units=dict(self.UNITS),
            provenance=provenance(
                extra_packages=("sella",),
                seconds=round(time.perf_counter() - t0, 2),
                scf_calls=self.calc.n_scf,
                backend=self.calc.engine.backend,
                hessian_mode=self.calc.engine.hessian_mode,
                imaginary_threshold_cm1=IMAGINARY_THRESHOLD_CM1,
            ),
        )

    @staticmethod
    def _point(point: StationaryPoint, kind: str, expected_imaginary: int) -> dict[str, Any]:
        ok = point.converged and point.n_imaginary == expected_imaginary
        reason = ""
        if not point.converged:
            reason = f"{kind} search did not converge in {point.steps} steps"
        elif point.n_imaginary != expected_imaginary:
            reason = f"{kind} has {point.n_imaginary} imaginary mode(s), expected {expected_imaginary}"
        return {
            "status": "ok" if ok else "failed",
            "reason": reason,
            "energy": point.energy,
            "converged": point.converged,
            "steps": point.steps,
            "n_imaginary": point.n_imaginary,
            "frequencies_cm1": point.vibrations.frequencies.tolist(),
            **geometry_of(point.atoms),
        }

    def _minimum(self, atoms: Atoms) -> dict[str, Any]:
        s = self.settings
        return self._point(minimize(atoms, self.calc, fmax=s.fmax, steps=s.steps), "minimum", 0)

    def _reactant(self, inputs: dict[str, StepRecord]) -> dict[str, Any]:
        return self._minimum(self.reaction.reactant)

    def _product(self, inputs: dict[str, StepRecord]) -> dict[str, Any]:
        return self._minimum(self.reaction.product)

    def _ts(self, inputs: dict[str, StepRecord]) -> dict[str, Any]:
        s = self.settings
        if self.reaction.ts_guess is not None:
            guess, source = self.reaction.ts_guess, "given"
        else:
            guess = interpolated_guess(
                atoms_of(inputs["reactant"]), atoms_of(inputs["product"]), self.calc, climb_steps=s.neb_steps
            )
            source = "IDPP interpolation" + (f" + {s.neb_steps} climbing-image NEB steps" if s.neb_steps else "")
        fields_ = self._point(find_transition_state(guess, self.calc, fmax=s.ts_fmax, steps=s.steps), "TS", 1)
        return {**fields_, "guess": source}

    def _irc(self, inputs: dict[str, StepRecord]) -> dict[str, Any]:
        s = self.settings
        result = run_irc(
            atoms_of(inputs["ts"]), self.calc, fmax=s.irc_fmax, steps=s.irc_steps, dx=s.irc_dx, min_fmax=s.fmax
        )
        connects = irc_connects(result, atoms_of(inputs["reactant"]), atoms_of(inputs["product"]))
        ts_index = int(np.argmin(np.abs(result.path_position)))
        interior = [i for i in range(1, len(result.points) - 1) if i != ts_index]
        return {
            "status": "ok" if connects else "failed",
            "reason": ""
            if connects
            else "IRC end points are not reactant and product (bond graphs, up to equivalent atoms)",
            "connects": connects,
            "notes": result.notes,
            "ts_index": ts_index,
            "path_position": result.path_position.tolist(),
            "points": [a.get_positions().tolist() for a in result.points],
            "symbols": result.points[0].get_chemical_symbols(),
            "kept": evenly_spaced(interior, s.irc_points),
            "ends": {
                d: {"energy": e.energy, "n_imaginary": e.n_imaginary, **geometry_of(e.atoms)}
                for d, e in (("forward", result.forward_end), ("reverse", result.reverse_end))
            },
        }

    def _nms(self, inputs: dict[str, StepRecord]) -> dict[str, Any]:
        s = self.settings
        irc = inputs["irc"]
        samples = []
        for i in evenly_spaced(irc.interior(), s.nms_points):
            atoms = Atoms(symbols=irc.symbols, positions=irc.points[i])
            hessian = self.calc.hessian(atoms)
            seed = structure_seed(s.nms_seed, self.reaction.id, i)  # distinct per reaction and IRC point
            for sample in sample_normal_modes(atoms, hessian, s.nms_samples, s.nms_temperature, seed=seed):
                samples.append({"irc_index": i, "harmonic_energy": sample.harmonic_energy, **geometry_of(sample.atoms)})
        return {"status": "ok", "samples": samples}


def collect(
    reaction_id: str, records: dict[str, StepRecord], charge: int = 0, multiplicity: int = 1
) -> StructuresRecord:
    """The structures a reaction contributes (none unless every step it ran is ``ok``), each with a
    name, category (reactant, product, ts, irc, nms) and geometry; plus the outcome row of the
    summary table. ``records`` holds the steps of the reaction's role in the sampling design:
    reactant, product and ts always, irc and nms where the design asks for them."""
    steps = [s for s in STEPS if s in records]
    missing = [s for s in STEPS[:3] if s not in records] + (
        ["irc"] if "nms" in records and "irc" not in records else []
    )
    if missing:
        raise InputError(f"reaction {reaction_id}: missing step record(s) {', '.join(missing)}")
    bad = next((s for s in steps if not records[s].ok), None)
    structures: list[dict] = []
    if bad is None:
        for step in ("reactant", "product", "ts"):
            structures.append({"name": step, "category": step, **geometry_of(atoms_of(records[step]))})
        irc = records.get("irc")
        for i in irc.kept if irc is not None else []:
            structures.append(
                {
                    "name": f"irc_{i:03d}",
                    "category": "irc",
                    "symbols": irc.symbols,
                    "positions": irc.points[i],
                    "path_position": irc.path_position[i],
                }
            )
        nms = records.get("nms")
        for k, sample in enumerate(nms.samples if nms is not None else []):
            structures.append(
                {
                    "name": f"nms_{k:03d}",
                    "category": "nms",
                    "symbols": sample["symbols"],
                    "positions": sample["positions"],
                    "irc_index": sample["irc_index"],
                }
            )
    failed = next((s for s in steps if records[s].status == "failed"), None)
    culprit = failed or bad
    return StructuresRecord(
        reaction=reaction_id,
        status="ok" if bad is None else "failed",
        failed_step=culprit or "",
        reason=records[culprit].reason if culprit else "",
        seconds=round(sum(float(r.provenance.get("seconds", 0.0)) for r in records.values()), 1),
        structures=structures,
        charge=charge,
        multiplicity=multiplicity,
    )


def structure_counts(collected: StructuresRecord) -> dict[str, int]:
    """Structures per reporting group (RTP, IRC, NMS) of a collected reaction."""
    counts = dict.fromkeys(GROUPS, 0)
    for s in collected.structures:
        group = group_of(s["category"])
        if group not in counts:
            raise InputError(f"reaction {collected.reaction}: unknown structure category {s['category']!r}")
        counts[group] += 1
    return counts


def summary_table(collected: list[StructuresRecord]):
    """One row per reaction: status, failed step, reason, seconds and structures per category."""
    import pandas as pd

    rows = [
        {
            "reaction": c.reaction,
            "status": c.status,
            "failed_step": c.failed_step,
            "reason": c.reason,
            **{f"n_{k}": v for k, v in structure_counts(c).items()},
            "seconds": c.seconds,
        }
        for c in collected
    ]
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


SUMMARY_COLUMNS = ["reaction", "status", "failed_step", "reason", *(f"n_{g}" for g in GROUPS), "seconds"]


def read_summary_rows(path: str | Path):
    """A summary table (CSV) written by ``phl reaction summary`` or ``phl batch geometries``."""
    import pandas as pd

    try:
        table = pd.read_csv(path, keep_default_na=False, dtype={"reaction": str, "failed_step": str, "reason": str})
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable geometry summary: {exc}") from None
    missing = [c for c in SUMMARY_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(f"{path}: not a geometry summary (no column {', '.join(missing)})")
    return table[SUMMARY_COLUMNS]


def summary_report(table, details: int = 50) -> str:
    """The text ``phl reaction summary`` prints: the table and each failure (the first ``details``
    of each at paper scale), failures counted by step, and the totals."""
    failed = table[table.status != "ok"]
    shown = table.drop(columns=["reason"])
    lines = [shown.head(details).to_string(index=False)]
    if len(table) > details:
        lines.append(f"... {len(table) - details} more reactions")
    lines += [f"failed: {row.reaction} at {row.failed_step}: {row.reason}" for row in failed.head(details).itertuples()]
    if len(failed) > details:
        lines.append(f"... {len(failed) - details} more failures")
    if len(failed):
        by_step = failed.groupby("failed_step").size()
        lines.append("failures by step: " + ", ".join(f"{step} {n}" for step, n in by_step.items()))
    if "class" in table.columns:
        kept = table.assign(ok=table.status == "ok").groupby(table["class"].fillna("unclassified"))["ok"]
        lines.append("kept per class: " + ", ".join(f"{c} {int(k.sum())}/{len(k)}" for c, k in kept))
    totals = ", ".join(f"{g} {table[f'n_{g}'].sum()}" for g in GROUPS)
    lines.append(f"{len(table) - len(failed)} of {len(table)} reactions ok; structures: {totals}")
    return "\n".join(lines)


def read_structure(path: str | Path, index: int) -> tuple[Atoms, dict]:
    """Structure ``index`` of a ``structures.json`` (from :func:`collect`), with its metadata,
    checked as a molecule (elements, finite coordinates, no overlapping atoms)."""
    if index < 0:
        raise InputError(f"structure index must be >= 0, got {index}")
    return structure_at(read_record(path, "structures"), index, path)


def structure_at(data: StructuresRecord, index: int, path: str | Path) -> tuple[Atoms, dict]:
    """Structure ``index`` of a read ``structures.json`` record (see :func:`read_structure`)."""
    if not 0 <= index < len(data.structures):
        raise InputError(f"{path}: no structure {index} (it has {len(data.structures)})")
    entry = data.structures[index]
    where = f"{path}: structure {index}"
    missing = [k for k in ("name", "category", "symbols", "positions") if not isinstance(entry, dict) or k not in entry]
    if missing:
        raise InputError(f"{where}: missing key(s) {', '.join(repr(k) for k in missing)}")
    unknown = [s for s in entry["symbols"] if not isinstance(s, str) or atomic_numbers.get(s, 0) == 0]
    if unknown:
        raise InputError(f"{where}: unknown element {unknown[0]!r}")
    positions = np.asarray(entry["positions"], dtype=float) if _numeric(entry["positions"]) else None
    if positions is None or positions.shape != (len(entry["symbols"]), 3):
        raise InputError(f"{where}: positions must be {len(entry['symbols'])} rows of x y z numbers")
    atoms = Atoms(symbols=entry["symbols"], positions=positions)
    validate_atoms(atoms, where)
    meta = {"name": entry["name"], "category": entry["category"], "reaction": data.reaction}
    return atoms, {**meta, "charge": data.charge, "multiplicity": data.multiplicity}


def _numeric(value: Any) -> bool:
    try:
        np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return False
    return True
