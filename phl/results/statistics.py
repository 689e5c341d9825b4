"""One-hot against Hutchinson probes, as the paper tests it (§4.3, SI C): on the RMSEs of the
independently trained models, paired by model (seed), per property and data set.

* :func:`rmse_per_seed`: one RMSE per run, seed, data set and property (the paper's per-molecule
  convention, :func:`phl.results.evaluate.metrics`); data sets ``Test`` (RTP test split), ``IRC``
  and ``NMS``.
* :func:`ttest_table`: ``scipy.stats.ttest_rel`` on the n seeds' RMSEs of the two runs,
  mean difference = RMSE(one-hot) − RMSE(Hutchinson) (the paper's Tables 1 and 2).
* :func:`bland_altman_table`: per data set, one point per pair of models (x: mean of the two
  RMSEs, y: their difference), the mean difference with its 95 % confidence interval (Student t,
  n − 1 degrees of freedom) and the limits of agreement (mean ± 1.96 SD) (SI C, Figs. S1–S6).

Testing structures instead of models asks another question: structures on one IRC path or of one
reaction are correlated, so per-structure p-values are far too small.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from phl.registry import GROUPS, PROBE_MODES
from phl.results.evaluate import metrics

PROPERTIES = ("energy", "forces", "hessian")
#: The paper's names of the data sets results are reported on.
DATASET_NAMES = {"RTP": "Test", "IRC": "IRC", "NMS": "NMS"}
DATASETS = tuple(DATASET_NAMES[g] for g in GROUPS)


def rmse_per_seed(rows: pd.DataFrame) -> pd.DataFrame:
    """Columns ``run, seed, group, property, rmse, rmse_pooled, n_structures`` (group: Test, IRC, NMS)."""
    out = []
    for (run, group, seed), g in rows.groupby(["run", "group", "seed"], sort=False):
        if group not in DATASET_NAMES:
            continue
        m = metrics(g)
        for prop in PROPERTIES:
            out.append(
                {
                    "run": run,
                    "seed": int(seed),
                    "group": DATASET_NAMES[group],
                    "property": prop,
                    "rmse": m[f"{prop}_rmse"],
                    "rmse_pooled": m.get(f"{prop}_rmse_pooled", m[f"{prop}_rmse"]),
                    "n_structures": m["n_structures"],
                }
            )
    return pd.DataFrame(out, columns=["run", "seed", "group", "property", "rmse", "rmse_pooled", "n_structures"])


def paired_rmse(per_seed: pd.DataFrame, run_a: str, run_b: str, group: str, prop: str):
    """RMSEs of the two runs on the seeds both have, paired by seed: (seeds, a, b)."""
    sel = per_seed[(per_seed["group"] == group) & (per_seed["property"] == prop)]
    a = sel[sel["run"] == run_a].set_index("seed")["rmse"]
    b = sel[sel["run"] == run_b].set_index("seed")["rmse"]
    both = pd.concat([a, b], axis=1, keys=["a", "b"]).dropna().sort_index()
    return both.index.to_numpy(), both["a"].to_numpy(), both["b"].to_numpy()


def _pairs(per_seed: pd.DataFrame):
    runs = set(per_seed["run"])
    for probes in PROBE_MODES:
        a_run, b_run = f"hvp-onehot-{probes}", f"hvp-random-{probes}"
        if a_run in runs and b_run in runs:
            for prop in PROPERTIES:
                for group in DATASETS:
                    yield probes, prop, group, paired_rmse(per_seed, a_run, b_run, group, prop)


def ttest_table(per_seed: pd.DataFrame) -> pd.DataFrame:
    """Paired t-test of one-hot against Hutchinson per probe mode, property and data set, over
    the models (seeds). ``p_value`` is NaN, with the reason in ``note``, for fewer than 2 models
    or identical differences."""
    from scipy import stats

    out = []
    for probes, prop, group, (seeds, a, b) in _pairs(per_seed):
        rec = {
            "probes": probes,
            "property": prop,
            "group": group,
            "n": len(seeds),
            "mean_difference": float(np.mean(a - b)) if len(seeds) else np.nan,
            "t": np.nan,
            "p_value": np.nan,
            "onehot_rmse": float(np.mean(a)) if len(a) else np.nan,
            "hutchinson_rmse": float(np.mean(b)) if len(b) else np.nan,
            "note": "",
        }
        if len(seeds) < 2:
            rec["note"] = f"a paired t-test needs at least 2 trained models per method; this run has {len(seeds)}"
        elif np.allclose(a - b, (a - b)[0], rtol=0, atol=0):
            rec["note"] = "all paired differences are equal: the t statistic is undefined"
        else:
            t, p = stats.ttest_rel(a, b)
            rec.update(t=float(t), p_value=float(p))
        out.append(rec)
    return pd.DataFrame(
        out,
        columns=[
            "probes",
            "property",
            "group",
            "n",
            "mean_difference",
            "t",
            "p_value",
            "onehot_rmse",
            "hutchinson_rmse",
            "note",
        ],
    )


def paper_layout(ttests: pd.DataFrame, probes: str) -> pd.DataFrame:
    """The paper's Table 1 (randomized) or 2 (fixed): rows energy/force/Hessian, columns Test/IRC/
    NMS, cells "mean difference (p)"; an empty cell says why."""
    names = {"energy": "Energy", "forces": "Force", "hessian": "Hessian"}
    rows = []
    for prop in PROPERTIES:
        rec = {"property": names[prop]}
        for group in DATASETS:
            sel = ttests[(ttests["probes"] == probes) & (ttests["property"] == prop) & (ttests["group"] == group)]
            if not len(sel):
                rec[group] = "no one-hot/Hutchinson pair of runs"
                continue
            r = sel.iloc[0]
            if np.isfinite(r["p_value"]):
                rec[group] = f"{r['mean_difference']:+.4f} ({format_p(r['p_value'])})"
            else:
                md = f"{r['mean_difference']:+.4f} " if np.isfinite(r["mean_difference"]) else ""
                rec[group] = f"{md}(– : {r['note']})"
        rows.append(rec)
    return pd.DataFrame(rows, columns=["property", *DATASETS])


def format_p(p: float) -> str:
    return f"{p:.3f}" if p >= 1e-3 else f"{p:.1e}"


def bland_altman_table(per_seed: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(summary, points): per probe mode, property and data set the mean difference
    (one-hot − Hutchinson), its 95 % CI and the limits of agreement; and the points, one per
    pair of models (seed)."""
    from scipy import stats

    summary, points = [], []
    for probes, prop, group, (seeds, a, b) in _pairs(per_seed):
        d = a - b
        n = len(d)
        for s, x, y in zip(seeds, (a + b) / 2, d):
            points.append(
                {
                    "probes": probes,
                    "property": prop,
                    "group": group,
                    "seed": int(s),
                    "mean_rmse": float(x),
                    "difference": float(y),
                }
            )
        mean = float(d.mean()) if n else np.nan
        sd = float(d.std(ddof=1)) if n > 1 else np.nan
        half = float(stats.t.ppf(0.975, n - 1) * sd / np.sqrt(n)) if n > 1 else np.nan
        summary.append(
            {
                "probes": probes,
                "property": prop,
                "group": group,
                "n": n,
                "mean_difference": mean,
                "sd": sd,
                "ci95_low": mean - half,
                "ci95_high": mean + half,
                "loa_low": mean - 1.96 * sd,
                "loa_high": mean + 1.96 * sd,
                "ci_includes_zero": bool(mean - half <= 0 <= mean + half) if n > 1 else None,
            }
        )
    return pd.DataFrame(summary), pd.DataFrame(points)


