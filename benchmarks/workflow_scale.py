#!/usr/bin/env python
"""How the workflow scales to the paper's size: planning cost, job and submission counts, and the
bytes a stored label takes.

    python benchmarks/workflow_scale.py --out benchmarks/results/workflow_scale.csv
    python benchmarks/workflow_scale.py --sizes 1000 --out scale.csv          # quicker

For each size it builds a synthetic reaction list (the built-in reactions repeated under new ids)
in a copy of the repository, then with config/paper.yaml and the slurm profile measures:

* ``fresh``: wall time and peak memory of ``snakemake -n`` (the plan of the whole run), jobs
  planned and the Slurm submissions they are (every job but the local target rule ``all``);
* ``resumed``: the same with half of the geometry blocks and half of the label shards already
  on disk (faked as files: Snakemake plans from their presence and times).

And once: bytes per stored label in a shard of 1,000 labels of 14 atoms with the Hessian and 4
reference HVP pairs (the paper's median size; provenance as a real label has it), against the
float64 bytes of its arrays and against the same label as JSON text.
Targets (issue: paper scale part 2): plan <= 60 s and <= 1 GB at 12,000 reactions, fresh and
resumed; <= 2,000 Slurm jobs; <= 1.5x the float64 bytes per label.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from phl.geometries.testing import synthetic_reaction_list  # noqa: E402
from phl.io.atomic import atomic_write_text  # noqa: E402
from phl.io.label_shards import write_shard  # noqa: E402
from phl.labels import Label  # noqa: E402

ITEMS = ("Snakefile", "config.yaml", "config", "workflow", "resources", "envs", "phl", "slurm")


def plan(work: Path) -> dict:
    """Wall time (s), peak memory (MB) and job counts of `snakemake -n` in ``work``."""
    cmd = ["/usr/bin/time", "-f", "TIME %e %M", "snakemake", "-n", "--profile", "slurm"]
    cmd += ["--configfile", "config/paper.yaml"]
    proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise SystemExit(f"snakemake -n failed in {work}:\n{out[-3000:]}")
    seconds, kb = re.findall(r"TIME ([\d.]+) (\d+)", out)[-1]
    stats = {}
    if "Job stats:" in out:
        block = out.split("Job stats:")[1].split("\n\n")[0]
        stats = dict(ln.split() for ln in block.splitlines()[3:] if ln.strip())
    total = int(stats.get("total", 0))
    local = int(stats.get("all", 0))
    return {
        "plan_seconds": float(seconds),
        "plan_peak_mb": int(kb) / 1024,
        "jobs_planned": total,
        "slurm_submissions": total - local,
        "geometry_jobs": int(stats.get("geometry_block", 0)),
        "label_jobs": int(stats.get("label_chunk", 0)),
    }


def fake_half_done(work: Path) -> None:
    """Half of the geometry blocks and label shards present, as a resumed run finds them."""
    proc = subprocess.run(
        ["snakemake", "-n", "--profile", "slurm", "--configfile", "config/paper.yaml", "--summary"],
        cwd=work,
        capture_output=True,
        text=True,
    )
    files = [ln.split("\t")[0] for ln in proc.stdout.splitlines()[1:] if ln.strip()]
    blocks = sorted(f for f in files if re.fullmatch(r"results/geometries/blocks/\d+\.csv", f))
    shards = sorted(f for f in files if re.fullmatch(r"results/labels/\d+/\d+\.h5", f))
    for f in blocks[: len(blocks) // 2] + shards[: len(shards) // 2]:
        (work / f).parent.mkdir(parents=True, exist_ok=True)
        (work / f).write_text("")


def label_bytes(n_labels: int = 1000, n_atoms: int = 14, k: int = 4) -> dict:
    rng = np.random.default_rng(0)
    dim = 3 * n_atoms
    provenance = {  # the fields a real label carries (phl.labels.compute_label)
        "versions": {
            "python": "3.11.7",
            "phl": "0.1.0",
            "pyscf": "2.8.0",
            "numpy": "2.1",
            "scipy": "1.14",
            "ase": "3.23",
        },
        "host": "gpu-node-042",
        "platform": "Linux-5.14-x86_64-with-glibc2.34",
        "cpu_count": 16,
        "created_utc": "2026-11-25T04:00:00+00:00",
        "backend": "gpu",
        "hessian_mode": "analytic",
        "hessian_grid_response": True,
        "grid": [99, 590],
        "tolerances": {"scf_energy": 1e-10, "scf_gradient": 1e-6, "cphf": 1e-9},
        "fd_step_angstrom": 0.001,
        "scf": {"converged": True, "strategy": "diis", "cycles": 14, "energy_electronic": -300.123456789},
        "wall_seconds": {"scf": 1.23, "gradient": 0.45, "hessian": 6.7, "hvp": 2.1},
        "threads": 4,
        "input": "results/geometries/rxn000123/structures.json",
        "probe_kind": "gaussian",
        "seed": 0,
        "probe_seed_sequence": [0, 123456789, 42],
        "label_settings": {"hessian": True, "hvp": 4, "probe": "gaussian", "seed": 0},
    }
    labels = []
    for i in range(n_labels):
        h = rng.normal(size=(dim, dim))
        labels.append(
            Label(
                symbols=list(rng.choice(["H", "C", "N", "O"], size=n_atoms)),
                positions=rng.normal(size=(n_atoms, 3)),
                energy=float(rng.normal()),
                forces=rng.normal(size=(n_atoms, 3)),
                dispersion_energy=float(rng.normal()),
                hessian=h + h.T,
                probes=rng.normal(size=(k, n_atoms, 3)),
                hvps=rng.normal(size=(k, n_atoms, 3)),
                probe_kinds=["gaussian"] * k,
                name=f"irc_{i:03d}",
                category="irc",
                reaction="rxn000123",
                units={"energy": "Eh", "forces": "Eh/Angstrom", "hessian": "Eh/Angstrom^2"},
                method={
                    "functional": "wB97X-D",
                    "basis": "6-31G(d)",
                    "grid": [99, 590],
                    "charge": 0,
                    "multiplicity": 1,
                },
                provenance={**provenance, "index": i},
            )
        )
    arrays = 8 * (n_atoms * 3 * 2 + dim * dim + 2 * k * dim + 2)  # positions, forces, Hessian, probes, HVPs, energies
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "shard.h5"
        write_shard(path, labels, [], provenance["label_settings"])
        shard = path.stat().st_size / n_labels
    json_bytes = len(json.dumps(labels[0].to_dict(), indent=1))
    return {
        "label_atoms": n_atoms,
        "label_hvp_pairs": k,
        "float64_bytes_per_label": arrays,
        "shard_bytes_per_label": round(shard),
        "shard_over_float64": round(shard / arrays, 3),
        "json_bytes_per_label": json_bytes,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 12000])
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    stored = label_bytes()
    print(stored, flush=True)
    rows = []
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            for item in ITEMS:
                src = ROOT / item
                (shutil.copytree if src.is_dir() else shutil.copy)(src, work / item)
            (work / "resources" / "reactions").mkdir(exist_ok=True)
            synthetic_reaction_list(work / "resources" / "reactions" / "grambow.h5", n)
            for state in ("fresh", "resumed"):
                if state == "resumed":
                    fake_half_done(work)
                row = {"reactions": n, "state": state, **plan(work), **stored}
                print(row, flush=True)
                rows.append(row)
    atomic_write_text(args.out, pd.DataFrame(rows).to_csv(index=False))
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
