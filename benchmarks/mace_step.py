#!/usr/bin/env python
"""phl's training steps on MACE against mace-torch's own training step, on the same batches.

For the same molecules, batch by batch, it times

* ``phl ef``: phl's E-F step on :class:`phl.models.mace.MACEModel` (forward with the graph built
  from the padded batch, forces by autograd with ``create_graph``, the PHL loss, backward,
  optimiser step);
* ``phl hvp-random``: the same plus one Hutchinson HVP per structure (third order through e3nn);
* ``mace-torch``: mace-torch's own step (``mace.tools.train.take_step``: its forward with forces,
  ``WeightedEnergyForcesLoss`` with the same weights 1 and 0.3, backward, AdamW) on batches made by
  its own data pipeline (``AtomicData.from_config`` with its neighbour list, collated beforehand,
  so that its data loading is not timed: the comparison is strict for phl, which builds its graph
  inside the step).

Each step makes one warm-up pass over the batches, then ``--repeats`` timed passes, interleaved
with the other steps' passes; the median pass is reported (seconds per step), with the ratios
hvp/ef and phl ef / mace-torch. Peak memory per regime: ``benchmarks/train_cost.py --model mace``
(a fresh process per regime).

    python benchmarks/mace_step.py --out benchmarks/results/mace_step.csv               # synthetic H/C/N/O, 14 atoms
    python benchmarks/mace_step.py --dataset results/dataset/dataset.h5 --out mace_step_science.csv
    python benchmarks/mace_step.py --device cuda --out mace_step_gpu.csv
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path


def mace_batches(phl_batches, elements, r_max, dtype):
    """The molecules of phl's batches as mace-torch's collated batches (its own pipeline)."""
    import torch
    from ase import Atoms
    from mace import data as mace_data
    from mace import tools
    from mace.tools import torch_geometric

    table = tools.AtomicNumberTable(list(elements))
    out = []
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        for batch in phl_batches:
            graphs = []
            for b in range(len(batch)):
                k = int(batch.n_atoms[b])
                atoms = Atoms(numbers=batch.species[b, :k].numpy(), positions=batch.coordinates[b, :k].numpy())
                atoms.info["REF_energy"] = float(batch.energy[b])
                atoms.arrays["REF_forces"] = batch.forces[b, :k].numpy()
                config = mace_data.config_from_atoms(atoms)
                graphs.append(mace_data.AtomicData.from_config(config, z_table=table, cutoff=r_max))
            loader = torch_geometric.dataloader.DataLoader(graphs, batch_size=len(graphs), shuffle=False)
            out.append(next(iter(loader)))
    finally:
        torch.set_default_dtype(previous)
    return out


def timed_passes(steps: dict, repeats: int, sync) -> dict[str, list[float]]:
    """Seconds per step of each of ``steps`` (name → (step, batches)): one warm-up pass each,
    then ``repeats`` rounds in which every step makes one pass (interleaved, so that a change of
    the machine's load weighs on all of them alike)."""
    for step, batches in steps.values():
        for b in batches:
            step(b)
    passes: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(repeats):
        for name, (step, batches) in steps.items():
            sync()
            t0 = time.perf_counter()
            for b in batches:
                step(b)
            sync()
            passes[name].append((time.perf_counter() - t0) / len(batches))
    return passes


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="CSV file")
    p.add_argument("--dataset", help="a phl data set (its 'paper' training part); default: synthetic teacher data")
    p.add_argument("--atoms", type=int, default=14, help="molecule size of the synthetic data (default 14)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--batches", type=int, default=4)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--model-kwargs", default='{"preset": "small"}', help="MACEModel arguments, JSON")
    p.add_argument("--device", default="auto", help="auto (CUDA where present), cpu, cuda or cuda:N")
    args = p.parse_args(argv)

    import pandas as pd
    import torch
    from mace.modules.loss import WeightedEnergyForcesLoss
    from mace.tools.train import take_step

    from phl.io.atomic import atomic_write_text
    from phl.models.device import resolve_device
    from phl.training.config import TrainConfig
    from phl.training.teacher import teacher_dataset
    from phl.training.trainer import Trainer

    device = resolve_device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    kwargs = json.loads(args.model_kwargs)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data = args.dataset
        if data is None:
            data = teacher_dataset(
                Path(tmp) / "teacher.h5",
                int(args.batch_size * args.batches / 0.8) + 2,
                median_atoms=args.atoms,
                max_atoms=args.atoms,
            )
        trainers = {}
        for regime in ("ef", "hvp-random"):
            cfg = TrainConfig(
                regime=regime, model="mace", model_kwargs=kwargs, batch_size=args.batch_size, device=str(device)
            )
            torch.manual_seed(0)
            trainers[regime] = Trainer(cfg, data, Path(tmp) / regime)
        hvp = trainers["hvp-random"]  # its loader reads the Hessians its probes' reference HVPs need
        host = [hvp.with_probes(b) for _, b in zip(range(args.batches), hvp.loader)]
        model = trainers["ef"].model
        natoms = float(torch.cat([b.n_atoms for b in host]).double().mean())
        steps = {
            "phl ef": (lambda b: trainers["ef"].step(b), [b.to(device) for b in host]),
            "phl hvp-random": (lambda b: hvp.step(b), [b.to(device) for b in host]),
        }
        # mace-torch's own step on a copy of the same model (same weights; E0 and scale as built in both)
        theirs = copy.deepcopy(model.mace)
        optimizer = torch.optim.AdamW(theirs.parameters(), lr=1e-3, weight_decay=1e-2)
        loss_fn = WeightedEnergyForcesLoss(energy_weight=1.0, forces_weight=0.3).to(device)
        args_out = {"forces": True, "virials": False, "stress": False}
        steps["mace-torch"] = (
            lambda b: take_step(theirs, loss_fn, b, optimizer, None, args_out, None, device),
            mace_batches(host, model.elements, model.r_max, next(model.parameters()).dtype),
        )
        timings = timed_passes(steps, args.repeats, sync)
        for name, (_, batches) in steps.items():
            passes = timings[name]
            rows.append(
                {
                    "step": name,
                    "sec_per_step": statistics.median(passes),
                    "min_sec_per_step": min(passes),
                    "batch_size": args.batch_size,
                    "natoms": natoms,
                    "batches": len(batches),
                    "repeats": args.repeats,
                    "device": str(device),
                    "model_kwargs": json.dumps(kwargs),
                    "data": str(args.dataset or f"synthetic teacher, {args.atoms} atoms"),
                }
            )
            print(f"  {name:15s} {rows[-1]['sec_per_step']:.3f} s/step", file=sys.stderr, flush=True)
    df = pd.DataFrame(rows)
    t = dict(zip(df["step"], df["sec_per_step"]))
    df["hvp/ef"] = t["phl hvp-random"] / t["phl ef"]
    df["phl_ef/mace_torch"] = t["phl ef"] / t["mace-torch"]
    atomic_write_text(args.out, df.to_csv(index=False))
    print(df[["step", "sec_per_step"]].to_string(index=False))
    print(f"hvp/ef {df['hvp/ef'].iloc[0]:.2f}   phl ef / mace-torch {df['phl_ef/mace_torch'].iloc[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
