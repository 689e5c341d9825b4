"""The Snakemake workflow runs for real (cheap level of theory), validates its config, and lints."""

import json
import shutil
import subprocess

import pandas as pd
import pytest


@pytest.fixture
def workdir(tmp_path, repo_root):
    for item in ("Snakefile", "config.yaml", "workflow", "resources", "envs", "phl"):
        src = repo_root / item
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / item)
    return tmp_path


def _snakemake(workdir, *args):
    return subprocess.run(["snakemake", "--cores", "2", *args], cwd=workdir, capture_output=True, text=True)


def test_default_workflow_runs_end_to_end(workdir):
    override = workdir / "cheap.yaml"
    override.write_text("reference: {basis: sto-3g, grid: [30, 110]}\n")
    cheap = ["--configfile", "config.yaml", str(override)]
    proc = _snakemake(workdir, *cheap)
    assert proc.returncode == 0, proc.stderr[-3000:]
    table = pd.read_csv(workdir / "results" / "reference_summary.csv")
    assert sorted(table["name"]) == ["ammonia", "water"]
    assert (table["n_hvp"] == 2).all() and table["hessian"].all()
    label = json.loads((workdir / "results" / "labels" / "water.json").read_text())
    assert label["method"]["basis"] == "sto-3g" and len(label["hvps"]) == 2
    # nothing left to do on a second run
    again = _snakemake(workdir, *cheap, "-n")
    assert "Nothing to be done" in again.stdout + again.stderr


def test_bad_config_key_fails_at_once_with_its_name(workdir):
    proc = _snakemake(workdir, "-n", "--config", "labelz={hvp: 1}")
    assert proc.returncode != 0 and "labelz" in proc.stdout + proc.stderr


def test_lint_is_clean(workdir):
    proc = subprocess.run(["snakemake", "--lint"], cwd=workdir, capture_output=True, text=True)
    assert proc.returncode == 0 and "good condition" in proc.stdout + proc.stderr, proc.stdout + proc.stderr
