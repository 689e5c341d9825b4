"""Accuracy of a trained model on a data set, structure by structure.

For every structure of the evaluated parts (default: the test part of the split and the held-out
categories), one row with the sums needed for exact RMSE/MAE pooling over any group:

    energy_err           E_model − E_ref (kcal/mol)
    forces_sse/sae/n     Σ (ΔF)², Σ |ΔF| over the 3N components (kcal/mol/Å)
    hessian_sse/sae/n    Σ (ΔH)², Σ |ΔH| over the (3N)² elements (kcal/mol/Å²), where a reference Hessian exists
    freq_sae/freq_n      Σ |Δν| over the 3N−6 (3N−5) harmonic frequencies (cm⁻¹, translations and rotations
                         projected out; imaginary modes as negative numbers)
    ts                   the reference Hessian has exactly one imaginary mode (> 50 cm⁻¹): a transition state
    ts_sign_ok           the model's lowest mode is imaginary too
    ts_mode_overlap      |cos| between the model's and the reference's lowest normal modes

Group metrics (:func:`metrics`): RMSEs per molecule as the paper computes them (every molecule
weighs the same), pooled RMSEs and MAEs over all components, frequency MAE over all modes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from phl.dataset.batching import BatchLoader
from phl.dataset.schema import SPLIT_NAMES, SPLITS
from phl.dataset.store import Dataset
from phl.errors import InputError
from phl.models import energy_forces, hessian
from phl.qm.vibrations import harmonic_analysis
from phl.registry import group_of
from phl.units import HARTREE_TO_KCAL_MOL

PROPERTIES = ("energy", "forces", "hessian")
#: Structures per batch when model Hessians are computed. Measured on the science data set (947
#: structures of 3-18 atoms, sorted by size, one CPU thread): 100 -> 82 s, 32 -> 67 s, 16 -> 61 s,
#: 8 -> 55 s for all their model Hessians; larger batches pay for padding and for the memory of
#: 3N-wide vmapped products.
HESSIAN_BATCH_SIZE = 8
UNITS = {"energy": "kcal/mol", "forces": "kcal/mol/Å", "hessian": "kcal/mol/Å²", "frequencies": "cm⁻¹"}


def _vibrations(symbols, positions, hess):
    vib = harmonic_analysis(symbols, positions, hess)
    return vib, vib.count_imaginary()


def evaluate_model(
    model: torch.nn.Module,
    dataset_path: str | Path,
    split: str = "paper",
    parts: tuple[str, ...] = ("test", "heldout"),
    batch_size: int = 100,
    frequencies: bool = True,
    hessian_batch_size: int = HESSIAN_BATCH_SIZE,
    trained_on: str | None = None,
) -> pd.DataFrame:
    """One row per evaluated structure (see the module docstring). ``trained_on``: the level of
    theory of the model's training labels (:func:`phl.models.checkpoint.trained_level_of_theory`);
    labels of another level are refused, since the errors would be the difference of two methods,
    recorded as the model's.

    Structures go through the model in order of size, so that a batch pads to molecules of about its
    own size; those with a reference Hessian in batches of ``hessian_batch_size`` (their model
    Hessians cost 3N backward passes each), the others in batches of ``batch_size``."""
    for name, value in (("batch_size", batch_size), ("hessian_batch_size", hessian_batch_size)):
        if value < 1:
            raise InputError(f"{name} must be at least 1, got {value}")
    from ase.data import chemical_symbols

    device = next(model.parameters()).device
    dtype = next(model.parameters()).dtype
    rows = []
    with Dataset(dataset_path) as ds:
        if trained_on and ds.level_of_theory and trained_on != ds.level_of_theory:
            raise InputError(
                f"the model was trained on {trained_on} labels and {dataset_path} holds {ds.level_of_theory} labels; "
                "evaluate it on a data set of its own level of theory"
            )
        if split not in ds.split_names():
            raise InputError(f"{dataset_path}: no split {split!r} (has {', '.join(ds.split_names()) or 'none'})")
        codes = ds.split(split)
        wanted = [SPLITS[p] for p in parts]
        idx = np.flatnonzero(np.isin(codes, wanted))
        if not len(idx):
            raise InputError(f"{dataset_path}: split {split!r} has no structures in {', '.join(parts)}")
        has_h = ds.has_hessian
        for with_h in (True, False):
            sel = idx[has_h[idx] == with_h]
            if not len(sel):
                continue
            sel = sel[np.argsort(ds.columns["n_atoms"][sel], kind="stable")]
            size = hessian_batch_size if with_h else batch_size
            loader = BatchLoader(ds, sel, batch_size=size, shuffle=False, hessian=with_h, dtype=dtype)
            for batch in loader:
                batch = batch.to(device)
                energy, forces, coords = energy_forces(model, batch.species, batch.coordinates, create_graph=with_h)
                hess = hessian(forces, coords, create_graph=False).detach() if with_h else None
                for b in range(len(batch)):
                    i, n = int(batch.index[b]), int(batch.n_atoms[b])
                    df = (forces[b, :n].detach() - batch.forces[b, :n]).cpu().numpy().ravel() * HARTREE_TO_KCAL_MOL
                    row = {
                        "index": i,
                        "level_of_theory": ds.level_of_theory or "",
                        "category": str(ds.category_names[i]),
                        "reaction": ds.reaction_of(i) or "",
                        "part": SPLIT_NAMES[int(codes[i])],
                        "n_atoms": n,
                        "energy_err": float(energy[b].detach() - batch.energy[b]) * HARTREE_TO_KCAL_MOL,
                        "forces_sse": float(np.sum(df**2)),
                        "forces_sae": float(np.sum(np.abs(df))),
                        "forces_n": df.size,
                        "hessian_sse": np.nan,
                        "hessian_sae": np.nan,
                        "hessian_n": 0,
                        "freq_sae": np.nan,
                        "freq_n": 0,
                        "ts": False,
                        "ts_sign_ok": np.nan,
                        "ts_mode_overlap": np.nan,
                    }
                    if with_h:
                        h_model = hess[b, : 3 * n, : 3 * n].cpu().numpy()
                        h_model = 0.5 * (h_model + h_model.T)
                        h_ref = batch.hessian[b, : 3 * n, : 3 * n].cpu().numpy()
                        dh = (h_model - h_ref).ravel() * HARTREE_TO_KCAL_MOL
                        row.update(
                            hessian_sse=float(np.sum(dh**2)), hessian_sae=float(np.sum(np.abs(dh))), hessian_n=dh.size
                        )
                        if frequencies and n > 1:
                            symbols = [chemical_symbols[z] for z in batch.species[b, :n].cpu().numpy()]
                            pos = batch.coordinates[b, :n].cpu().numpy()
                            vib_ref, n_imag = _vibrations(symbols, pos, h_ref)
                            vib_model, n_imag_model = _vibrations(symbols, pos, h_model)
                            m = min(len(vib_ref.frequencies), len(vib_model.frequencies))
                            row.update(
                                freq_sae=float(np.sum(np.abs(vib_model.frequencies[:m] - vib_ref.frequencies[:m]))),
                                freq_n=m,
                            )
                            if n_imag == 1:
                                a, c = vib_ref.modes[0].ravel(), vib_model.modes[0].ravel()
                                row.update(
                                    ts=True,
                                    ts_sign_ok=float(n_imag_model >= 1 and vib_model.frequencies[0] < 0),
                                    ts_mode_overlap=float(abs(a @ c) / (np.linalg.norm(a) * np.linalg.norm(c))),
                                )
                    rows.append(row)
    return pd.DataFrame(rows).sort_values("index").reset_index(drop=True)


def metrics(rows: pd.DataFrame) -> dict[str, float]:
    """Errors of a group of rows (structures).

    RMSEs in the paper's convention, every molecule weighing the same: energy
    sqrt(mean_i ΔE_i²), forces sqrt(mean_i ‖ΔF_i‖²/(3N_i)), Hessian sqrt(mean_i ‖ΔH_i‖²/(3N_i)²)
    over the structures that have the property. ``*_rmse_pooled`` pools all components instead
    (a structure weighs (3N)² in the Hessian RMSE). MAEs pool components; the frequency MAE pools
    modes; TS checks average over transition states."""
    out: dict[str, float] = {"n_structures": len(rows)}
    e = rows["energy_err"].to_numpy()
    out["energy_rmse"] = float(np.sqrt(np.mean(e**2))) if len(e) else np.nan
    out["energy_mae"] = float(np.mean(np.abs(e))) if len(e) else np.nan
    for prop in ("forces", "hessian"):
        has = rows[rows[f"{prop}_n"] > 0]
        n = has[f"{prop}_n"].sum()
        out[f"{prop}_rmse"] = float(np.sqrt(np.mean(has[f"{prop}_sse"] / has[f"{prop}_n"]))) if n else np.nan
        out[f"{prop}_rmse_pooled"] = float(np.sqrt(has[f"{prop}_sse"].sum() / n)) if n else np.nan
        out[f"{prop}_mae"] = float(has[f"{prop}_sae"].sum() / n) if n else np.nan
    n = rows["freq_n"].sum()
    out["freq_mae"] = float(rows["freq_sae"].sum(min_count=1) / n) if n else np.nan
    ts = rows[rows["ts"].astype(bool)]
    out["n_ts"] = len(ts)
    out["ts_sign_rate"] = float(ts["ts_sign_ok"].mean()) if len(ts) else np.nan
    out["ts_mode_overlap"] = float(ts["ts_mode_overlap"].mean()) if len(ts) else np.nan
    return out


def group_summaries(rows: pd.DataFrame) -> str:
    """One line per reporting group: structures and RMSEs (what ``phl evaluate`` prints)."""
    lines = []
    for group, g in rows.groupby(rows["category"].map(group_of)):
        m = metrics(g)
        lines.append(
            f"{group}: {m['n_structures']} structures, RMSE E {m['energy_rmse']:.3f} kcal/mol, "
            f"F {m['forces_rmse']:.3f} kcal/mol/Å, H {m['hessian_rmse']:.3f} kcal/mol/Å²"
        )
    return "\n".join(lines)
