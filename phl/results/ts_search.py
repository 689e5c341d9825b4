"""Downstream test beyond the paper: transition-state search with a trained model's own Hessian.

For every reaction whose geometry stage succeeded, Sella (order 1, internal coordinates) runs on
the model's potential (:class:`phl.ml_calculator.MLCalculator`, exact model Hessian through
``hessian_function``) from the same guess the reference search used (the reaction's ``ts_guess``,
else the IDPP guess between the model's own minima). Reported per reaction:

    success        converged with exactly one imaginary mode of the model Hessian (> 50 cm⁻¹)
    rmsd           Å, to the reference TS after optimal translation and rotation (Kabsch)
    barrier_error  kcal/mol, model barrier E(TS) − E(reactant) (both optimised on the model)
                   minus the reference barrier
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from ase import Atoms

from phl.calculators import HessianCalculator, MLCalculator
from phl.errors import GeometryError, InputError
from phl.geometries.pathways import interpolated_guess, sella_optimize
from phl.geometries.reactions import load_selected, reaction_ids
from phl.geometries.records import PointRecord, atoms_of, read_record
from phl.models.checkpoint import model_of, read_checkpoint, trained_level_of_theory
from phl.qm.method import level_of_theory
from phl.qm.vibrations import harmonic_analysis
from phl.registry import parse_run
from phl.results.seeds import seeds_of
from phl.units import HARTREE_TO_KCAL_MOL


def kabsch_rmsd(a: Atoms, b: Atoms) -> float:
    """RMSD (Å) of ``a`` to ``b`` after the best rotation and translation (same atom order)."""
    from ase.build import minimize_rotation_and_translation

    moved = a.copy()
    minimize_rotation_and_translation(b, moved)
    return float(np.sqrt(np.mean(np.sum((moved.positions - b.positions) ** 2, axis=1))))


def search_reaction(
    calc: HessianCalculator, reaction, records: dict[str, PointRecord], fmax: float = 0.01, steps: int = 300
) -> dict:
    """TS search on the model for one reaction, against the reference records of its geometry
    stage. A breakdown inside Sella or ASE (:class:`GeometryError`) is a failed search, recorded
    in ``note``; any other exception propagates."""

    def optimise(atoms: Atoms, order: int) -> tuple[Atoms, bool]:
        atoms = atoms.copy()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            converged, _ = sella_optimize(atoms, calc, order, fmax, steps)
        return atoms, converged

    try:
        reactant, _ = optimise(atoms_of(records["reactant"]), 0)
        if reaction.ts_guess is not None:
            guess = reaction.ts_guess
        else:
            product, _ = optimise(atoms_of(records["product"]), 0)
            guess = interpolated_guess(reactant, product, calc)
        ts, converged = optimise(guess, 1)
    except GeometryError as exc:
        return {
            "reaction": reaction.id,
            "converged": False,
            "n_imaginary": np.nan,
            "success": False,
            "rmsd": np.nan,
            "barrier_error": np.nan,
            "note": str(exc),
        }
    n_imag = harmonic_analysis(ts.get_chemical_symbols(), ts.positions, calc.hessian(ts)).count_imaginary()
    barrier_model = calc.energy_eh(ts) - calc.energy_eh(reactant)
    barrier_ref = records["ts"].energy - records["reactant"].energy
    return {
        "reaction": reaction.id,
        "converged": converged,
        "n_imaginary": n_imag,
        "success": bool(converged and n_imag == 1),
        "rmsd": kabsch_rmsd(ts, atoms_of(records["ts"])),
        "barrier_error": (barrier_model - barrier_ref) * HARTREE_TO_KCAL_MOL,
        "note": "",
    }


def search_all(checkpoint: str | Path, reactions_file: str | Path, geometries_dir: str | Path) -> pd.DataFrame:
    """One row per reaction whose geometry stage is ``ok`` (see the module docstring). Every
    input (reaction list, geometry records, model) is read before the first search."""
    if not Path(geometries_dir).is_dir():
        raise InputError(f"{geometries_dir}: no such folder of geometry-stage records")
    record = read_checkpoint(checkpoint)
    calc = MLCalculator(model_of(record, checkpoint))
    ok, records = [], []
    for rid in reaction_ids(reactions_file):
        folder = Path(geometries_dir) / rid
        if not read_record(folder / "structures.json", "structures").ok:
            continue
        ok.append(rid)
        records.append({step: read_record(folder / f"{step}.json", step) for step in ("reactant", "product", "ts")})
    trained = trained_level_of_theory(record, checkpoint)
    levels = sorted({level_of_theory(r.method) for recs in records for r in recs.values() if r.method} - {None})
    if trained and levels and levels != [trained]:
        raise InputError(
            f"{checkpoint} was trained on {trained} labels and the reference records in {geometries_dir} are "
            f"{', '.join(levels)}; search with the geometry stage of the model's own level of theory"
        )
    reactions = load_selected(reactions_file, ok)  # one read of the list, not one per reaction
    rows = [search_reaction(calc, reaction, recs) for reaction, recs in zip(reactions, records)]
    return pd.DataFrame(
        rows, columns=["reaction", "converged", "n_imaginary", "success", "rmsd", "barrier_error", "note"]
    )


def ts_search_table(ts_dir: str | Path, runs: list[str], seeds) -> pd.DataFrame:
    """Per run: success rate, mean RMSD (Å) and barrier MAE (kcal/mol), mean ± std over seeds."""
    out = []
    for run in runs:
        per_seed = []
        for seed in seeds_of(seeds, run):
            path = Path(ts_dir) / run / f"seed{seed}.csv"
            if not path.is_file():
                raise InputError(f"{path}: missing TS search of run {run}, seed {seed}")
            df = pd.read_csv(path)
            per_seed.append(
                {
                    "success_rate": df["success"].mean() if len(df) else np.nan,
                    "rmsd": df["rmsd"].mean() if len(df) else np.nan,
                    "barrier_mae": df["barrier_error"].abs().mean() if len(df) else np.nan,
                    "n_reactions": len(df),
                }
            )
        ps = pd.DataFrame(per_seed)
        rec = {"run": run, "label": parse_run(run).label, "n_reactions": int(ps["n_reactions"].max())}
        for col in ("success_rate", "rmsd", "barrier_mae"):
            rec[f"{col}_mean"] = ps[col].mean()
            rec[f"{col}_std"] = ps[col].std(ddof=1) if len(ps) > 1 else np.nan
        out.append(rec)
    return pd.DataFrame(out)
