"""Two or more runs of the workflow side by side (``phl compare``): e.g. ANI and MACE trained on
the same data. Reads each run's tables (``accuracy``, ``curvature_ttests``, ``timings``) and
writes one row per (model, run, data set): mean RMSEs over the seeds, the Hessian RMSE's change
against the same model's E-F with the paired t-test's p and n, and seconds per epoch with their
ratio to E-F. Runs evaluated on different structures are named on the page, never compared
silently."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from phl.errors import InputError
from phl.results.tables import to_markdown

#: What ``phl compare`` reads from each tables folder (accuracy.csv is required, the others optional).
READS = ("accuracy.csv", "curvature_ttests.csv", "timings.csv")

COLUMNS = [
    "model",
    "run",
    "group",
    "n_seeds",
    "n_structures",
    "energy_rmse",
    "forces_rmse",
    "hessian_rmse",
    "hessian_change_vs_ef_pct",
    "hessian_p_value",
    "hessian_n",
    "sec_per_epoch",
    "epoch_ratio_to_ef",
]


def parse_tables(items: list[str]) -> dict[str, Path]:
    """``LABEL=FOLDER`` arguments → {label: folder}; each folder must hold the tables read here."""
    out: dict[str, Path] = {}
    for item in items:
        label, sep, folder = item.partition("=")
        if not sep or not label or not folder:
            raise InputError(f"expected LABEL=TABLES_FOLDER (e.g. MACE=results/tables), got {item!r}")
        if label in out:
            raise InputError(f"label {label!r} given twice")
        path = Path(folder)
        if not (path / "accuracy.csv").is_file():
            raise InputError(f"{path}: no accuracy.csv (a tables folder of 'phl results tables' is expected)")
        out[label] = path
    if len(out) < 2:
        raise InputError("give at least two LABEL=TABLES_FOLDER to compare")
    return out


def _model_rows(label: str, folder: Path) -> pd.DataFrame:
    acc = pd.read_csv(folder / "accuracy.csv")
    rows = acc[["run", "group", "n_seeds", "n_structures"]].copy()
    for prop in ("energy", "forces", "hessian"):
        rows[f"{prop}_rmse"] = acc[f"{prop}_rmse_mean"]
    rows.insert(0, "model", label)
    tests = folder / "curvature_ttests.csv"
    if tests.is_file():
        t = pd.read_csv(tests)
        t = t[(t["versus"] == "ef") & (t["property"] == "hessian")]
        t = t.assign(group=t["group"].replace({"Test": "RTP"}))[["run", "group", "change_percent", "p_value", "n"]]
        t.columns = ["run", "group", "hessian_change_vs_ef_pct", "hessian_p_value", "hessian_n"]
        rows = rows.merge(t, on=["run", "group"], how="left")
    timings = folder / "timings.csv"
    if timings.is_file():
        tm = pd.read_csv(timings)[["run", "sec_per_epoch_mean", "ratio_to_ef"]]
        tm.columns = ["run", "sec_per_epoch", "epoch_ratio_to_ef"]
        rows = rows.merge(tm, on="run", how="left")
    rows = rows.reindex(columns=COLUMNS)
    for column in ("n_seeds", "n_structures", "hessian_n"):
        rows[column] = rows[column].astype("Int64")
    return rows


def compare(tables: dict[str, Path]) -> tuple[pd.DataFrame, list[str]]:
    """The side-by-side table and the notes the page must carry (different structures evaluated)."""
    frames = [_model_rows(label, folder) for label, folder in tables.items()]
    df = pd.concat(frames, ignore_index=True)
    notes = []
    counts = df.groupby(["group", "model"])["n_structures"].max().unstack("model")
    for group, row in counts.iterrows():
        if row.nunique(dropna=True) > 1:
            given = ", ".join(f"{m} {int(n)}" for m, n in row.dropna().items())
            notes.append(f"{group}: the models were evaluated on different numbers of structures ({given})")
    return df, notes


def write_comparison(tables: dict[str, Path], out: str | Path) -> tuple[pd.DataFrame, list[str]]:
    """Write the comparison as ``out`` (.md) and the same rows beside it (.csv)."""
    from phl.io.atomic import atomic_write_text

    df, notes = compare(tables)
    out = Path(out)
    sources = "; ".join(f"{label}: {folder}" for label, folder in tables.items())
    note = (
        f"Tables of {sources}. RMSEs (kcal/mol, /Å, /Å²) are means over seeds, per-molecule convention; "
        "the Hessian change and its paired t-test are against the same model's E-F run."
    )
    if notes:
        note += " Warning: " + "; ".join(notes) + "."
    atomic_write_text(out, to_markdown(df, "model comparison", note))
    atomic_write_text(out.with_suffix(".csv"), df.to_csv(index=False))
    return df, notes
