"""What a run found, generated from its own tables: ``results/tables/findings.md`` (the page),
``findings.csv`` (every number the page quotes, one row each) and the landing page of the
Snakemake report.

Read: ``curvature_ttests`` (each run against E-F and each HVP run against E-F-H), ``ttests``
(one-hot against Hutchinson per probe mode), ``timings``, ``ts_search``, ``training_status`` and
``accuracy`` from the tables folder, and the geometry stage's summary where the data were generated.
A table that is missing is named on the page with what it would have given; nothing is invented.

Wording follows the statistics: a paired t-test with p < :data:`ALPHA` is a difference ("lower",
"higher"); p ≥ :data:`ALPHA` is "no significant difference" whatever the sign; fewer models than
the test needs is "not tested". A number that involves a model stopped at the epoch cap while its
validation error still fell (:mod:`phl.results.training_status`) says so beside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from phl.errors import InputError
from phl.io.atomic import atomic_write_text
from phl.registry import GROUPS, REGIME_LABELS, parse_run
from phl.results.document import Document, to_markdown, to_rst
from phl.results.paper import PAPER_MODELS, PAPER_STRUCTURES, paper_results
from phl.results.statistics import format_p

#: significance level of the wording
ALPHA = 0.05
#: the paper's level of theory (other levels: compare relative changes, not absolute RMSEs)
PAPER_LEVEL = "wB97X-D/6-31G(d)"
TABLES = ("curvature_ttests", "ttests", "timings", "ts_search", "training_status", "accuracy")
#: data set names of the t-test tables (Test, IRC, NMS) in words
GROUP_WORDS = {"Test": "RTP test", "IRC": "IRC", "NMS": "NMS", "RTP": "RTP test"}
UNITS = {"energy": "kcal/mol", "forces": "kcal/mol/Å", "hessian": "kcal/mol/Å²"}
PROPERTY_WORDS = {"energy": "energy", "forces": "force", "hessian": "Hessian"}
COLUMNS = ["section", "subject", "versus", "group", "property", "quantity", "value", "unit", "p_value", "n"]
COLUMNS += ["paper", "note"]


def label(run: str) -> str:
    return parse_run(run).label


def pct(v: float) -> str:
    if not np.isfinite(v):
        return "–"
    sign = "−" if v < 0 else "+"
    return f"{sign}{abs(v):.1f} %" if abs(v) < 10 else f"{sign}{abs(v):.0f} %"


def signed(v: float, digits: int = 3) -> str:
    if not np.isfinite(v):
        return "–"
    return ("−" if v < 0 else "+") + f"{abs(v):.{digits}g}"


def ratio(v: float) -> str:
    return f"{v:.2f}×" if v < 10 else f"{v:.0f}×"


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def span(values: pd.Series) -> str:
    lo, hi = int(values.min()), int(values.max())
    return str(lo) if lo == hi else f"{lo}–{hi}"


def verdict(value: str, sign: float, p: float, n: int, lower: str = "lower", higher: str = "higher") -> str:
    """``value`` worded by its paired t-test: a difference only where p < ALPHA."""
    if not np.isfinite(p):
        return f"{value} (not tested, n = {int(n)})"
    if p < ALPHA:
        return f"{value}, {lower if sign < 0 else higher} (p = {format_p(p)}, n = {int(n)})"
    return f"no significant difference ({value}, p = {format_p(p)}, n = {int(n)})"


@dataclass
class Inputs:
    """The tables a findings page is made from; ``missing`` names those that were not there."""

    tables: dict[str, pd.DataFrame]
    geometry: pd.DataFrame | None = None
    missing: list[str] = field(default_factory=list)

    @classmethod
    def read(cls, tables_dir: str | Path, geometry_summary: str | Path | None = None) -> Inputs:
        tables_dir = Path(tables_dir)
        if not tables_dir.is_dir():
            raise InputError(f"{tables_dir}: no such folder of result tables ('phl results tables')")
        tables, missing = {}, []
        for name in TABLES:
            path = tables_dir / f"{name}.csv"
            if path.is_file():
                tables[name] = pd.read_csv(path)
            else:
                missing.append(name)
        geometry = None
        if geometry_summary is not None:
            if not Path(geometry_summary).is_file():
                raise InputError(f"{geometry_summary}: no such geometry summary ('phl reaction summary')")
            geometry = pd.read_csv(geometry_summary)
        return cls(tables, geometry, missing)


@dataclass
class Findings:
    rows: list[dict] = field(default_factory=list)
    findings: Document = field(default_factory=Document)
    configuration: Document = field(default_factory=Document)
    caveats: Document = field(default_factory=Document)
    missing: list[str] = field(default_factory=list)  # what the page could not report, in words

    def add(self, section: str, subject: str, quantity: str, value: float, unit: str = "", **extra) -> None:
        row = dict.fromkeys(COLUMNS, "")
        row.update(section=section, subject=subject, quantity=quantity, value=value, unit=unit, **extra)
        for key in ("value", "p_value", "paper"):
            row[key] = np.nan if row[key] in ("", None) else float(row[key])
        row["n"] = "" if row["n"] in ("", None) else int(row["n"])
        self.rows.append(row)

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=COLUMNS)

    def document(self) -> Document:
        doc = Document()
        doc.extend(self.findings)
        doc.extend(self.configuration)
        doc.extend(self.caveats)
        return doc


# ---- how each run stopped ---------------------------------------------------------------------
def unfinished(status: pd.DataFrame | None) -> dict[str, str]:
    """Per run with a model stopped at the cap while its validation error still fell: the note
    said beside every number that involves it."""
    if status is None or not len(status):
        return {}
    out = {}
    for run, g in status.groupby("run", sort=False):
        still = g[g["still_improving"].astype(bool)]
        if len(still):
            out[run] = (
                f"{label(run)} still improving at its {int(g['max_epochs'].max())}-epoch cap ({len(still)} of {len(g)})"
            )
    return out


def stopping(f: Findings, status: pd.DataFrame) -> None:
    items = []
    for run, g in status.groupby("run", sort=False):
        n = len(g)
        by_lr = int((g["stopped_by"] == "min_lr").sum())
        capped = g[g["stopped_by"] == "max_epochs"]
        still = g[g["still_improving"].astype(bool)]
        parts = []
        if by_lr:
            parts.append(f"{by_lr} of {n} trained to the learning-rate floor (plateau schedule)")
        if len(capped):
            cap = int(capped["max_epochs"].max()) if capped["max_epochs"].notna().any() else int(capped["epochs"].max())
            never = int((capped["lr_reductions"] == 0).sum())
            text = f"{len(capped)} of {n} stopped at the {cap}-epoch cap"
            if never:
                text += f" ({never} with the learning rate never reduced)"
            parts.append(text)
        if len(still):
            trends = {p: still[f"{p}_trend_pct"].min() for p in ("energy", "forces", "hessian")}
            prop, worst = min(((p, t) for p, t in trends.items() if np.isfinite(t)), key=lambda x: x[1])
            window = int(still["trend_epochs"].max())
            parts.append(
                f"**{len(still)} still improving** at the end (validation {PROPERTY_WORDS[prop]} RMSE {pct(worst)} "
                f"over the last {plural(window, 'epoch')} in one of them): its numbers compare models that had "
                "not finished"
            )
        items.append(f"{label(run)}: " + "; ".join(parts) + f"; best epoch {span(g['best_epoch'])}.")
        f.add(
            "training",
            run,
            "models stopped at the cap while still improving",
            len(still),
            "models",
            n=n,
            note=f"{by_lr} stopped by min_lr, {len(capped)} by max_epochs",
        )
    f.findings.heading("How each run stopped")
    f.findings.bullets(items)


# ---- curvature against E-F and E-F-H ----------------------------------------------------------
def against(f: Findings, curv: pd.DataFrame, versus: str, notes: dict[str, str]) -> None:
    """Each run against ``versus`` (ef or efh), per property and data set."""
    sel = curv[curv["versus"] == versus]
    if not len(sel):
        return
    paper = paper_results()["change_vs_ef"] if versus == "ef" else {}
    items = []
    for run, g in sel.groupby("run", sort=False):
        note = "; ".join(notes[x] for x in (run, versus) if x in notes)  # unfinished models involved
        for prop in ("hessian", "forces", "energy"):
            parts, paper_parts = [], []
            for _, r in g[g["property"] == prop].iterrows():
                published = paper.get(run, {}).get(prop, {}).get(r["group"], np.nan)
                f.add(
                    f"vs {label(versus)}",
                    run,
                    "RMSE change",
                    r["change_percent"],
                    "%",
                    versus=versus,
                    group=r["group"],
                    property=prop,
                    p_value=r["p_value"],
                    n=r["n"],
                    paper=published,
                    note=note,
                )
                words = verdict(pct(r["change_percent"]), r["change_percent"], r["p_value"], r["n"])
                parts.append(f"{GROUP_WORDS[r['group']]} {words}")
                if np.isfinite(published):
                    paper_parts.append(f"{GROUP_WORDS[r['group']]} {pct(published)}")
            text = f"**{label(run)}**, {PROPERTY_WORDS[prop]} RMSE: " + "; ".join(parts)
            if paper_parts:
                text += f" (the paper: {', '.join(paper_parts)})"
            if note:
                text += " ⚠ " + note
            items.append(text + ".")
    title = "Curvature training against E-F" if versus == "ef" else "HVP training against E-F-H"
    f.findings.heading(title)
    f.findings.paragraph(
        f"Change of the mean held-out RMSE against {label(versus)} (negative: lower error), paired t-test "
        "over the models trained with the same seeds."
    )
    f.findings.bullets(items)


def probes(f: Findings, ttests: pd.DataFrame) -> None:
    """One-hot against Hutchinson probes per probe mode: the paper's Tables 1 and 2."""
    if not len(ttests):
        return
    paper = paper_results()["ttests"]
    items = []
    for (mode, prop), g in ttests.groupby(["probes", "property"], sort=False):
        parts, paper_parts = [], []
        for _, r in g.iterrows():
            diff, p = r["mean_difference"], r["p_value"]
            value = f"{signed(diff)} {UNITS[prop]}"
            parts.append(
                f"{GROUP_WORDS[r['group']]} "
                + verdict(value, -diff, p, r["n"], lower="Hutchinson lower", higher="one-hot lower")
            )
            published = paper.get(mode, {}).get(prop, {}).get(r["group"])
            if published:
                paper_parts.append(f"{GROUP_WORDS[r['group']]} {signed(published[0])} (p = {format_p(published[1])})")
            f.add(
                "one-hot vs Hutchinson",
                f"hvp-onehot-{mode}",
                "mean RMSE difference one-hot − Hutchinson",
                diff,
                UNITS[prop],
                versus=f"hvp-random-{mode}",
                group=r["group"],
                property=prop,
                p_value=p,
                n=r["n"],
                paper=published[0] if published else np.nan,
            )
        text = f"**{mode.capitalize()} probes**, {PROPERTY_WORDS[prop]} RMSE one-hot − Hutchinson: " + "; ".join(parts)
        if paper_parts:
            text += f" (the paper: {', '.join(paper_parts)})"
        items.append(text + ".")
    f.findings.heading("One-hot against Hutchinson probes (the paper's Tables 1–2)")
    f.findings.bullets(items)


