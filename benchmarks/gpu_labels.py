#!/usr/bin/env python
"""Reference labels per hour through the real label-job path (``phl batch labels``'s
``run_chunk``), against molecule size, what a label holds and molecules in flight, and the device
hours that ``config/paper.yaml``'s labels imply.

The engine picks the GPU (gpu4pyscf) where one is usable, else the CPU (PySCF), so the same
command reports either; the ``backend`` column says which. For each size (a C/H/N/O molecule
embedded by RDKit, 14 and 28 atoms), each label kind and each number of molecules in flight M, one
chunk of ``--rounds`` × M slightly distorted copies is labelled; ``labels_per_hour`` is the count
over the chunk's wall time, worker start-up included (a paper-scale chunk holds ~130 structures,
so start-up weighs less there than here: ``first_label_s`` shows it).

    python benchmarks/gpu_labels.py --out benchmarks/results/gpu_labels.csv        # on a GPU node
    python benchmarks/gpu_labels.py --quick --out benchmarks/results/gpu_labels_cpu_quick.csv  # CPU check

Kinds: ``ef`` (energy, forces), ``efh`` (+ Hessian), ``ef_hvp`` (+ K reference HVPs, the HVP
regimes' label: no Hessian), ``paper`` (what config/paper.yaml asks: Hessian and its HVPs).
CSV columns: backend, device, level, natoms, kind, in_flight, labels, wall_s, first_label_s,
labels_per_hour, mean_<step>_s (seconds of each step per label as the labels record them: SCF,
gradient, Hessian, HVPs; with M > 1 these overlap), and for the ``paper`` kind at each size the
device hours for the labels the paper configuration expects (``phl reaction plan`` on 12,000
reactions).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from phl.batch.labels import run_chunk  # noqa: E402
from phl.io.label_shards import read_shard  # noqa: E402
from phl.labels import LabelSettings  # noqa: E402
from phl.qm.engine import ReferenceEngine  # noqa: E402
from phl.qm.method import Method  # noqa: E402

#: molecules of the paper's median size (14 atoms) and twice that
MOLECULES = {14: "CCOC(C)=O", 28: "OCCCCCCCCO"}  # ethyl acetate C4H8O2, octane-1,8-diol C8H18O2
KINDS = ("ef", "efh", "ef_hvp", "paper")


def molecule(natoms: int):
    from ase import Atoms
    from rdkit import Chem
    from rdkit.Chem import AllChem

    mol = Chem.AddHs(Chem.MolFromSmiles(MOLECULES[natoms]))
    AllChem.EmbedMolecule(mol, randomSeed=1)
    AllChem.MMFFOptimizeMolecule(mol)
    atoms = Atoms([a.GetSymbol() for a in mol.GetAtoms()], positions=mol.GetConformer().GetPositions())
    assert len(atoms) == natoms, (MOLECULES[natoms], len(atoms))
    return atoms


def paper_labels() -> tuple[int, LabelSettings]:
    """Labels config/paper.yaml expects for 12,000 reactions, and what each label holds."""
    from phl.geometries.design import SamplingDesign, predict_counts
    from phl.geometries.jobs import GeometrySettings
    from phl.settings import read_settings_file

    config = read_settings_file(ROOT / "config" / "paper.yaml")
    design = SamplingDesign.from_dict(config["geometries"].get("sampling"))
    settings = GeometrySettings.from_dict(config["geometries"].get("settings"))
    counts = predict_counts([f"r{i}" for i in range(12_000)], design, settings)
    return int(sum(c["expected"] for c in counts.values())), LabelSettings.from_dict(config.get("labels"))


def label_settings(kind: str, k: int, paper: LabelSettings) -> LabelSettings:
    return {
        "ef": LabelSettings(hessian=False, hvp=0),
        "efh": LabelSettings(hessian=True, hvp=0),
        "ef_hvp": LabelSettings(hessian=False, hvp=k),
        "paper": paper,
    }[kind]


def chunk_folder(where: Path, atoms, n: int, seed: int) -> list[tuple[str, int]]:
    """A geometry folder of ``n`` copies of ``atoms`` (each distorted by ~0.01 Å) and its items."""
    rng = np.random.default_rng(seed)
    structures = [
        {
            "name": f"m{i}",
            "category": "reactant",
            "symbols": atoms.get_chemical_symbols(),
            "positions": (atoms.positions + rng.normal(scale=0.01, size=atoms.positions.shape)).tolist(),
        }
        for i in range(n)
    ]
    (where / "r").mkdir(parents=True)
    (where / "r" / "structures.json").write_text(
        json.dumps({"reaction": "r", "status": "ok", "structures": structures})
    )
    return [("r", i) for i in range(n)]


def measure(method: Method, atoms, kind: str, settings: LabelSettings, in_flight: int, rounds: int) -> dict:
    n = rounds * in_flight
    with tempfile.TemporaryDirectory() as tmp:
        items = chunk_folder(Path(tmp), atoms, n, seed=in_flight)
        started = datetime.now(UTC)
        start = time.perf_counter()
        computed, _, failed = run_chunk(items, tmp, method, settings, Path(tmp) / "out.h5", in_flight=in_flight)
        wall = time.perf_counter() - start
        labels = read_shard(Path(tmp) / "out.h5").labels
    # start-up plus the first label: its creation time (whole seconds) after the chunk began
    first = min((datetime.fromisoformat(lb.provenance["created_utc"]) - started).total_seconds() for lb in labels)
    # where each label's time went (seconds of each step, as the label records them)
    steps = pd.DataFrame([lb.provenance.get("wall_seconds", {}) for lb in labels])
    if failed:
        raise SystemExit(f"{failed} of {n} labels failed ({kind}, {len(atoms)} atoms): see the log above")
    return {
        "natoms": len(atoms),
        "kind": kind,
        "in_flight": in_flight,
        "labels": computed,
        "wall_s": round(wall, 2),
        "first_label_s": round(max(first, 0.0), 1),
        "labels_per_hour": round(computed / wall * 3600, 1),
        **{f"mean_{step}_s": round(float(steps[step].mean()), 2) for step in steps.columns},
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[14, 28], choices=sorted(MOLECULES))
    p.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    p.add_argument("--in-flight", type=int, nargs="+", default=[1, 2, 4, 8], help="molecules in flight to try")
    p.add_argument("--rounds", type=int, default=2, help="labels per worker in each measurement")
    p.add_argument("--hvp", type=int, default=1, help="K of the ef_hvp kind (reference HVPs per label)")
    p.add_argument("--basis", default="6-31G(d)")
    p.add_argument("--grid", default="99,590", help="radial,angular points per atom")
    p.add_argument("--backend", default="auto", choices=("auto", "cpu", "gpu"))
    p.add_argument("--hessian-mode", default="auto", choices=("auto", "analytic", "fd"))
    p.add_argument(
        "--quick",
        action="store_true",
        help="a check in minutes on a CPU: STO-3G, (50,194) grid, analytic Hessian, 14 atoms, M = 1, 2, one round",
    )
    p.add_argument("--out", required=True, help="CSV to write")
    args = p.parse_args()
    if args.quick:
        args.basis, args.grid, args.sizes, args.in_flight, args.rounds = "sto-3g", "50,194", [14], [1, 2], 1
        args.hessian_mode = "analytic"
    grid = tuple(int(x) for x in args.grid.split(","))
    method = Method(basis=args.basis, grid=grid, backend=args.backend, hessian_mode=args.hessian_mode)
    engine = ReferenceEngine(method)  # resolves auto and the Hessian mode, as every label job does
    device = "CPU"
    if engine.backend == "gpu":
        import cupy

        device = cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()
    n_paper, paper = paper_labels()
    rows = []
    for natoms in args.sizes:
        atoms = molecule(natoms)
        for kind in args.kinds:
            settings = label_settings(kind, args.hvp, paper)
            for m in args.in_flight:
                row = {"backend": engine.backend, "device": device, "level": method.level_of_theory}
                row |= {"hessian_mode": engine.hessian_mode}
                row |= measure(method, atoms, kind, settings, m, args.rounds)
                if kind == "paper":
                    row["paper_labels"] = n_paper
                    row["paper_device_hours"] = round(n_paper / row["labels_per_hour"], 1)
                rows.append(row)
                print(" ".join(f"{k}={v}" for k, v in row.items()), flush=True)
    table = pd.DataFrame(rows)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False)
    best = table.loc[table.groupby(["natoms", "kind"])["labels_per_hour"].idxmax()]
    print("\nbest molecules in flight per size and kind:")
    print(best[["natoms", "kind", "in_flight", "labels_per_hour"]].to_string(index=False))
    print(f"-> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
