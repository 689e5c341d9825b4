"""The workflow through the repository's `slurm` profile on a real one-node Slurm cluster.

The cluster is started by .ci/slurm-cluster.sh (Debian slurm-wlm and munge, as root). Only what
this local cluster needs is overridden: the status command (no slurmdbd, so no sacct), no GPUs, and
at most the node's 2 CPUs per job. Skipped when no cluster can be started, unless PHL_REQUIRE_SLURM
is set (as .ci/run does)."""

import json
import os
import shutil
import subprocess

import numpy as np
import pytest

pytestmark = pytest.mark.slow

ITEMS = ("Snakefile", "config.yaml", "workflow", "resources", "envs", "phl", "slurm")
CHEAP = "reference: {basis: sto-3g, grid: [30, 110]}\nmolecules: [water, ammonia]\n"
TARGETS = ["results/labels/molecules/water.json", "results/labels/molecules/ammonia.json"]


@pytest.fixture(scope="module")
def cluster(repo_root):
    proc = subprocess.run(["bash", str(repo_root / ".ci" / "slurm-cluster.sh")], capture_output=True, text=True)
    if proc.returncode != 0:
        if os.environ.get("PHL_REQUIRE_SLURM"):
            pytest.fail("could not start the Slurm cluster:\n" + proc.stdout + proc.stderr)
        pytest.skip("no Slurm cluster here (needs root and Debian's slurm-wlm/munge): " + proc.stderr[-300:])
    return True


def _copy(repo_root, dest):
    dest.mkdir()
    for item in ITEMS:
        src = repo_root / item
        (shutil.copytree if src.is_dir() else shutil.copy)(src, dest / item)
    (dest / "cheap.yaml").write_text(CHEAP)
    return dest


def test_workflow_runs_through_sbatch_and_matches_a_local_run(cluster, repo_root, tmp_path):
    remote = _copy(repo_root, tmp_path / "slurm_run")
    local = _copy(repo_root, tmp_path / "local_run")
    overrides = [
        "--slurm-status-command",
        "squeue",
        "--slurm-keep-successful-logs",
        "--set-resources",
        "reference_label:gpu=0",
        "reference_label:cpus_per_task=2",
        "reference_label:mem_mb=2000",
        "--set-threads",
        "reference_label=2",
    ]
    proc = subprocess.run(
        [
            "snakemake",
            *TARGETS,
            "--cores",
            "2",
            "--profile",
            "slurm",
            *overrides,
            "--configfile",
            "config.yaml",
            "cheap.yaml",
        ],
        cwd=remote,
        capture_output=True,
        text=True,
        timeout=900,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    submitted = [ln for ln in out.splitlines() if "SLURM" in ln and "jobid" in ln.lower()]
    assert len(submitted) >= len(TARGETS), out[-3000:]
    slurm_logs = list((remote / ".snakemake" / "slurm_logs").rglob("*.log"))
    assert len(slurm_logs) >= len(TARGETS)
    proc = subprocess.run(
        ["snakemake", *TARGETS, "--cores", "2", "--configfile", "config.yaml", "cheap.yaml"],
        cwd=local,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    for target in TARGETS:
        a = json.loads((remote / target).read_text())
        b = json.loads((local / target).read_text())
        assert a["energy"] == pytest.approx(b["energy"], abs=1e-8)
        np.testing.assert_allclose(a["hessian"], b["hessian"], atol=1e-6)


def test_paper_configuration_plans_through_the_slurm_profile(repo_root, tmp_path):
    work = _copy(repo_root, tmp_path / "plan")
    shutil.copytree(repo_root / "config", work / "config")
    proc = subprocess.run(
        ["snakemake", "-n", "--profile", "slurm", "--configfile", "config/paper.yaml"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    stats = dict(ln.split() for ln in out.split("Job stats:")[1].split("\n\n")[0].splitlines()[3:] if ln.strip())
    assert stats["train"] == "30" and stats["evaluate"] == "30"  # (E-F, E-F-H, 2 HVP regimes x 2 probe modes) x 5 seeds
