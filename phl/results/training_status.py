"""How each training run (run, seed) stopped, read from its ``final.json`` and ``log.csv``.

A run stops when its plateau schedule takes the learning rate below ``min_lr`` (``stopped_by:
min_lr``: trained to its plateau) or at the epoch cap (``max_epochs``). A capped run may still have
been learning: over its last :func:`trend_window` epochs, the best validation RMSE of each property
is compared with the best before them (``val_*_trend_pct``, negative: still falling). A capped run
whose energy, force or Hessian validation RMSE fell by more than :data:`IMPROVING_PCT` percent over
that window is ``still_improving``: results that involve it compare a model that had not finished.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from phl.errors import InputError
from phl.registry import parse_run
from phl.results.seeds import Seeds, seeds_of

#: the validation RMSEs of the training log, by property
VALIDATION = {"energy": "val_energy_rmse", "forces": "val_forces_rmse", "hessian": "val_hessian_rmse"}
#: longest window (epochs) over which the end-of-training trend is measured
TREND_EPOCHS = 10
#: a fall of the best validation RMSE by more than this (percent) over the window: still improving
IMPROVING_PCT = 1.0
COLUMNS = [
    "run",
    "label",
    "seed",
    "epochs",
    "max_epochs",
    "stopped_by",
    "best_epoch",
    "lr_reductions",
    "final_lr",
    "trend_epochs",
    *(f"{p}_trend_pct" for p in VALIDATION),
    "still_improving",
    "level_of_theory",
    "n_train",
    "n_val",
]


def trend_window(epochs: int) -> int:
    """Epochs at the end of a run whose trend is measured: a fifth of the run, 1 to 10 epochs."""
    return min(TREND_EPOCHS, max(1, epochs // 5))


def trend_pct(values: pd.Series, window: int) -> float:
    """Change (%) of the best value of the last ``window`` epochs against the best before them
    (NaN where the run is too short or the property was not validated)."""
    values = pd.to_numeric(values, errors="coerce")
    before, last = values.iloc[:-window].min(), values.iloc[-window:].min()
    if len(values) <= window or not (np.isfinite(before) and np.isfinite(last)) or before == 0:
        return np.nan
    return float(100.0 * (last - before) / before)


def run_status(final: dict, log: pd.DataFrame) -> dict:
    """The status row of one run from its final summary and its per-epoch log."""
    epochs = int(final.get("epochs", len(log)))
    window = trend_window(len(log))
    lr = pd.to_numeric(log["lr"], errors="coerce").to_numpy() if "lr" in log else np.array([])
    data = final.get("data") or {}
    row = {
        "epochs": epochs,
        "max_epochs": (final.get("config") or {}).get("max_epochs"),
        "stopped_by": final.get("stopped_by", ""),
        "best_epoch": final.get("best_epoch"),
        "lr_reductions": int(np.sum(np.diff(lr) < 0)) if len(lr) > 1 else 0,
        "final_lr": float(lr[-1]) if len(lr) else np.nan,
        "trend_epochs": window,
        "level_of_theory": final.get("level_of_theory") or "",
        "n_train": data.get("n_train"),
        "n_val": data.get("n_val"),
    }
    for prop, column in VALIDATION.items():
        row[f"{prop}_trend_pct"] = trend_pct(log[column], window) if column in log else np.nan
    trends = [row[f"{p}_trend_pct"] for p in VALIDATION]
    row["still_improving"] = bool(
        row["stopped_by"] == "max_epochs" and any(np.isfinite(t) and t < -IMPROVING_PCT for t in trends)
    )
    return row


def status_table(train_dir: str | Path, logs: pd.DataFrame, runs: list[str], seeds: Seeds) -> pd.DataFrame:
    """One row per run and seed, from its ``final.json`` and its rows of ``logs`` (the training logs
    :func:`phl.results.tables.load_logs` has read; a run without ``final.json`` has not ended: an error)."""
    rows = []
    for run in runs:
        for seed in seeds_of(seeds, run):
            final = Path(train_dir) / run / f"seed{seed}" / "final.json"
            if not final.is_file():
                raise InputError(f"{final}: missing (run {run}, seed {seed} has not ended)")
            log = logs[(logs["run"] == run) & (logs["seed"] == seed)].reset_index(drop=True)
            status = run_status(json.loads(final.read_text()), log)
            rows.append({"run": run, "label": parse_run(run).label, "seed": seed, **status})
    return pd.DataFrame(rows, columns=COLUMNS)
