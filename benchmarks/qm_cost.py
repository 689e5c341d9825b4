#!/usr/bin/env python
"""Cost of reference data against molecule size (the paper's Fig. 5 analogue).

For each molecule: wall time of an energy (SCF from the default guess), energy+forces, the
analytic Hessian, and one finite-difference HVP (two displaced gradients restarted from the
converged density; the reference SCF is shared with energy+forces, which every label computes
anyway). Writes CSV rows ``molecule, natoms, task, seconds`` and a log-log figure beside the CSV.

    python benchmarks/qm_cost.py --quick --out qm_cost.csv      # water, methanol, ethanol
    python benchmarks/qm_cost.py --out qm_cost.csv              # ... propane, n-butane (long)

Ratios, not absolute times, are the result: FD-HVP / (energy+forces) and Hessian / FD-HVP.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from ase.build import molecule

from phl.io.atomic import atomic_write_text
from phl.probes import draw_probes
from phl.provenance import package_versions
from phl.qm.engine import ReferenceEngine
from phl.qm.method import Method

MOLECULES = {"water": "H2O", "methanol": "CH3OH", "ethanol": "CH3CH2OH", "propane": "C3H8", "butane": "trans-butane"}
QUICK = ("water", "methanol", "ethanol")


def time_molecule(name: str, method: Method, hessian_modes: list[str]) -> list[dict]:
    atoms = molecule(MOLECULES[name])
    symbols, pos = atoms.get_chemical_symbols(), atoms.get_positions()
    eng = ReferenceEngine(method)
    rows = []

    def row(task, seconds, **extra):
        rows.append({"molecule": name, "natoms": len(atoms), "task": task, "seconds": round(seconds, 3), **extra})
        print(f"  {name:9s} {task:14s} {seconds:9.2f} s", file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    mf = eng.run_scf(symbols, pos)
    t_scf = time.perf_counter() - t0
    row("energy", t_scf, scf_cycles=mf.scf_info.cycles)
    t0 = time.perf_counter()
    eng.electronic_gradient(mf)
    row("forces", t_scf + time.perf_counter() - t0)
    dm = mf.make_rdm1()
    probe = draw_probes(np.random.default_rng(0), len(atoms), 1)[0]
    t0 = time.perf_counter()
    eng.fd_directional_derivatives(symbols, pos, dm, (probe / np.linalg.norm(probe))[None], "hvp")
    row("hvp", time.perf_counter() - t0)
    for mode in hessian_modes:
        t0 = time.perf_counter()
        if mode == "analytic":
            eng.analytic_hessian(mf)
        else:
            eng.fd_hessian(symbols, pos, dm)
        row("hessian" if mode == "analytic" else "hessian_fd", time.perf_counter() - t0)
    return rows


def plot(df, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = {
        "energy": "energy",
        "forces": "energy + forces",
        "hvp": "one FD-HVP (2 gradients)",
        "hessian": "analytic Hessian",
        "hessian_fd": "FD Hessian (6N gradients)",
    }
    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    for task, group in df.groupby("task", sort=False):
        g = group.sort_values("natoms")
        ax.loglog(g["natoms"], g["seconds"], "o-", label=labels.get(task, task))
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    ax.set_xticks(sorted(df["natoms"].unique()))
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("number of atoms")
    ax.set_ylabel("wall time (s)")
    ax.set_title("Reference data cost, wB97X-D/6-31G(d)", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    for suffix in (".png", ".pdf"):
        fig.savefig(path.with_suffix(suffix), dpi=150)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="stop at ethanol")
    p.add_argument("--out", required=True, help="CSV file")
    p.add_argument("--molecules", nargs="+", choices=list(MOLECULES), help="override the molecule list")
    p.add_argument("--basis", default="6-31G(d)")
    p.add_argument("--grid", default="99,590")
    p.add_argument("--fd-hessian", action="store_true", help="also time the FD Hessian (6N gradients)")
    args = p.parse_args(argv)
    import pandas as pd

    names = args.molecules or (QUICK if args.quick else tuple(MOLECULES))
    method = Method(basis=args.basis, grid=tuple(int(v) for v in args.grid.split(",")))
    modes = ["analytic"] + (["fd"] if args.fd_hessian else [])
    rows = [r for name in names for r in time_molecule(name, method, modes)]
    df = pd.DataFrame(rows)
    df["basis"], df["grid"], df["threads"] = args.basis, args.grid, __import__("pyscf").lib.num_threads()
    df["pyscf"] = package_versions(["pyscf"])["pyscf"]
    out = Path(args.out)
    atomic_write_text(out, df.to_csv(index=False))
    plot(df, out)
    wide = df.pivot_table(index=["molecule", "natoms"], columns="task", values="seconds").sort_index(level="natoms")
    wide["hvp/forces"] = wide["hvp"] / wide["forces"]
    wide["hessian/hvp"] = wide["hessian"] / wide["hvp"]
    print(wide.round(2).to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
