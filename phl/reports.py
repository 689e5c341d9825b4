"""Tables over workflow outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ase import Atoms

from phl.dataset.convert import read_label
from phl.provenance import atomic_write_text


def summarize_labels(paths: list[Path], out: Path) -> list[dict]:
    """One CSV row per reference label file: size, energies, force scale, what was computed, times."""
    import pandas as pd

    rows = []
    for path in paths:
        data = read_label(path)
        prov = data.get("provenance", {})
        walls = prov.get("wall_seconds", {})
        rows.append({
            "name": f"{data['reaction']}/{data['name']}" if "reaction" in data and "name" in data else path.stem,
            "category": data.get("category", ""),
            "natoms": len(data["symbols"]),
            "formula": Atoms(data["symbols"]).get_chemical_formula(),
            "energy_eh": data["energy"],
            "dispersion_eh": data["dispersion_energy"],
            "max_abs_force_eh_per_a": float(np.abs(np.asarray(data["forces"])).max()),
            "hessian": "hessian" in data,
            "n_hvp": len(data.get("hvps", [])),
            "hessian_mode": prov.get("hessian_mode"),
            "backend": prov.get("backend"),
            **{f"seconds_{k}": round(v, 3) for k, v in walls.items()},
        })
    atomic_write_text(out, pd.DataFrame(rows).to_csv(index=False))
    return rows
