"""The Snakemake workflow runs for real, end to end (cheap level of theory, short training): geometry
stage in blocks with the sampling design (IRC and NMS for a seeded subset), a failing reaction
reported and skipped, labels in batched HDF5 shards, data set, training, evaluation, tables, figures
and the HTML report; a killed run resumes without recomputing finished geometry steps or labels;
plotting options rerun only the figures; the config is validated and the workflow lints clean."""

import json
import os
import shutil
import signal
import subprocess
import time

import pandas as pd
import pytest

from phl.geometries.reactions import BUILTIN

ITEMS = ("Snakefile", "config.yaml", "workflow", "resources", "envs", "phl")
CHEAP = """\
reference: {basis: 3-21G, grid: [50, 194]}
geometries:
  reactions: reactions.yaml
  sampling: {irc_reactions: 1, subset_seed: 3}   # seed 3 ranks hcn_hnc first: its IRC and NMS only
  settings: {irc_steps: 10, irc_dx: 0.2, irc_points: 3, nms_points: 1, nms_samples: 3}
batching: {reactions_per_job: 1, label_jobs_per_block: 2}
training: {seeds: [0], settings: {max_epochs: 3, batch_size: 8}}
"""


@pytest.fixture
def workdir(tmp_path, repo_root):
    for item in ITEMS:
        src = repo_root / item
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / item)
    return tmp_path


def _snakemake(workdir, *args, timeout=1500):
    return subprocess.run(
        ["snakemake", "--cores", "2", *args], cwd=workdir, capture_output=True, text=True, timeout=timeout
    )


def _reactions(workdir):
    """HCN/HNC and HNCO/HOCN from the built-in set, plus a reaction with mismatched atoms."""
    import yaml

    builtin = yaml.safe_load(BUILTIN.read_text())["reactions"]
    kept = [r for r in builtin if r["id"] in ("hcn_hnc", "hnco_hocn")]
    kept.append({"id": "broken", "reactant": "H 0 0 -1.06\nC 0 0 0\n", "product": "H 0 0 2.1\nC 0 0 0\nN 0 0 1.17\n"})
    (workdir / "reactions.yaml").write_text(yaml.safe_dump({"reactions": kept}))


def _shard_labels(labels_dir):
    from phl.io.label_shards import read_shard

    out = {}
    for path in labels_dir.rglob("*.h5"):
        for label in read_shard(path).labels:
            out[(label.reaction, label.provenance["index"])] = label
    return out


