"""Result tables over the evaluations of all training runs (the paper's tables and more).

A *run* is one regime with one probe mode (``ef``, ``efh``, ``hvp-onehot-randomized``,
``hvp-random-fixed``, ...) trained with several seeds. Inputs are the per-structure evaluation
tables of :func:`phl.results.evaluate.evaluate_model` (one per run and seed) and the training logs.

* accuracy: per run and group (RTP test, IRC, NMS) the RMSE and MAE of energy, forces and Hessians
  and the frequency MAE, as mean and standard deviation over seeds (the ensemble spread);
* change vs E-F: percentage change of each run's mean RMSE against the E-F run;
* t-tests: one-hot against Hutchinson probes, for randomized and fixed probes, per property and
  data set, on the RMSEs of the trained models paired by seed (:mod:`phl.results.statistics`),
  also laid out as the paper's Tables 1 and 2;
* timings: seconds per epoch and peak memory per run (mean ± std over seeds and epochs).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from phl.errors import InputError
from phl.io.atomic import atomic_write_text
from phl.registry import GROUPS, group_of, parse_run
from phl.results.evaluate import metrics
from phl.results.paper import comparison_table, scale_note
from phl.results.seeds import Seeds, seeds_of
from phl.results.statistics import curvature_ttests, paper_layout, rmse_per_seed, ttest_table
from phl.results.training_status import IMPROVING_PCT, status_table
from phl.results.ts_search import ts_search_table

METRICS = (
    "energy_rmse",
    "forces_rmse",
    "hessian_rmse",
    "forces_rmse_pooled",
    "hessian_rmse_pooled",
    "energy_mae",
    "forces_mae",
    "hessian_mae",
    "freq_mae",
)


def level_of_theory_of(rows: pd.DataFrame) -> str | None:
    """The reference method every evaluation was made against (an error if they differ)."""
    if "level_of_theory" not in rows.columns:
        return None
    levels = sorted({str(v) for v in rows["level_of_theory"].dropna().unique() if str(v)})
    if len(levels) > 1:
        raise InputError(f"evaluations against different reference methods: {', '.join(levels)}")
    return levels[0] if levels else None


def load_evaluations(eval_dir: str | Path, runs: list[str], seeds: Seeds) -> pd.DataFrame:
    """All per-structure rows with ``run`` and ``seed`` columns (a missing file is an error)."""
    frames = []
    for run in runs:
        parse_run(run)
        for seed in seeds_of(seeds, run):
            path = Path(eval_dir) / run / f"seed{seed}.csv"
            if not path.is_file():
                raise InputError(f"{path}: missing evaluation of run {run}, seed {seed}")
            df = pd.read_csv(path)
            df["run"], df["seed"] = run, seed
            frames.append(df)
    rows = pd.concat(frames, ignore_index=True)
    rows["group"] = rows["category"].map(group_of)
    # RTP is evaluated on its test part only (the paper's RTP test set)
    return rows[(rows["group"] != "RTP") | (rows["part"] == "test")].reset_index(drop=True)


def accuracy_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Per run and group: each metric's mean and std over seeds (``*_mean``, ``*_std``)."""
    per_seed = [
        {"run": run, "group": group, "seed": seed, **metrics(g)}
        for (run, group, seed), g in rows.groupby(["run", "group", "seed"], sort=False)
    ]
    per_seed = pd.DataFrame(per_seed)
    out = []
    for (run, group), g in per_seed.groupby(["run", "group"], sort=False):
        rec = {
            "run": run,
            "label": parse_run(run).label,
            "group": group,
            "n_seeds": len(g),
            "n_structures": int(g["n_structures"].iloc[0]),
        }
        for m in METRICS:
            rec[f"{m}_mean"] = g[m].mean()
            rec[f"{m}_std"] = g[m].std(ddof=1) if len(g) > 1 else np.nan
        for m in ("ts_sign_rate", "ts_mode_overlap"):
            rec[m] = g[m].mean()
        out.append(rec)
    return _order(pd.DataFrame(out))


