#!/usr/bin/env python
"""Seconds per training epoch and peak memory of the four regimes, against molecule size.

For each molecule size it writes a teacher-labelled synthetic data set (H/C/N/O, batch 400) and
trains each regime (randomized probes) in a fresh process, so that the peak memory (resident set
on CPU, max allocated on CUDA) belongs to that regime alone. ``sec_per_epoch`` is the mean over
the epochs after the first (``--epochs``, default 3): the first epoch of a fresh process also pays
for touching its memory for the first time (page faults, ~0.3 s per GB here), which weighs on the
regimes that need more memory and is not part of the steady cost of training; it is reported
separately as ``first_epoch_sec``.

    python benchmarks/train_cost.py --quick --out train_cost.csv     # sizes 6, 10, 14; 2 batches/epoch
    python benchmarks/train_cost.py --out train_cost.csv             # sizes 6, 10, 14, 20; 4 batches
    python benchmarks/train_cost.py --sizes 14 --device cuda --out train_cost_gpu.csv   # on a GPU
    python benchmarks/train_cost.py --sizes 14 --device cuda --static-step off --out plain_gpu.csv
    python benchmarks/train_cost.py --model mace --sizes 14 --batch-size 32 --out train_cost_mace.csv

``--static-step`` is the training setting (auto: E-F and HVP steps captured as CUDA graphs on
CUDA, the plain step on CPU; off; eager; graph); the ``static_step`` column says what ran
("graph failed: ..." where a capture fell back to the plain step). ``--settings`` sets any other
training setting, as JSON (e.g. ``'{"hessian_chunk": 0, "size_groups": 1}'``).

CSV columns: regime, natoms (mean atoms per structure), structures, sec_per_epoch, sec_per_step, device,
first_epoch_sec, peak_mem_mb, matmul_gflop_per_batch and other_gb_per_batch (the work of one
step, counted op by op: matrix-multiply GFLOP and GB written by all other ops), ops_per_batch
(ops dispatched in one step: kernel launches on a GPU without a graph), static_step, plus per size the
ratios hvp/ef (time, memory, matmul work, other work) and efh/hvp.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from phl.registry import REGIMES
from phl.training.config import STATIC_STEP_MODES


def count_work(trainer) -> dict[str, float]:
    """Work of one training step (the static-shape step where the run uses one) on the first
    batch, counted op by op at torch's dispatcher: matrix-multiply GFLOP (torch.utils.flop_counter's
    formulas), GB written by every other op (elementwise, gathers, reductions: memory-bound on a
    CPU; views count as written) and the number of ops dispatched: each one at least one kernel
    launch on a GPU, unless the step is replayed as a CUDA graph."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils.flop_counter import flop_registry

    class Count(TorchDispatchMode):
        flops = 0
        written = 0
        ops = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            self.ops += 1
            packet = func._overloadpacket
            if packet in flop_registry:
                self.flops += flop_registry[packet](*args, **kwargs, out_val=out)
            elif isinstance(out, torch.Tensor):
                self.written += out.numel() * out.element_size()
            return out

    batch = trainer.with_probes(next(iter(trainer.loader)))
    static = trainer.static_step
    with Count() as count:
        if static is None:
            trainer.backward(trainer.batch_losses(batch.to(trainer.device)))
        else:  # the padded step, as the graph replays it (counted eagerly)
            padded, weights = static.prepare(batch)
            static.losses_and_gradients(padded.to(trainer.device), weights.to(trainer.device))
    return {
        "matmul_gflop_per_batch": count.flops / 1e9,
        "other_gb_per_batch": count.written / 1e9,
        "ops_per_batch": count.ops,
    }


def worker(regime: str, data: str, batch_size: int, epochs: int, device: str, settings: dict) -> None:
    import numpy as np

    from phl.dataset import Dataset
    from phl.training.config import TrainConfig
    from phl.training.trainer import Trainer

    with tempfile.TemporaryDirectory() as out:
        cfg = TrainConfig(
            regime=regime, max_epochs=epochs, batch_size=batch_size, split="all", device=device, **settings
        )
        trainer = Trainer(cfg, data, out)
        summary = trainer.run()
        static = trainer.static_step
        ran = "off" if static is None else ("eager" if not static.use_graph else "graph")
        if static is not None and static.failure:
            ran = f"graph failed: {static.failure}"
        steady = trainer.history[1:] or trainer.history
        with Dataset(data) as ds:
            natoms = float(np.mean(ds.columns["n_atoms"][ds.indices("all", "train")]))
        print(
            json.dumps(
                {
                    "regime": regime,
                    "natoms": natoms,
                    "structures": len(trainer.train_idx),
                    "sec_per_epoch": float(np.mean([r["seconds"] for r in steady])),
                    "sec_per_step": float(np.mean([r["seconds"] for r in steady])) / len(trainer.loader),
                    "first_epoch_sec": trainer.history[0]["seconds"],
                    "epochs": len(trainer.history),
                    "peak_mem_mb": max(r["peak_mem_mb"] for r in trainer.history),
                    "device": summary["device"],
                    "static_step": ran,
                    "model": cfg.model,
                    "settings": json.dumps(settings),
                    **count_work(trainer),
                }
            )
        )