# ---- cost, TS search ----------------------------------------------------------------------------
def cost(f: Findings, timings: pd.DataFrame) -> None:
    if not len(timings) or "ef" not in set(timings["run"]):
        return
    paper = paper_results()["seconds_per_epoch"]
    ef = timings[timings["run"] == "ef"].iloc[0]
    items = []
    for _, r in timings[timings["run"] != "ef"].iterrows():
        regime = parse_run(r["run"]).regime
        time = r["sec_per_epoch_mean"] / ef["sec_per_epoch_mean"]
        published = paper[regime] / paper["ef"] if regime in paper else np.nan
        memory = r["peak_mem_mb"] / ef["peak_mem_mb"] if ef["peak_mem_mb"] else np.nan
        f.add("cost", r["run"], "seconds per epoch / E-F", time, "ratio", versus="ef", paper=published)
        f.add("cost", r["run"], "peak memory / E-F", memory, "ratio", versus="ef")
        text = f"{label(r['run'])}: {r['sec_per_epoch_mean']:.3g} s an epoch, {ratio(time)} E-F"
        if np.isfinite(published):
            text += f" (the paper: {ratio(published)})"
        if np.isfinite(memory):
            text += f"; peak memory {r['peak_mem_mb']:.0f} MB, {ratio(memory)} E-F"
        items.append(text + ".")
    f.findings.heading("Training cost")
    f.findings.paragraph(
        f"E-F: {ef['sec_per_epoch_mean']:.3g} s an epoch, peak memory {ef['peak_mem_mb']:.0f} MB "
        "(mean over its models and epochs)."
    )
    f.findings.bullets(items)