def _order(df: pd.DataFrame) -> pd.DataFrame:
    group_rank = {g: k for k, g in enumerate(GROUPS)}
    return df.sort_values(
        ["group", "run"], key=lambda s: s.map(group_rank).fillna(9) if s.name == "group" else s, kind="stable"
    ).reset_index(drop=True)


def change_vs_ef(acc: pd.DataFrame) -> pd.DataFrame:
    """Percentage change of the mean RMSE of each run against E-F, per group and property."""
    if "ef" not in set(acc["run"]):
        raise InputError("the E-F run (ef) is needed for the change table")
    out = []
    for group, g in acc.groupby("group", sort=False):
        ef = g[g["run"] == "ef"].iloc[0]
        for _, r in g[g["run"] != "ef"].iterrows():
            rec = {"run": r["run"], "label": r["label"], "group": group}
            for prop in ("energy", "forces", "hessian"):
                base = ef[f"{prop}_rmse_mean"]
                rec[f"{prop}_rmse_change_pct"] = 100.0 * (r[f"{prop}_rmse_mean"] - base) / base if base else np.nan
            out.append(rec)
    return pd.DataFrame(out)


def load_logs(train_dir: str | Path, runs: list[str], seeds: Seeds) -> pd.DataFrame:
    frames = []
    for run in runs:
        for seed in seeds_of(seeds, run):
            path = Path(train_dir) / run / f"seed{seed}" / "log.csv"
            if not path.is_file():
                raise InputError(f"{path}: missing training log of run {run}, seed {seed}")
            df = pd.read_csv(path)
            df["run"], df["seed"] = run, seed
            frames.append(df)
    return pd.concat(frames, ignore_index=True)


def timing_table(logs: pd.DataFrame) -> pd.DataFrame:
    out = []
    for run, g in logs.groupby("run", sort=False):
        out.append(
            {
                "run": run,
                "label": parse_run(run).label,
                "epochs": len(g),
                "sec_per_epoch_mean": g["seconds"].mean(),
                "sec_per_epoch_std": g["seconds"].std(ddof=1),
                "peak_mem_mb": g["peak_mem_mb"].max(),
            }
        )
    df = pd.DataFrame(out)
    if "ef" in set(df["run"]):
        df["ratio_to_ef"] = df["sec_per_epoch_mean"] / float(df.loc[df["run"] == "ef", "sec_per_epoch_mean"].iloc[0])
    return df


def to_markdown(df: pd.DataFrame, title: str, note: str = "", digits: int = 3) -> str:
    """A GitHub-style Markdown table (no extra dependency)."""

    def fmt(v):
        if isinstance(v, (bool, np.bool_)):
            return "yes" if v else "no"
        if isinstance(v, (float, np.floating)):
            if not np.isfinite(v):
                return "–"
            return f"{v:.2e}" if (v != 0 and (abs(v) < 10**-digits or abs(v) >= 1e5)) else f"{v:.{digits}f}"
        return str(v)

    lines = [f"## {title}", ""] + ([note, ""] if note else [])
    lines.append("| " + " | ".join(df.columns) + " |")
    lines.append("|" + "---|" * len(df.columns))
    for _, r in df.iterrows():
        lines.append("| " + " | ".join(fmt(v) for v in r) + " |")
    return "\n".join(lines) + "\n"


