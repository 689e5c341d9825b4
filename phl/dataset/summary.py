"""What a data set holds: counts by category, element and size, label coverage, splits."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
from ase.data import chemical_symbols

from phl.dataset.schema import SPLITS
from phl.dataset.store import Dataset


def summarize(ds: Dataset) -> dict[str, Any]:
    n_atoms = ds.columns["n_atoms"]
    elements = Counter()
    for i in range(len(ds)):
        elements.update(set(ds.species[ds.atom_slice(i)].tolist()))
    cats = Counter(ds.category_names.tolist())
    return {
        "path": str(ds.path),
        "structures": len(ds),
        "atoms": int(n_atoms.sum()),
        "reactions": len(ds.reactions),
        "by_category": dict(sorted(cats.items())),
        "structures_with_element": {chemical_symbols[z]: c for z, c in sorted(elements.items())},
        "n_atoms": {"min": int(n_atoms.min()), "median": float(np.median(n_atoms)), "max": int(n_atoms.max())}
        if len(ds)
        else {},
        "with_hessian": int(ds.has_hessian.sum()),
        "with_hvp_pairs": int((ds.columns["n_hvp"] > 0).sum()),
        "hvp_pairs": int(ds.columns["n_hvp"].sum()),
        "splits": {
            name: {part: int(np.sum(ds.split(name) == code)) for part, code in SPLITS.items()}
            for name in ds.split_names()
        },
    }


def format_summary(s: dict[str, Any]) -> str:
    lines = [f"{s['path']}: {s['structures']} structures, {s['atoms']} atoms, {s['reactions']} reactions"]
    lines.append("  by category: " + ", ".join(f"{k} {v}" for k, v in s["by_category"].items()))
    lines.append("  structures containing: " + ", ".join(f"{k} {v}" for k, v in s["structures_with_element"].items()))
    if s["n_atoms"]:
        lines.append("  atoms per structure: min {min}, median {median:g}, max {max}".format(**s["n_atoms"]))
    lines.append(
        f"  labels: energy+forces {s['structures']}, Hessian {s['with_hessian']}, "
        f"HVP pairs {s['hvp_pairs']} on {s['with_hvp_pairs']} structures"
    )
    for name, parts in s["splits"].items():
        lines.append(f"  split {name}: " + ", ".join(f"{k} {v}" for k, v in parts.items()))
    return "\n".join(lines)