def ts_search(f: Findings, table: pd.DataFrame, notes: dict[str, str]) -> None:
    if not len(table):
        return
    items = []
    for _, r in table.iterrows():
        n = int(r["n_reactions"])
        f.add(
            "TS search", r["run"], "success rate", r["success_rate_mean"], "fraction", n=n, note=notes.get(r["run"], "")
        )
        f.add("TS search", r["run"], "RMSD to the reference TS", r["rmsd_mean"], "Å", n=n)
        f.add("TS search", r["run"], "barrier MAE", r["barrier_mae_mean"], "kcal/mol", n=n)
        items.append(
            f"{label(r['run'])}: {100 * r['success_rate_mean']:.0f} % of {n} searches found a first-order saddle, "
            f"RMSD {r['rmsd_mean']:.3f} Å to the reference TS, barrier MAE {r['barrier_mae_mean']:.2f} kcal/mol."
        )
    f.findings.heading("TS search with each model's Hessian")
    f.findings.bullets(items)


# ---- the data and the run ----------------------------------------------------------------------
def data(f: Findings, inputs: Inputs) -> None:
    geometry, status, acc = inputs.geometry, inputs.tables.get("training_status"), inputs.tables.get("accuracy")
    items = []
    if geometry is not None and len(geometry):
        ok = geometry["status"] == "ok"
        total, kept = len(geometry), int(ok.sum())
        f.add("data", "reactions", "kept by the geometry stage", kept, "reactions", n=total)
        lost = geometry[~ok].groupby(geometry["failed_step"].fillna("import").replace("", "import")).size()
        text = f"Reactions: {kept} of {total} kept by the geometry stage"
        if len(lost):
            text += "; lost: " + ", ".join(f"{int(k)} at {step}" for step, k in lost.items())
            for step, k in lost.items():
                f.add("data", "reactions", f"lost at {step}", int(k), "reactions", n=total)
        items.append(text + ".")
        if "class" in geometry.columns and geometry["class"].notna().any():
            per_class = geometry.assign(kept=ok).groupby(geometry["class"].fillna("unclassified"), sort=True)
            cells = []
            for cls, g in per_class:
                f.add("data", str(cls), "reactions kept", int(g["kept"].sum()), "reactions", n=len(g))
                cells.append(f"{cls} {int(g['kept'].sum())}/{len(g)}")
            items.append("Kept per class: " + ", ".join(cells) + ".")
        made = {grp: int(geometry.loc[ok, f"n_{grp}"].sum()) for grp in GROUPS if f"n_{grp}" in geometry}
        if made:
            items.append("Structures generated: " + ", ".join(f"{g} {n:,}" for g, n in made.items()) + ".")
    if acc is not None and len(acc):
        first = acc[acc["run"] == acc["run"].iloc[0]].set_index("group")["n_structures"]
        for grp, n in first.items():
            f.add("data", grp, "structures evaluated", int(n), "structures")
        items.append(
            "Evaluated: " + ", ".join(f"{GROUP_WORDS[g]} {int(n):,}" for g, n in first.items()) + " structures."
        )
    if status is not None and len(status) and status["n_train"].notna().any():
        r = status.iloc[0]
        items.append(f"Trained on {int(r['n_train']):,} structures, validated on {int(r['n_val']):,}.")
    f.findings.heading("The data")
    f.findings.bullets(items)