def write_tables(
    eval_dir: str | Path,
    train_dir: str | Path,
    runs: list[str],
    seeds: Seeds,
    out_dir: str | Path,
    ts_dir: str | Path | None = None,
) -> dict[str, pd.DataFrame]:
    """Write the tables as CSV and Markdown under ``out_dir`` (atomically) and return them."""
    out_dir = Path(out_dir)
    rows = load_evaluations(eval_dir, runs, seeds)
    logs = load_logs(train_dir, runs, seeds)  # read once: timings and the run's scale
    level = level_of_theory_of(rows)
    per_seed = rmse_per_seed(rows)
    ttests = ttest_table(per_seed)
    tables = {
        "accuracy": accuracy_table(rows),
        "timings": timing_table(logs),
        "training_status": status_table(train_dir, logs, runs, seeds),
        "rmse_per_seed": per_seed,
        "ttests": ttests,
        "curvature_ttests": curvature_ttests(per_seed),
        "table1_randomized": paper_layout(ttests, "randomized"),
        "table2_fixed": paper_layout(ttests, "fixed"),
    }
    if "ef" in runs:
        tables["change_vs_ef"] = change_vs_ef(tables["accuracy"])
    if ts_dir is not None:
        tables["ts_search"] = ts_search_table(ts_dir, runs, seeds)
    tables["paper_comparison"] = comparison_table(ttests, tables.get("change_vs_ef"), tables["timings"])
    notes = {
        "accuracy": "RMSE per molecule as the paper computes it (every molecule weighs the same; *_pooled: all "
        "components pooled) and MAE: energy kcal/mol, forces kcal/mol/Å, Hessian kcal/mol/Å², frequencies cm⁻¹ "
        "(MAE); mean and standard deviation over seeds. RTP: test split; IRC and NMS: held out.",
        "rmse_per_seed": "RMSE of each trained model (run, seed) per data set (Test: RTP test split) and property, "
        "per-molecule convention; rmse_pooled pools all components.",
        "table1_randomized": "The paper's Table 1 for this run: randomized probes, mean difference RMSE(one-hot) − "
        "RMSE(Hutchinson) over the trained models, paired t-test p-value in parentheses.",
        "table2_fixed": "The paper's Table 2 for this run: fixed probes, mean difference RMSE(one-hot) − "
        "RMSE(Hutchinson) over the trained models, paired t-test p-value in parentheses.",
        "timings": "Seconds per training epoch (device-synchronised) and peak memory (MB), "
        "mean ± std over seeds and epochs.",
        "ttests": "One-hot vs Hutchinson probes: paired t-test (scipy.stats.ttest_rel) on the RMSEs of the n "
        "independently trained models of each method, paired by seed, per property and data set; "
        "mean_difference = RMSE(one-hot) − RMSE(Hutchinson).",
        "ts_search": "TS search with each model's own Hessian (Sella, order 1) from the reference search's guess: "
        "success rate (one imaginary mode), RMSD to the reference TS (Å), barrier MAE (kcal/mol).",
        "training_status": "How each model (run, seed) stopped: min_lr (its plateau schedule took the learning "
        "rate below min_lr) or max_epochs (the cap); lr_reductions; *_trend_pct: change of the best validation RMSE "
        "over the last trend_epochs epochs against the best before them (negative: still falling); still_improving: "
        f"stopped at the cap with a validation RMSE still falling by more than {IMPROVING_PCT:g} %.",
        "change_vs_ef": "Percentage change of the mean RMSE against E-F (negative: better than E-F).",
        "curvature_ttests": "Each curvature-trained run against E-F, and each HVP run against E-F-H: paired "
        "t-test (scipy.stats.ttest_rel) on the RMSEs of the models both runs have, paired by seed; change_percent "
        "= relative change of the mean RMSE (negative: run better than versus).",
    }
    notes["paper_comparison"] = (
        "Every number the paper publishes beside this run's (Tables 1–2, RMSE changes vs E-F of §4.2 and "
        "Fig. 3b, seconds per epoch of Fig. 4 as ratios to E-F); – where this run has no such quantity. "
        + scale_note(rows, seeds, logs)
    )
    reference = f"Reference method: {level or 'not recorded'}. "
    if level and level != "wB97X-D/6-31G(d)":
        reference += (
            "The paper's reference is wB97X-D/6-31G(d): compare relative changes (change_vs_ef, the signs and "
            "p-values of the t-tests), not absolute RMSEs, across levels of theory. "
        )
    for name, df in tables.items():
        atomic_write_text(out_dir / f"{name}.csv", df.to_csv(index=False))
        atomic_write_text(out_dir / f"{name}.md", to_markdown(df, name.replace("_", " "), reference + notes[name]))
    return tables
