"""This run against the paper: every number the paper publishes (Tables 1–2, the change-vs-E-F
percentages of §4.2 and Fig. 3b, the seconds per epoch of Fig. 4 as ratios to E-F) beside the
same quantity computed from this run, with this run's scale. The paper's values and their source
are in ``phl/data/paper_results.yaml``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from phl.registry import parse_run

PAPER_RESULTS = Path(__file__).resolve().parents[1] / "data" / "paper_results.yaml"
#: the paper's scale: structures per data set (RTP: all its reactant/TS/product structures) and
#: models (seeds) per method
PAPER_STRUCTURES = {"RTP": 35087, "IRC": 34248, "NMS": 62527}
PAPER_MODELS = 5
_GROUP = {"Test": "RTP", "IRC": "IRC", "NMS": "NMS"}


@lru_cache(maxsize=1)
def paper_results() -> dict:
    import yaml

    return yaml.safe_load(PAPER_RESULTS.read_text())


def comparison_table(ttests: pd.DataFrame, change: pd.DataFrame | None, timings: pd.DataFrame) -> pd.DataFrame:
    """One row per published number: ``what``, ``probes``/``run``, ``property``, ``group``,
    ``paper``, ``this_run`` (NaN where the run has no such quantity) and ``unit``."""
    paper = paper_results()
    rows = []
    for probes, props in paper["ttests"].items():
        for prop, groups in props.items():
            for group, (diff, p) in groups.items():
                sel = ttests[(ttests.probes == probes) & (ttests.property == prop) & (ttests.group == group)]
                mine = sel.iloc[0] if len(sel) else None
                for what, value, ours, unit in (
                    (
                        "mean difference one-hot − Hutchinson",
                        diff,
                        None if mine is None else mine["mean_difference"],
                        {"energy": "kcal/mol", "forces": "kcal/mol/Å", "hessian": "kcal/mol/Å²"}[prop],
                    ),
                    ("paired t-test p", p, None if mine is None else mine["p_value"], ""),
                ):
                    rows.append(
                        {
                            "what": f"Table {1 if probes == 'randomized' else 2}: {what}",
                            "run": probes,
                            "property": prop,
                            "group": group,
                            "paper": value,
                            "this_run": np.nan if ours is None else ours,
                            "unit": unit,
                        }
                    )
    for run, props in paper["change_vs_ef"].items():
        for prop, groups in props.items():
            for group, value in groups.items():
                ours = np.nan
                if change is not None and len(change):
                    sel = change[(change.run == run) & (change.group == _GROUP[group])]
                    ours = sel.iloc[0][f"{prop}_rmse_change_pct"] if len(sel) else np.nan
                rows.append(
                    {
                        "what": "RMSE change vs E-F",
                        "run": parse_run(run).label,
                        "property": prop,
                        "group": group,
                        "paper": value,
                        "this_run": ours,
                        "unit": "%",
                    }
                )
    seconds = paper["seconds_per_epoch"]
    mine: dict[str, float] = {}
    if len(timings):  # one regime may have several runs (probe modes): their mean seconds per epoch
        regimes = timings["run"].map(lambda r: parse_run(r).regime)
        mine = timings.groupby(regimes)["sec_per_epoch_mean"].mean().to_dict()
    for regime in ("hvp-onehot", "hvp-random", "efh"):
        ours = mine[regime] / mine["ef"] if regime in mine and "ef" in mine and mine["ef"] else np.nan
        rows.append(
            {
                "what": "seconds per epoch / E-F (Fig. 4)",
                "run": regime,
                "property": "time",
                "group": "RTP",
                "paper": seconds[regime] / seconds["ef"],
                "this_run": ours,
                "unit": "ratio",
            }
        )
    return pd.DataFrame(rows, columns=["what", "run", "property", "group", "paper", "this_run", "unit"])


def _seed_counts(seeds) -> str:
    if isinstance(seeds, dict):
        counts = sorted({len(v) for v in seeds.values()})
        if len(counts) > 1:
            return "seeds " + ", ".join(f"{run} {len(v)}" for run, v in seeds.items())
        return f"{counts[0]} seed(s)"
    return f"{len(seeds)} seed(s)"


def scale_note(rows: pd.DataFrame, seeds, logs: pd.DataFrame) -> str:
    """This run's scale, stated beside the comparison."""
    counts = rows[rows["run"] == rows["run"].iloc[0]].groupby("group")["index"].nunique() if len(rows) else {}
    structures = ", ".join(f"{g} {int(counts.get(g, 0))}" for g in ("RTP", "IRC", "NMS"))
    epochs = logs.groupby(["run", "seed"])["epoch"].max() if len(logs) else pd.Series(dtype=float)
    span = f"{int(epochs.min())}–{int(epochs.max())}" if len(epochs) else "–"
    return (
        f"This run: evaluated structures {structures}; {_seed_counts(seeds)} per method; {span} epochs. "
        "The paper: "
        + ", ".join(f"{n:,} {g}" for g, n in PAPER_STRUCTURES.items())
        + f" structures; {PAPER_MODELS} seeds per method; "
        f"its values from {paper_results()['source']}."
    )