def level_of(inputs: Inputs) -> str:
    status = inputs.tables.get("training_status")
    if status is None or "level_of_theory" not in status:
        return ""
    levels = sorted({str(v) for v in status["level_of_theory"].dropna() if str(v)})
    return ", ".join(levels)


def configuration(f: Findings, inputs: Inputs) -> None:
    """The run's design in words, from its own outputs."""
    status = inputs.tables.get("training_status")
    items = [f"Level of theory of the reference data: {level_of(inputs) or 'not recorded'}."]
    if status is not None and len(status):
        runs = list(dict.fromkeys(status["run"]))
        regimes = list(dict.fromkeys(parse_run(r).regime for r in runs))
        modes = sorted({parse_run(r).probes for r in runs} - {None})
        items.append("Regimes: " + ", ".join(REGIME_LABELS[r] for r in regimes) + ".")
        if modes:
            items.append("Probe modes of the HVP regimes: " + " and ".join(modes) + ".")
        seeds = status.groupby("run", sort=False)["seed"].apply(lambda s: ", ".join(map(str, sorted(s))))
        runs_of: dict[str, list[str]] = {}
        for run, s in seeds.items():
            runs_of.setdefault(s, []).append(label(run))
        if len(runs_of) == 1:
            items.append(f"Models per run: one per seed, seeds {seeds.iloc[0]}.")
        else:
            groups = "; ".join(f"seeds {s} ({', '.join(names)})" for s, names in runs_of.items())
            items.append(f"Models per run: one per seed, {groups}.")
        cap = status["max_epochs"].dropna()
        items.append(
            f"Epochs trained: {span(status['epochs'])}" + (f", cap {int(cap.max())}" if len(cap) else "") + "."
        )
    f.configuration.heading("This run")
    f.configuration.bullets(items)


