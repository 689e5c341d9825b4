"""The paper's figures (PNG and PDF) from the result tables and training logs, with matplotlib.

fig2_validation    validation RMSE of energy, forces and Hessian per epoch, one curve per run (mean over seeds)
fig3_rmse          RMSE of energy, forces, Hessian per group, regimes side by side; randomized and fixed panels
fig4_epoch_time    seconds per epoch per run
fig5_reference_cost  reference-label cost against molecule size (energy+forces, Hessian, HVPs)
bland_altman       one-hot vs Hutchinson per pair of trained models, per data set, with the 95 % CI (+ CSV)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from phl.io.atomic import atomic_path, atomic_write_text
from phl.registry import GROUPS, PROBE_MODES, parse_run
from phl.results.statistics import DATASETS, bland_altman_table, rmse_per_seed
from phl.results.tables import accuracy_table, load_evaluations, load_logs, timing_table

PROPS = (
    ("energy", "Energy RMSE (kcal/mol)"),
    ("forces", "Force RMSE (kcal/mol/Å)"),
    ("hessian", "Hessian RMSE (kcal/mol/Å²)"),
)


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 10, "axes.titlesize": 11, "figure.dpi": 150})
    return plt


def _save(fig, out_dir: Path, name: str) -> list[Path]:
    paths = []
    for ext in ("png", "pdf"):
        path = out_dir / f"{name}.{ext}"
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=ext, bbox_inches="tight")
        paths.append(path)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return paths


def fig_validation(logs: pd.DataFrame, out_dir: Path) -> list[Path]:
    """The paper's Fig. 2: validation RMSE of energy, forces and Hessian per epoch (mean over seeds)."""
    plt = _plt()
    panels = [(f"val_{prop}_rmse", label) for prop, label in PROPS if f"val_{prop}_rmse" in logs]
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4), squeeze=False)
    for ax, (column, ylabel) in zip(axes[0], panels):
        for run, g in logs.groupby("run", sort=False):
            r = parse_run(run)
            # mean over seeds, on the epochs every seed reached (a mean over fewer seeds would jump)
            stats = g.groupby("epoch")[column].agg(["mean", "count"])
            curve = stats["mean"][stats["count"] == g["seed"].nunique()].dropna()
            if len(curve):
                ax.plot(
                    curve.index,
                    curve.values,
                    label=r.label,
                    color=r.color,
                    linestyle="--" if r.probes == "fixed" else "-",
                )
        ax.set_xlabel("Epoch")
        ax.set_ylabel(f"Validation {ylabel}")
        ax.set_yscale("log")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle("Validation curves (mean over seeds, to the shortest run; Hessian on a fixed validation subset)")
    fig.tight_layout()
    return _save(fig, out_dir, "fig2_validation")


def _finish_log_axes(fig, ax, xlabel: str, ylabel: str, title: str, out_dir: Path, name: str) -> list[Path]:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_yscale("log")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return _save(fig, out_dir, name)


def fig_rmse(acc: pd.DataFrame, out_dir: Path) -> list[Path]:
    plt = _plt()
    modes = [m for m in PROBE_MODES if any(parse_run(r).probes == m for r in acc["run"])] or ["randomized"]
    fig, axes = plt.subplots(len(PROPS), len(modes), figsize=(4.2 * len(modes), 8), squeeze=False)
    for col, mode in enumerate(modes):
        runs = [r for r in dict.fromkeys(acc["run"]) if parse_run(r).probes in (None, mode)]
        width = 0.8 / max(len(runs), 1)
        for row, (prop, ylabel) in enumerate(PROPS):
            ax = axes[row, col]
            for k, run in enumerate(runs):
                r = parse_run(run)
                vals = [acc[(acc.run == run) & (acc.group == g)] for g in GROUPS]
                mean = [v[f"{prop}_rmse_mean"].iloc[0] if len(v) else np.nan for v in vals]
                std = [v[f"{prop}_rmse_std"].iloc[0] if len(v) else np.nan for v in vals]
                ax.bar(
                    np.arange(len(GROUPS)) + (k - (len(runs) - 1) / 2) * width,
                    mean,
                    width,
                    yerr=np.nan_to_num(std),
                    color=r.color,
                    label=r.short,
                    capsize=2,
                )
            ax.set_xticks(np.arange(len(GROUPS)), GROUPS)
            ax.set_ylabel(ylabel)
            if row == 0:
                ax.set_title(f"{mode} probes")
        axes[0, col].legend(fontsize=7)
    fig.suptitle("Test RMSE per regime and geometry category (error bars: std over seeds)")
    fig.tight_layout()
    return _save(fig, out_dir, "fig3_rmse")


