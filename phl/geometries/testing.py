"""Test factories for reaction sets, shipped with phl so that tests and benchmarks of other
projects can use them: small files in each public set's layout (:mod:`phl.geometries.importers`
documents the layouts) and synthetic reaction lists of any size.

Each writer takes reactions as ``(name, numbers, reactant, product, ts)`` tuples (Å) and writes
them exactly as the public set stores them; ``damage`` hooks let a test break one reaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import h5py
import numpy as np

from phl.geometries.reactions import BUILTIN, Reaction, load_reactions, write_h5_list

Raw = tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def builtin_raw() -> list[Raw]:
    """The built-in reactions as raw tuples (name, numbers, reactant, product, ts)."""
    return [
        (r.id, r.reactant.get_atomic_numbers(), r.reactant.positions, r.product.positions, r.ts_guess.positions)
        for r in load_reactions(BUILTIN)
    ]


def write_transition1x(
    path: Path, reactions: Iterable[Raw], formula: str = "CHNO", duplicate_in: str = "train"
) -> Path:
    """Transition1x layout: every reaction under ``data/{formula}/{name}`` and again under
    ``{duplicate_in}`` (as the real file lists each reaction under ``data`` and one split); the
    positions hold two frames, the first the geometry."""
    with h5py.File(path, "w") as h5:
        for split in ("data", duplicate_in):
            for name, numbers, r, p, ts in reactions:
                g = h5.require_group(f"{split}/{formula}/{name}")
                for key, pos in (("reactant", r), ("product", p), ("transition_state", ts)):
                    sub = g.create_group(key)
                    sub["atomic_numbers"] = np.asarray(numbers)
                    sub["positions"] = np.stack([pos, np.asarray(pos) + 0.3])
                    sub["wB97x_6-31G(d).energy"] = np.array([-1000.0, -999.0])
    return path


def write_rgd1(path: Path, reactions: Iterable[Raw]) -> Path:
    """RGD1 layout: one group per reaction with elements, RG, PG, TSG and energies."""
    with h5py.File(path, "w") as h5:
        for name, numbers, r, p, ts in reactions:
            g = h5.create_group(name)
            g["elements"] = np.asarray(numbers)
            g["RG"], g["PG"], g["TSG"] = r, p, ts
            g["R_E"], g["P_E"], g["TS_E"] = -100.0, -100.1, -99.9
            g["Rsmiles"], g["Psmiles"] = "C", "C"
    return path


def qchem_log(numbers: np.ndarray, frames: Iterable[np.ndarray]) -> str:
    """A Q-Chem output with one "Standard Nuclear Orientation" block per frame."""
    from ase.data import chemical_symbols

    lines = [
        "                  Welcome to Q-Chem",
        "     A Quantum Leap Into The Future Of Chemistry",
        "",
        " Q-Chem 5.1.0 for Intel X86 Linux",
        "",
    ]
    for frame in frames:
        lines += [
            "             Standard Nuclear Orientation (Angstroms)",
            "    I     Atom           X                Y                Z",
            " " + "-" * 64,
        ]
        for k, (z, xyz) in enumerate(zip(numbers, frame), start=1):
            lines.append(f"{k:5d}      {chemical_symbols[int(z)]:<2s}" + "".join(f"{v:17.10f}" for v in xyz))
        lines.append(" " + "-" * 64)
    lines.append("        *  Thank you very much for using Q-Chem.  Have a nice day.  *")
    return "\n".join(lines) + "\n"


def write_grambow(folder: Path, reactions: Iterable[Raw], first_idx: int = 0) -> Path:
    """Grambow 2020 layout: ``wb97xd3.csv`` and ``wb97xd3/rxnNNNNNN/{r,p,ts}NNNNNN.log``; every
    log holds a displaced frame before the final one. Returns the CSV path."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = ["idx,rsmi,psmi,ea,dh"]
    for k, (_, numbers, r, p, ts) in enumerate(reactions):
        idx = first_idx + k
        rxn = folder / "wb97xd3" / f"rxn{idx:06d}"
        rxn.mkdir(parents=True, exist_ok=True)
        for prefix, pos in (("r", r), ("p", p), ("ts", ts)):
            (rxn / f"{prefix}{idx:06d}.log").write_text(qchem_log(numbers, [np.asarray(pos) + 0.2, pos]))
        rows.append(f"{idx},[H:1][C:2],[C:2][H:1],50.0,10.0")
    csv = folder / "wb97xd3.csv"
    csv.write_text("\n".join(rows) + "\n")
    return csv


def synthetic_reaction_list(path: Path, n: int) -> Path:
    """A reaction list of ``n`` reactions: the built-in ones repeated under ids ``syn000000``...
    (for planning and scale tests; geometries are real, so jobs on it would run)."""
    base = load_reactions(BUILTIN)
    reactions = [
        Reaction(f"syn{k:06d}", b.reactant, b.product, b.charge, b.multiplicity, b.ts_guess, b.id)
        for k, b in ((k, base[k % len(base)]) for k in range(n))
    ]
    write_h5_list(path, reactions, "synthetic", {"n": n})
    return path