def make_data(path: Path, size: int, n_train: int) -> None:
    import numpy as np

    from phl.dataset.store import write_split
    from phl.training.teacher import teacher_dataset

    n_val = 8
    teacher_dataset(path, n_train + n_val, seed=size, median_atoms=size, max_atoms=size)
    codes = np.zeros(n_train + n_val, dtype=np.int8)
    codes[n_train:] = 1  # the last few for validation, every other structure trains
    write_split(path, "all", codes, {"kind": "benchmark"})


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out", help="CSV file")
    p.add_argument("--sizes", type=int, nargs="+")
    p.add_argument("--batch-size", type=int, default=400)
    p.add_argument("--batches", type=int, help="batches per epoch (default 2 with --quick, else 4)")
    p.add_argument("--epochs", type=int, default=3, help="epochs per regime; all but the first are timed (default 3)")
    p.add_argument("--regimes", nargs="+", choices=REGIMES, default=list(REGIMES))
    p.add_argument("--device", default="auto", help="auto (CUDA where present), cpu, cuda or cuda:N")
    p.add_argument("--static-step", default="auto", choices=STATIC_STEP_MODES, help="the training setting")
    p.add_argument("--settings", default="{}", help="other training settings, JSON: '{\"hessian_chunk\": 0}'")
    p.add_argument("--model", default="ani", help="ani (the paper's), mace, pair or a class path package.module:Class")
    p.add_argument("--model-kwargs", default="{}", help="the model's constructor arguments, JSON")
    p.add_argument("--worker", nargs=2, metavar=("REGIME", "DATA"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        settings = {
            "static_step": args.static_step,
            "model": args.model,
            "model_kwargs": json.loads(args.model_kwargs),
            **json.loads(args.settings),
        }
        worker(args.worker[0], args.worker[1], args.batch_size, args.epochs, args.device, settings)
        return 0
    if not args.out:
        p.error("--out is required")
    import pandas as pd

    from phl.io.atomic import atomic_write_text

    sizes = args.sizes or ([6, 10, 14] if args.quick else [6, 10, 14, 20])
    batches = args.batches or (2 if args.quick else 4)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            data = Path(tmp) / f"size{size}.h5"
            make_data(data, size, batches * args.batch_size)
            for regime in args.regimes:
                proc = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--worker",
                        regime,
                        str(data),
                        "--batch-size",
                        str(args.batch_size),
                        "--epochs",
                        str(args.epochs),
                        "--device",
                        args.device,
                        "--static-step",
                        args.static_step,
                        "--settings",
                        args.settings,
                        "--model",
                        args.model,
                        "--model-kwargs",
                        args.model_kwargs,
                    ],
                    capture_output=True,
                    text=True,
                )
                if proc.returncode:
                    print(proc.stderr, file=sys.stderr)
                    return proc.returncode
                row = json.loads(proc.stdout.strip().splitlines()[-1])
                rows.append(row)
                print(
                    f"  size {size:3d}  {regime:11s} {row['sec_per_epoch']:8.3f} s/epoch  "
                    f"{row['peak_mem_mb']:8.0f} MB  step {row['static_step']}",
                    file=sys.stderr,
                    flush=True,
                )
    df = pd.DataFrame(rows)
    df["size"] = [s for s in sizes for _ in args.regimes]
    wide = df.pivot(index="size", columns="regime", values="sec_per_epoch")
    mem = df.pivot(index="size", columns="regime", values="peak_mem_mb")
    ratios = pd.DataFrame(index=wide.index)
    if {"ef", "hvp-random"} <= set(wide.columns):
        ratios["hvp_random/ef"] = wide["hvp-random"] / wide["ef"]
        ratios["hvp_onehot/ef"] = wide.get("hvp-onehot", float("nan")) / wide["ef"]
        ratios["hvp_mem/ef_mem"] = mem["hvp-random"] / mem["ef"]
        flop = df.pivot(index="size", columns="regime", values="matmul_gflop_per_batch")
        other = df.pivot(index="size", columns="regime", values="other_gb_per_batch")
        ratios["hvp_matmul/ef_matmul"] = flop["hvp-random"] / flop["ef"]
        ratios["hvp_other/ef_other"] = other["hvp-random"] / other["ef"]
    if {"efh", "hvp-random"} <= set(wide.columns):
        ratios["efh/hvp_random"] = wide["efh"] / wide["hvp-random"]
    df = df.merge(ratios.reset_index(), on="size", how="left")
    atomic_write_text(args.out, df.to_csv(index=False))
    print(wide.round(2).to_string())
    print(ratios.round(2).to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
