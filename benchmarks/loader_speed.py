#!/usr/bin/env python
"""Data-loader throughput against an E-F training step, on a synthetic data set shaped like the
paper's (default 130k structures, median 14 atoms, H/C/N/O, dense Hessians: ~1.8 GB on disk).

    python benchmarks/loader_speed.py --out loader.csv              # 130k structures
    python benchmarks/loader_speed.py --quick --out loader.csv      # 20k structures

For each loading mode (E-F only; + full Hessians read lazily; + fixed probes) it times shuffled
batches of 400 and compares with one E-F training step of the paper's ANI model (float64, same
machine). Target: loading a batch costs < 10 % of the E-F step.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from phl.dataset import Dataset, DatasetWriter
from phl.dataset.batching import BatchLoader
from phl.dataset.synthetic import synthetic_structures
from phl.io.atomic import atomic_write_text
from phl.models.ani import ANIModel


def ef_step_seconds(batch, repeats: int = 3) -> float:
    model = ANIModel()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    times = []
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        coords = batch.coordinates.clone().requires_grad_(True)
        energy = model(batch.species, coords)
        forces = -torch.autograd.grad(energy.sum(), coords, create_graph=True)[0]
        loss = ((energy - batch.energy) ** 2).mean() + ((forces - batch.forces) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t0)
    return float(np.median(times[1:]))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--structures", type=int, default=130_000)
    p.add_argument("--quick", action="store_true", help="20k structures")
    p.add_argument("--batch-size", type=int, default=400)
    p.add_argument("--batches", type=int, default=30, help="batches timed per mode")
    p.add_argument("--data", help="reuse or create the synthetic data set here (default: a temporary file)")
    p.add_argument("--out", required=True, help="CSV file")
    args = p.parse_args(argv)
    import pandas as pd

    n = 20_000 if args.quick else args.structures
    tmpdir = None
    if args.data:
        path = Path(args.data)
    else:
        tmpdir = tempfile.TemporaryDirectory()
        path = Path(tmpdir.name) / "synthetic.h5"
    if not path.exists():
        t0 = time.perf_counter()
        with DatasetWriter(path) as w:
            w.add_many(synthetic_structures(n, seed=0, median_atoms=14, max_atoms=22))
        print(
            f"wrote {n} structures ({path.stat().st_size / 1e9:.2f} GB) in {time.perf_counter() - t0:.0f} s",
            file=sys.stderr,
        )
    rows = []
    with Dataset(path) as ds:
        t0 = time.perf_counter()
        with Dataset(path) as _:
            pass
        open_s = time.perf_counter() - t0
        median_atoms = float(np.median(ds.columns["n_atoms"]))
        modes = {"ef": {}, "ef+hessian": {"hessian": True}, "ef+fixed_probe": {"hvp": "fixed"}}
        for mode, kwargs in modes.items():
            loader = BatchLoader(ds, np.arange(len(ds)), batch_size=args.batch_size, shuffle=True, seed=1, **kwargs)
            chunks = loader.batch_indices()[: args.batches]
            loader.make_batch(chunks[0])  # warm up
            t0 = time.perf_counter()
            for idx in chunks:
                loader.make_batch(idx)
            per_batch = (time.perf_counter() - t0) / len(chunks)
            rows.append(
                {
                    "mode": mode,
                    "structures": len(ds),
                    "median_atoms": median_atoms,
                    "batch_size": args.batch_size,
                    "seconds_per_batch": per_batch,
                    "batches_per_second": 1.0 / per_batch,
                }
            )
        step = ef_step_seconds(loader.make_batch(chunks[0]))
    df = pd.DataFrame(rows)
    df["ef_step_seconds"] = step
    df["fraction_of_ef_step"] = df["seconds_per_batch"] / step
    df["open_seconds"] = open_s
    df["threads"] = torch.get_num_threads()
    atomic_write_text(args.out, df.to_csv(index=False))
    print(df.round(4).to_string(index=False))
    if tmpdir:
        tmpdir.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