def curvature_ttests(per_seed: pd.DataFrame) -> pd.DataFrame:
    """Each curvature-trained run (HVP regimes, E-F-H) against E-F and each HVP run against E-F-H:
    paired t-test on the RMSEs of the models both runs have (paired by seed), per property and
    data set, with the relative change of the mean RMSE (%). Answers "does curvature training
    cut the error vs E-F" and "does an HVP run match E-F-H"."""
    from scipy import stats

    runs = list(dict.fromkeys(per_seed["run"]))
    pairs = [(r, "ef") for r in runs if r != "ef" and "ef" in runs]
    pairs += [(r, "efh") for r in runs if r.startswith("hvp") and "efh" in runs]
    out = []
    for run, versus in pairs:
        for prop in PROPERTIES:
            for group in DATASETS:
                seeds, a, b = paired_rmse(per_seed, run, versus, group, prop)
                rec = {
                    "run": run,
                    "versus": versus,
                    "property": prop,
                    "group": group,
                    "n": len(seeds),
                    "run_rmse": float(np.mean(a)) if len(a) else np.nan,
                    "versus_rmse": float(np.mean(b)) if len(b) else np.nan,
                    "change_percent": float(100 * (np.mean(a) - np.mean(b)) / np.mean(b)) if len(a) else np.nan,
                    "t": np.nan,
                    "p_value": np.nan,
                    "note": "",
                }
                if len(seeds) < 2:
                    rec["note"] = f"a paired t-test needs at least 2 models of each run on the same seeds; {len(seeds)}"
                elif np.allclose(a - b, (a - b)[0], rtol=0, atol=0):
                    rec["note"] = "all paired differences are equal: the t statistic is undefined"
                else:
                    t, p = stats.ttest_rel(a, b)
                    rec.update(t=float(t), p_value=float(p))
                out.append(rec)
    columns = ["run", "versus", "property", "group", "n", "run_rmse", "versus_rmse", "change_percent", "t"]
    return pd.DataFrame(out, columns=[*columns, "p_value", "note"])