@pytest.mark.slow
def test_default_workflow_end_to_end_with_a_kill_and_resume(workdir):
    _reactions(workdir)
    (workdir / "cheap.yaml").write_text(CHEAP)
    cheap = ["--configfile", "config.yaml", "cheap.yaml"]
    # first run, killed once some labels are written (label jobs write each label as it finishes)
    proc = subprocess.Popen(
        ["snakemake", "--cores", "2", *cheap],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    labels = workdir / "results" / "labels"
    geometries = workdir / "results" / "geometries"
    deadline = time.time() + 900
    while time.time() < deadline and proc.poll() is None and len(list(labels.rglob("*.parts/*.json"))) < 2:
        time.sleep(0.5)
    assert proc.poll() is None, "the workflow ended before it could be interrupted"
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=120)
    parts = {}
    for path in labels.rglob("*.parts/*.json"):
        data = json.loads(path.read_text())
        if "energy" in data:
            parts[(data["reaction"], data["provenance"]["index"])] = data["provenance"]["created_utc"]
    steps = {p: p.stat().st_mtime_ns for p in geometries.glob("*/*.json") if p.name != "structures.json"}
    assert parts and steps
    # resumed run
    run = _snakemake(workdir, *cheap, "--rerun-incomplete")
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    for path, mtime in steps.items():
        assert path.stat().st_mtime_ns == mtime, f"{path} was recomputed"
    shards = _shard_labels(labels)
    for key, created in parts.items():
        assert shards[key].provenance["created_utc"] == created, f"label {key} was recomputed"
    assert not list(labels.rglob("*.parts")), "parts of finished shards are removed"
    results = workdir / "results"
    summary = pd.read_csv(results / "geometries" / "summary.csv").set_index("reaction")
    assert summary.loc["broken", "status"] == "failed" and "atom counts" in summary.loc["broken", "reason"]
    assert (summary.loc[["hcn_hnc", "hnco_hocn"], "status"] == "ok").all()
    assert (summary.loc[["hcn_hnc", "hnco_hocn"], "n_RTP"] == 3).all()
    # the sampling design: IRC and NMS for hcn_hnc only
    assert summary.loc["hcn_hnc", "n_IRC"] == 3 and summary.loc["hcn_hnc", "n_NMS"] == 3
    assert summary.loc["hnco_hocn", "n_IRC"] == 0 and summary.loc["hnco_hocn", "n_NMS"] == 0
    assert not (results / "geometries" / "hnco_hocn" / "irc.json").exists()
    ts = json.loads((results / "geometries" / "hcn_hnc" / "ts.json").read_text())
    assert ts["n_imaginary"] == 1
    n_struct = int(summary[["n_RTP", "n_IRC", "n_NMS"]].sum().sum())
    assert len(shards) == n_struct == 12
    label = shards[("hcn_hnc", 0)]
    assert label.category == "reactant" and len(label.hvps) == 2 and label.hessian.shape == (9, 9)
    acc = pd.read_csv(results / "tables" / "accuracy.csv")
    assert set(acc["run"]) == {
        "ef",
        "efh",
        "hvp-onehot-randomized",
        "hvp-onehot-fixed",
        "hvp-random-randomized",
        "hvp-random-fixed",
    }
    assert set(acc["group"]) == {"RTP", "IRC", "NMS"}
    assert len(pd.read_csv(results / "tables" / "ttests.csv")) == 2 * 3 * 3
    ts_search = pd.read_csv(results / "ts_search" / "efh" / "seed0.csv")
    assert sorted(ts_search["reaction"]) == ["hcn_hnc", "hnco_hocn"] and ts_search["rmsd"].notna().all()
    assert len(pd.read_csv(results / "tables" / "ts_search.csv")) == 6
    for fig in ("fig2_validation", "fig3_rmse", "fig4_epoch_time", "fig5_reference_cost", "bland_altman"):
        assert (results / "figures" / f"{fig}.png").stat().st_size > 10_000
    # nothing left to do; a plotting option reruns only the figures
    again = _snakemake(workdir, *cheap, "-n")
    assert "Nothing to be done" in again.stdout + again.stderr
    (workdir / "dpi.yaml").write_text("results: {figure_dpi: 80}\n")
    plan = _snakemake(workdir, *cheap, "dpi.yaml", "-n")
    stats = (plan.stdout + plan.stderr).split("Job stats:")[1].split("\n\n")[0]
    jobs = {ln.split()[0] for ln in stats.splitlines()[3:] if ln.strip() and not ln.startswith("total")}
    assert jobs == {"figures", "all"}, stats
    # editing one reaction of the list reruns its own geometry block and label jobs, no other
    import yaml

    data = yaml.safe_load((workdir / "reactions.yaml").read_text())
    entry = next(r for r in data["reactions"] if r["id"] == "hnco_hocn")
    assert "2.800" in entry["product"]
    entry["product"] = entry["product"].replace("2.800", "2.810")
    (workdir / "reactions.yaml").write_text(yaml.safe_dump(data))
    plan = _snakemake(workdir, *cheap, "-n")
    stats = (plan.stdout + plan.stderr).split("Job stats:")[1].split("\n\n")[0]
    counts = dict(ln.split() for ln in stats.splitlines()[3:] if ln.strip())
    assert counts["geometry_block"] == "1" and counts["label_chunk"] == "2", stats
    assert "wildcards: block=1" in plan.stdout + plan.stderr  # hnco_hocn is the second reaction: block 1
    entry["product"] = entry["product"].replace("2.810", "2.800")
    (workdir / "reactions.yaml").write_text(yaml.safe_dump(data))
    # the findings: the page, every number it quotes, and the end of the run saying where they are
    assert "Findings: results/tables/findings.md" in run.stdout + run.stderr
    assert "Hessian RMSE vs E-F, E-F-H: RTP test" in run.stdout + run.stderr
    findings = pd.read_csv(results / "tables" / "findings.csv")
    assert {"vs E-F", "one-hot vs Hutchinson", "vs E-F-H", "cost", "TS search", "training", "data"} <= set(
        findings["section"]
    )
    status = pd.read_csv(results / "tables" / "training_status.csv")
    assert len(status) == 6 and (status["stopped_by"] == "max_epochs").all()  # 3 epochs: every run capped
    report = _snakemake(workdir, *cheap, "--report", "results/report.html")
    assert report.returncode == 0, report.stderr[-2000:]
    html = (results / "report.html").read_text(errors="replace")
    assert "fig3_rmse" in html and "accuracy" in html
    landing = _landing_text(html)
    assert landing.startswith("Findings") and "Curvature training against E-F" in landing
    assert "This run" in landing and "Level of theory of the reference data: wB97X-D/3-21G." in landing
    assert "Regimes: E-F, E-F-HVP one-hot, E-F-HVP Hutchinson, E-F-H." in landing
    assert "not the paper's wB97X-D/6-31G(d)" in landing  # the level-of-theory caveat applies here
    for bad in ("[", "{}", "None", "nan"):
        assert bad not in landing, bad


