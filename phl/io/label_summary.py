"""Label files of both formats (JSON from ``phl compute``, HDF5 shards from ``phl batch labels``)
found and summarised: the one module that reads both, so :mod:`phl.labels` and
:mod:`phl.io.label_shards` import nothing of each other's."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from phl.errors import InputError
from phl.io.atomic import atomic_write_text
from phl.io.label_shards import read_shard
from phl.labels import read_label


def label_files(paths: list[str], allow_empty: bool = False) -> list[Path]:
    """Label files (JSON) and label shards (HDF5) given directly or as directories (searched
    recursively for *.json and *.h5; unfinished shards' .parts folders are left out)."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = [*p.rglob("*.json"), *p.rglob("*.h5")]
            files.extend(sorted(f for f in found if not any(part.endswith(".parts") for part in f.parts)))
        else:
            files.append(p)
    if not files and not allow_empty:
        raise InputError(f"no label files in {', '.join(paths)}")
    return files


def summarize_labels(paths: list[Path], out: Path) -> list[dict]:
    """One CSV row per reference label file: size, energies, force scale, what was computed, times."""
    import pandas as pd
    from ase import Atoms

    rows = []
    for path, label in _labels_of(paths):
        prov = label.provenance
        walls = prov.get("wall_seconds", {})
        rows.append(
            {
                "name": f"{label.reaction}/{label.name}"
                if label.reaction is not None and label.name is not None
                else Path(path).stem,
                "category": label.category or "",
                "natoms": len(label.symbols),
                "formula": Atoms(label.symbols).get_chemical_formula(),
                "energy_eh": label.energy,
                "dispersion_eh": label.dispersion_energy,
                "max_abs_force_eh_per_a": float(np.abs(label.forces).max()),
                "hessian": label.hessian is not None,
                "n_hvp": 0 if label.hvps is None else len(label.hvps),
                "hessian_mode": prov.get("hessian_mode"),
                "backend": prov.get("backend"),
                **{f"seconds_{k}": round(v, 3) for k, v in walls.items()},
            }
        )
    atomic_write_text(out, pd.DataFrame(rows).to_csv(index=False))
    return rows


def _labels_of(paths: list[Path]):
    """(file, label) of every label in JSON files and HDF5 shards."""
    for path in paths:
        if Path(path).suffix.lower() in (".h5", ".hdf5"):
            for label in read_shard(path).labels:
                yield path, label
        else:
            yield path, read_label(path)