def fig_epoch_time(timings: pd.DataFrame, out_dir: Path) -> list[Path]:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.8))
    x = np.arange(len(timings))
    colors = [parse_run(r).color for r in timings["run"]]
    ax.bar(x, timings["sec_per_epoch_mean"], yerr=np.nan_to_num(timings["sec_per_epoch_std"]), color=colors, capsize=3)
    ax.set_xticks(
        x, [parse_run(r).label.replace(" (", "\n(") for r in timings["run"]], rotation=30, ha="right", fontsize=8
    )
    ax.set_ylabel("Seconds per epoch")
    ax.set_title("Training cost per epoch")
    if "ratio_to_ef" in timings:
        tops = timings["sec_per_epoch_mean"] + np.nan_to_num(timings["sec_per_epoch_std"])
        for xi, (top, ratio) in enumerate(zip(tops, timings["ratio_to_ef"])):
            ax.annotate(
                f"{ratio:.1f}×",
                (xi, top),
                xytext=(0, 2),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=8,
            )
        ax.set_ylim(top=1.12 * float(tops.max()))
    return _save(fig, out_dir, "fig4_epoch_time")


def fig_reference_cost(summary: pd.DataFrame, out_dir: Path) -> list[Path]:
    """From ``phl summarize`` of the label files (seconds_scf, seconds_gradient, seconds_hessian, seconds_hvp)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 4))
    s = summary.copy()
    ef = s.get("seconds_scf", 0) + s.get("seconds_gradient", 0)
    series = [("Energy + forces", ef, "o")]
    if "seconds_hessian" in s:
        series.append(("Full Hessian", s["seconds_hessian"], "s"))
    if "seconds_hvp" in s and "n_hvp" in s:
        series.append(("One reference HVP", s["seconds_hvp"] / s["n_hvp"].replace(0, np.nan), "^"))
    for label, y, marker in series:
        ok = np.isfinite(y)
        ax.scatter(s["natoms"][ok], y[ok], label=label, marker=marker)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return _finish_log_axes(
        fig, ax, "Atoms", "Wall seconds", "Reference-data cost against molecule size", out_dir, "fig5_reference_cost"
    )


def fig_bland_altman(per_seed: pd.DataFrame, out_dir: Path) -> list[Path]:
    """SI C: per probe mode, property and data set, one point per pair of models (x: mean of the
    two RMSEs, y: RMSE(one-hot) − RMSE(Hutchinson)), the mean difference with its 95 % CI (band)
    and the limits of agreement (dashed). The numbers go to ``bland_altman.csv`` beside it."""
    plt = _plt()
    summary, points = bland_altman_table(per_seed)
    atomic_write_text(out_dir / "bland_altman.csv", summary.to_csv(index=False))
    blocks = [(m, prop) for m in PROBE_MODES for prop, _ in PROPS if len(summary) and m in set(summary["probes"])]
    fig, axes = plt.subplots(max(len(blocks), 1), len(DATASETS), figsize=(12, 3.2 * max(len(blocks), 1)), squeeze=False)
    units = {prop: label.split("(")[1].rstrip(")") for prop, label in PROPS}
    for i, (mode, prop) in enumerate(blocks):
        for j, group in enumerate(DATASETS):
            ax = axes[i, j]
            pts = points[(points.probes == mode) & (points.property == prop) & (points.group == group)]
            row = summary[(summary.probes == mode) & (summary.property == prop) & (summary.group == group)].iloc[0]
            ax.scatter(pts["mean_rmse"], pts["difference"], s=18, color=parse_run(f"hvp-random-{mode}").color)
            ax.axhline(0.0, color="0.6", linewidth=0.6)
            if np.isfinite(row["mean_difference"]):
                ax.axhline(row["mean_difference"], color="k", linewidth=0.9)
            if np.isfinite(row["ci95_low"]):
                ax.axhspan(row["ci95_low"], row["ci95_high"], color="k", alpha=0.12, linewidth=0)
                for y in (row["loa_low"], row["loa_high"]):
                    ax.axhline(y, color="k", linestyle="--", linewidth=0.8)
            ax.set_title(f"{prop.capitalize()}, {group}, {mode} (n = {int(row['n'])})", fontsize=9)
            ax.set_xlabel(f"Mean RMSE ({units[prop]})", fontsize=8)
            ax.set_ylabel(f"One-hot − Hutchinson ({units[prop]})", fontsize=8)
    if not blocks:
        axes[0, 0].text(0.5, 0.5, "no one-hot / Hutchinson pair of runs", ha="center", transform=axes[0, 0].transAxes)
    fig.tight_layout()
    return _save(fig, out_dir, "bland_altman")


def write_figures(
    eval_dir, train_dir, runs: list[str], seeds: list[int], out_dir, reference_summary=None, dpi: int = 150
) -> list[Path]:
    _plt().rcParams["savefig.dpi"] = dpi
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = load_evaluations(eval_dir, runs, seeds)
    logs = load_logs(train_dir, runs, seeds)
    paths = fig_validation(logs, out_dir) + fig_rmse(accuracy_table(rows), out_dir)
    paths += fig_epoch_time(timing_table(logs), out_dir) + fig_bland_altman(rmse_per_seed(rows), out_dir)
    if reference_summary is not None:
        paths += fig_reference_cost(pd.read_csv(reference_summary), out_dir)
    return paths