def _landing_text(html: str) -> str:
    """The text of the report's landing page (Snakemake embeds it as a JavaScript string)."""
    import re

    match = re.search(r"var workflow_desc = (\".*?(?<!\\)\");", html, re.S)
    assert match, "no landing page in the report"
    return re.sub(r"<[^>]+>", "", json.loads(match.group(1))).strip()


def test_bad_config_key_fails_at_once_with_its_name(workdir):
    proc = _snakemake(workdir, "-n", "--config", "labelz={hvp: 1}")
    assert proc.returncode != 0 and "labelz" in proc.stdout + proc.stderr


def test_unknown_training_setting_fails_at_once_with_its_name(workdir):
    proc = _snakemake(workdir, "-n", "--config", "training={regimes: [ef], settings: {learning_rate: 0.1}}")
    assert proc.returncode != 0 and "learning_rate" in proc.stdout + proc.stderr


def test_bad_setting_value_fails_at_once_with_its_section(workdir):
    proc = _snakemake(workdir, "-n", "--config", "reference={grid: [99, 590, 3]}")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "config reference" in out and "grid" in out


def test_lint_is_clean(workdir):
    proc = subprocess.run(["snakemake", "--lint"], cwd=workdir, capture_output=True, text=True)
    assert proc.returncode == 0 and "good condition" in proc.stdout + proc.stderr, proc.stdout + proc.stderr


def test_jobs_run_with_the_python_that_runs_snakemake(workdir):
    """No environment activated and no `python` on PATH: the rules still find phl and its
    dependencies, through the interpreter Snakemake itself runs in."""
    import sys

    (workdir / "cheap.yaml").write_text("reference: {basis: sto-3g, grid: [30, 110]}\nmolecules: [water]\n")
    env = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp")}
    target = "results/labels/molecules/water.json"
    cmd = [sys.executable, "-m", "snakemake", target, "--cores", "1", "--configfile", "config.yaml", "cheap.yaml"]
    proc = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert json.loads((workdir / target).read_text())["method"]["basis"] == "sto-3g"


TINY_SCIENCE = """\
geometries:
  reactions: tiny.h5
  sampling: {irc_reactions: null, nms_reactions: 1, subset_seed: 0}
  settings: {irc_steps: 6, irc_points: 3, nms_points: 1, nms_samples: 2}
batching: {reactions_per_job: 1, label_jobs_per_block: 1}
labels: {hvp: 2}
training:
  seeds: [0]
  seeds_per_regime: {efh: [0]}
  settings: {max_epochs: 3, batch_size: 4}
"""