def caveats(f: Findings, inputs: Inputs) -> None:
    """Only the caveats that apply to this run, computed from it."""
    from scipy import stats

    items = []
    level = level_of(inputs)
    if level and level != PAPER_LEVEL:
        items.append(
            f"The reference is {level}, not the paper's {PAPER_LEVEL}: compare relative changes and the signs "
            "and p-values of the tests with the paper's, not absolute RMSEs."
        )
    curv = inputs.tables.get("curvature_ttests")
    if curv is not None and len(curv):
        n = int(curv["n"].min())
        if n < 2:
            items.append(
                f"Some comparisons have {n} model of each run on the same seeds: a paired t-test needs 2, so those "
                "changes are single models' values, marked not tested."
            )
        elif n < PAPER_MODELS:
            t = stats.t.ppf(1 - ALPHA / 2, n - 1)
            items.append(
                f"Some comparisons pair only {n} models (the paper: {PAPER_MODELS}): with {n - 1} degree"
                f"{'s' if n > 2 else ''} of freedom a difference is significant only if |t| > {t:.1f}, so real "
                "effects can read as no significant difference."
            )
    acc = inputs.tables.get("accuracy")
    if acc is not None and len(acc):
        first = acc[acc["run"] == acc["run"].iloc[0]].set_index("group")["n_structures"]
        # the paper evaluates its RTP test split (a tenth of its RTP structures) and all IRC and NMS
        evaluated = {g: n / 10 if g == "RTP" else n for g, n in PAPER_STRUCTURES.items()}
        ratios = [n / evaluated[g] for g, n in first.items() if g in evaluated]
        if ratios and max(ratios) < 0.1:
            items.append(
                "Scale: "
                + ", ".join(f"{GROUP_WORDS[g]} {int(n):,}" for g, n in first.items())
                + " structures evaluated, against the paper's "
                + ", ".join(f"{GROUP_WORDS[g]} {n:,.0f}" for g, n in evaluated.items())
                + f" ({100 * max(ratios):.2g} % at most): a demonstration of the pipeline at this scale, "
                "not a measurement of the paper's effects."
            )
    f.missing = [f"no {name} table ({MISSING[name]})" for name in inputs.missing]
    if inputs.geometry is None:
        f.missing.append("no geometry summary (reaction yields of the geometry stage)")
    for what in ("ef", "efh"):
        if curv is not None and what not in set(curv["versus"]):
            f.missing.append(f"no {label(what)} run to compare against")
    items += [f"Not reported: {m}." for m in f.missing]
    f.caveats.heading("Caveats")
    f.caveats.bullets(items)


