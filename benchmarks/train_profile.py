#!/usr/bin/env python
"""Where a training step spends its time: each part of the step (``phl.*`` profiler regions of
:class:`phl.training.trainer.Trainer`), its time, the kernels it launches and the host
synchronisations, per regime, under torch.profiler.

Parts: ``probes`` (randomized probes drawn), ``energy_forces`` (model forward and the force
backward), ``hvp`` / ``hessian`` (model HVPs or Hessians), ``loss``, ``backward`` (parameter
gradients), ``optimizer``. Kernels: on CUDA the launches (``cudaLaunchKernel``), on CPU the leaf
aten operators (what would each be one kernel on a GPU). Host syncs: reads of a device value on
the host inside the step (``aten::_local_scalar_dense``: ``.item()``, ``bool()``, ``.tolist()``),
``aten::nonzero`` and CUDA stream/device synchronisations.

    python benchmarks/train_profile.py --size 14 --out profile.csv                  # CPU or the GPU
    python benchmarks/train_profile.py --size 14 --device cuda --out profile_gpu.csv

Data: the teacher-labelled synthetic set of benchmarks/train_cost.py (batch 400, float64).
CSV columns: regime, part, ms_per_step, kernels_per_step, syncs_per_step, device, natoms, batch.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

REGIMES = ("ef", "hvp-onehot", "hvp-random", "efh")
SYNC_OPS = ("aten::_local_scalar_dense", "aten::nonzero", "cudaStreamSynchronize", "cudaDeviceSynchronize")


def profile_regime(regime: str, data: Path, batch_size: int, steps: int, device: str) -> list[dict]:
    import torch
    from torch.profiler import ProfilerActivity, profile

    from phl.training.config import TrainConfig
    from phl.training.trainer import Trainer

    with tempfile.TemporaryDirectory() as out:
        trainer = Trainer(
            TrainConfig(regime=regime, batch_size=batch_size, split="all", device=device, max_epochs=1), data, out
        )
        batch = next(iter(trainer.loader)).to(trainer.device)
        cuda = trainer.device.type == "cuda"

        def step() -> None:
            with torch.profiler.record_function("phl.step"):
                trainer.step(batch)
            if cuda:
                torch.cuda.synchronize(trainer.device)

        for _ in range(2):  # warm-up: allocator, autotuning, lazy initialisation
            step()
        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
        with profile(activities=activities) as prof:
            for _ in range(steps):
                step()
        events = [e for e in prof.events() if e.device_type.name == "CPU"]
        regions = [e for e in events if e.name.startswith("phl.")]
        if cuda:
            kernels = [e for e in events if e.name in ("cudaLaunchKernel", "cuLaunchKernel", "cudaLaunchKernelExC")]
        else:
            aten = [e for e in events if e.name.startswith("aten::")]
            kernels = [e for e in aten if not any(c.name.startswith("aten::") for c in e.cpu_children)]
        syncs = [e for e in events if e.name in SYNC_OPS]
        # each operator belongs to the innermost region whose interval holds its start (the
        # autograd engine may run backward operators on another thread, inside phl.backward)
        regions.sort(key=lambda e: e.time_range.start)

        def owner(e) -> str:
            best = None
            for r in regions:
                if r.time_range.start <= e.time_range.start <= r.time_range.end:
                    if best is None or r.time_range.elapsed_us() < best.time_range.elapsed_us():
                        best = r
            return best.name.removeprefix("phl.") if best else "other"

        time_us: dict[str, float] = defaultdict(float)
        for r in regions:
            time_us[r.name.removeprefix("phl.")] += r.time_range.elapsed_us()
        n_kernels: dict[str, int] = defaultdict(int)
        for e in kernels:
            n_kernels[owner(e)] += 1
        n_syncs: dict[str, int] = defaultdict(int)
        for e in syncs:
            n_syncs[owner(e)] += 1
        natoms = float(batch.n_atoms.double().mean())
        rows = []
        for part in sorted(set(time_us) | set(n_kernels)):
            rows.append(
                {
                    "regime": regime,
                    "part": part,
                    "ms_per_step": time_us.get(part, 0.0) / steps / 1e3,
                    "kernels_per_step": n_kernels.get(part, 0) / steps,
                    "syncs_per_step": n_syncs.get(part, 0) / steps,
                    "device": str(trainer.device),
                    "natoms": natoms,
                    "batch": len(batch),
                }
            )
        return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="CSV file")
    p.add_argument("--size", type=int, default=14, help="atoms per structure (default 14, the paper's median)")
    p.add_argument("--batch-size", type=int, default=400)
    p.add_argument("--steps", type=int, default=3, help="profiled steps per regime (default 3)")
    p.add_argument("--regimes", nargs="+", choices=REGIMES, default=list(REGIMES))
    p.add_argument("--device", default="auto", help="auto (CUDA where present), cpu, cuda or cuda:N")
    args = p.parse_args(argv)
    import pandas as pd
    from train_cost import make_data

    from phl.io.atomic import atomic_write_text

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data.h5"
        make_data(data, args.size, args.batch_size)
        for regime in args.regimes:
            rows += profile_regime(regime, data, args.batch_size, args.steps, args.device)
            print(f"  {regime} profiled", file=sys.stderr, flush=True)
    df = pd.DataFrame(rows)
    atomic_write_text(args.out, df.to_csv(index=False))
    table = df.pivot_table(index="part", columns="regime", values=["ms_per_step", "kernels_per_step"], aggfunc="sum")
    print(table.round(1).to_string())
    print("host syncs per step:", df.groupby("regime")["syncs_per_step"].sum().to_dict())
    return 0


if __name__ == "__main__":
    sys.exit(main())
