"""The workflow through the repository's `slurm` profile on a real one-node Slurm cluster: batched
label jobs (each a chunk of a block's structures, one HDF5 shard) and a single-molecule label are
submitted with sbatch and match a local run; the paper configuration on a 1,000-reaction list plans
the batched jobs through the profile.

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
CHEAP = """\
reference: {basis: sto-3g, grid: [30, 110]}
molecules: [water]
geometries: {reactions: reactions.yaml, sampling: {irc_reactions: 0}}
batching: {reactions_per_job: 1, label_jobs_per_block: 2}
"""
SHARDS = ["results/labels/0/0.h5", "results/labels/0/1.h5"]
TARGETS = [*SHARDS, "results/labels/molecules/water.json"]


@pytest.fixture(scope="module")
def cluster(repo_root):
    proc = subprocess.run(["bash", str(repo_root / ".ci" / "slurm-cluster.sh")], capture_output=True, text=True)
    if proc.returncode != 0:
        if os.environ.get("PHL_REQUIRE_SLURM"):
            pytest.fail("could not start the Slurm cluster:\n" + proc.stdout + proc.stderr)
        pytest.skip("no Slurm cluster here (needs root and Debian's slurm-wlm/munge): " + proc.stderr[-300:])
    return True


def _copy(repo_root, dest, geometries=None):
    dest.mkdir()
    for item in ITEMS:
        src = repo_root / item
        (shutil.copytree if src.is_dir() else shutil.copy)(src, dest / item)
    (dest / "cheap.yaml").write_text(CHEAP)
    if geometries is not None:  # the geometry stage, run once, shared by both runs
        shutil.copytree(geometries, dest / "results" / "geometries")
        shutil.copy(geometries.parent.parent / "reactions.yaml", dest / "reactions.yaml")
    return dest


@pytest.fixture(scope="module")
def geometries(tmp_path_factory):
    """HCN -> HNC: minima and TS (no IRC), one geometry block."""
    import yaml

    from phl.cli import main
    from phl.geometries.reactions import BUILTIN

    work = tmp_path_factory.mktemp("geometry_stage")
    builtin = yaml.safe_load(BUILTIN.read_text())["reactions"]
    (work / "reactions.yaml").write_text(yaml.safe_dump({"reactions": [builtin[0]]}))
    geo = work / "results" / "geometries"
    cmd = ["batch", "geometries", str(work / "reactions.yaml"), "--block", "0", "--reactions-per-job", "1"]
    cmd += ["--irc-reactions", "0", "--dir", str(geo), "--out", str(geo / "blocks" / "0.csv"), "-q"]
    assert main([*cmd, "--basis", "sto-3g", "--grid", "30,110"]) == 0
    return geo


def test_batched_label_jobs_run_through_sbatch_and_match_a_local_run(cluster, repo_root, tmp_path, geometries):
    remote = _copy(repo_root, tmp_path / "slurm_run", geometries)
    local = _copy(repo_root, tmp_path / "local_run", geometries)
    overrides = ["--slurm-status-command", "squeue", "--slurm-keep-successful-logs", "--set-resources"]
    for rule in ("label_chunk", "reference_label"):
        overrides += [f"{rule}:gpu=0", f"{rule}:cpus_per_task=2", f"{rule}:mem_mb=2000", f"{rule}:runtime=30"]
    overrides += ["--set-threads", "label_chunk=2", "reference_label=2"]
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
    assert "geometry_block" not in out  # the shared geometry stage was not rerun
    from phl.io.label_shards import read_shard

    n = 0
    for target in SHARDS:
        a, b = read_shard(remote / target), read_shard(local / target)
        assert [lb.name for lb in a.labels] == [lb.name for lb in b.labels] and not a.failures
        for x, y in zip(a.labels, b.labels):
            assert x.energy == pytest.approx(y.energy, abs=1e-8)
            np.testing.assert_allclose(x.hessian, y.hessian, atol=1e-6)
            np.testing.assert_allclose(x.hvps, y.hvps, atol=1e-6)
            assert x.provenance["host"] and x.provenance["label_settings"] == y.provenance["label_settings"]
        n += len(a.labels)
    assert n == 3  # reactant, product, TS in two chunks
    a = json.loads((remote / TARGETS[-1]).read_text())
    b = json.loads((local / TARGETS[-1]).read_text())
    assert a["energy"] == pytest.approx(b["energy"], abs=1e-8)


def test_paper_configuration_plans_batched_jobs_through_the_slurm_profile(repo_root, tmp_path):
    from phl.geometries.testing import synthetic_reaction_list

    work = _copy(repo_root, tmp_path / "plan")
    shutil.copytree(repo_root / "config", work / "config")

    def plan():
        cmd = ["snakemake", "-n", "--profile", "slurm", "--configfile", "config/paper.yaml"]
        return subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=300)

    missing = plan()
    out = missing.stdout + missing.stderr
    assert missing.returncode != 0 and "resources/reactions/grambow.h5: no such reaction list" in out, out[-2000:]
    (work / "resources" / "reactions").mkdir(parents=True, exist_ok=True)  # the science list ships there
    synthetic_reaction_list(work / "resources" / "reactions" / "grambow.h5", 1000)
    proc = plan()
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    stats = dict(ln.split() for ln in out.split("Job stats:")[1].split("\n\n")[0].splitlines()[3:] if ln.strip())
    assert stats["geometry_block"] == "10" and stats["label_chunk"] == "80"  # 100 reactions per block, 8 chunks
    assert stats["train"] == "30" and stats["evaluate"] == "30"  # (E-F, E-F-H, 2 HVP regimes x 2 probe modes) x 5 seeds
    assert int(stats["total"]) < 200