@pytest.mark.slow
def test_science_configuration_runs_gfn2_xtb_end_to_end(workdir, repo_root):
    """config/science.yaml, scaled to two reactions imported from the shipped mapped SMILES: GFN2-xTB
    geometries, labels, all regimes and the tables, every output naming GFN2-xTB, none ωB97X-D."""
    shutil.copytree(repo_root / "config", workdir / "config")
    imp = subprocess.run(
        ["phl", "reaction", "import", "smiles", "resources/reactions/science.csv", "--method", "gfn2-xtb"]
        + ["--ids", "keto-enol-00,cyanide-isocyanide-00", "--out", "tiny.h5"],
        cwd=workdir,
        capture_output=True,
        text=True,
    )
    assert imp.returncode == 0, imp.stderr
    (workdir / "tiny.yaml").write_text(TINY_SCIENCE)
    run = _snakemake(workdir, "--configfile", "config/science.yaml", "tiny.yaml")
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    results = workdir / "results"
    summary = pd.read_csv(results / "geometries" / "summary.csv").set_index("reaction")
    assert (summary["status"] == "ok").all() and (summary["n_IRC"] == 3).all()
    assert summary["n_NMS"].sum() == 2  # NMS on one of the two reactions
    shards = _shard_labels(results / "labels")
    assert len(shards) == int(summary[["n_RTP", "n_IRC", "n_NMS"]].sum().sum())
    for label in shards.values():
        assert label.method["method"] == "gfn2-xtb" and label.hessian is not None and len(label.hvps) == 2
    from phl.dataset.store import Dataset

    with Dataset(results / "dataset" / "dataset.h5") as data:
        assert data.level_of_theory == "GFN2-xTB"
    acc = pd.read_csv(results / "tables" / "accuracy.csv")
    assert len(set(acc["run"])) == 6
    for table in ("accuracy", "table1_randomized", "change_vs_ef", "curvature_ttests", "paper_comparison"):
        text = (results / "tables" / f"{table}.md").read_text()
        assert "Reference method: GFN2-xTB." in text and "compare relative changes" in text, table
    # yields per class: the classes of the SMILES list (geometries.classes) in the summary and the findings
    assert list(summary["class"]) == ["keto-enol tautomerism", "HCN/HNC-type isomerisation"]
    page = (results / "tables" / "findings.md").read_text()
    assert "Kept per class: HCN/HNC-type isomerisation 1/1, keto-enol tautomerism 1/1." in page


def test_science_reference_drops_only_the_base_configs_dft_options(workdir, repo_root):
    """Under --configfile config/science.yaml, config.yaml's DFT options (functional, basis, grid)
    are left out for GFN2-xTB; a DFT option the user sets, an xTB option outside its physical range
    and a charge for the reactions are refused with the setting named, before anything runs."""
    shutil.copytree(repo_root / "config", workdir / "config")
    plan = _snakemake(workdir, "-n", "--configfile", "config/science.yaml")
    assert plan.returncode == 0, (plan.stdout + plan.stderr)[-3000:]
    for override, message in (
        ("reference: {basis: def2-TZVP}", "method gfn2-xtb does not use the DFT option(s) basis"),
        ("reference: {xtb_accuracy: .inf}", "xtb_accuracy must be a finite number"),
        ("reference: {xtb_temperature: 1.0e+9}", "xtb_temperature must be in [0, 5000] K"),
        ("reference: {charge: 1}", "charge and multiplicity apply to the single molecules"),
        ("geometries: {classes: nothing.csv}", "config geometries.classes: nothing.csv: no such file"),
        (
            "geometries: {classes: resources/reactions/science.skipped.csv}",
            "config geometries.classes: resources/reactions/science.skipped.csv: no id or class column",
        ),
    ):
        (workdir / "bad.yaml").write_text(override + "\n")
        proc = _snakemake(workdir, "-n", "--configfile", "config/science.yaml", "bad.yaml")
        out = proc.stdout + proc.stderr
        section = "config " + message.split("config ")[1].split(":")[0] if "config " in message else "config reference"
        assert proc.returncode != 0 and section in out and message in out, (override, out[-2000:])