MISSING = {
    "curvature_ttests": "changes against E-F and E-F-H",
    "ttests": "one-hot against Hutchinson",
    "timings": "training cost",
    "ts_search": "TS searches with the models' Hessians were not run",
    "training_status": "how each run stopped",
    "accuracy": "structures evaluated",
}


def findings(inputs: Inputs) -> Findings:
    f = Findings()
    status = inputs.tables.get("training_status")
    notes = unfinished(status)
    curv = inputs.tables.get("curvature_ttests")
    if curv is not None:
        against(f, curv, "ef", notes)
    if inputs.tables.get("ttests") is not None:
        probes(f, inputs.tables["ttests"])
    if curv is not None:
        against(f, curv, "efh", notes)
    if inputs.tables.get("timings") is not None:
        cost(f, inputs.tables["timings"])
    if inputs.tables.get("ts_search") is not None:
        ts_search(f, inputs.tables["ts_search"], notes)
    if status is not None and len(status):
        stopping(f, status)
    data(f, inputs)
    configuration(f, inputs)
    caveats(f, inputs)
    return f


def headline(table: pd.DataFrame) -> list[str]:
    """The Hessian change against E-F per data set, one line per run (from findings.csv)."""
    sel = table[(table["section"] == "vs E-F") & (table["property"] == "hessian")]
    lines = []
    for run, g in sel.groupby("subject", sort=False):
        parts = [f"{GROUP_WORDS[r.group]} {verdict(pct(r.value), r.value, r.p_value, r.n)}" for r in g.itertuples()]
        lines.append(f"Hessian RMSE vs E-F, {label(run)}: " + "; ".join(parts))
    return lines


def end_of_run(results: str | Path = "results") -> str:
    """What the end of a workflow run prints: where the findings are and their headline."""
    tables = Path(results) / "tables"
    if not (tables / "findings.csv").is_file():
        return ""
    lines = [f"Findings: {tables / 'findings.md'} (every number: {tables / 'findings.csv'})"]
    lines += [f"  {line}" for line in headline(pd.read_csv(tables / "findings.csv"))]
    lines.append(f"Report: snakemake --report {Path(results) / 'report.html'} (its landing page is the findings page)")
    return "\n".join(lines)


def write_findings(
    tables_dir: str | Path,
    out_dir: str | Path,
    geometry_summary: str | Path | None = None,
    landing: str | Path | None = None,
) -> Findings:
    """findings.md and findings.csv under ``out_dir``; ``landing``: the report's landing page
    (reStructuredText, kept verbatim by the report's Jinja pass)."""
    f = findings(Inputs.read(tables_dir, geometry_summary))
    out_dir = Path(out_dir)
    atomic_write_text(out_dir / "findings.csv", f.table().to_csv(index=False))
    page = f.document()
    atomic_write_text(out_dir / "findings.md", "# Findings\n\n" + to_markdown(page))
    if landing is not None:
        text = "Findings\n========\n\n" + to_rst(page)
        atomic_write_text(landing, "{% raw %}\n" + text + "{% endraw %}\n")
    return f
