"""Reading and validating molecular geometries (ASE ``Atoms``, positions in Å)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers

from phl.errors import InputError

#: Two atoms closer than this (Å) are taken as overlapping; the shortest real bond (H2) is 0.74 Å.
MIN_INTERATOMIC_DISTANCE = 0.5


def read_xyz(path: str | Path) -> Atoms:
    """Read one molecule from an XYZ (or extended XYZ) file and validate it."""
    from ase.io import read

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    text = path.read_text(errors="replace")
    if not text.strip():
        raise InputError(f"{path}: empty geometry file")
    lines = text.splitlines()
    try:
        n_atoms = int(lines[0].split()[0])
    except (ValueError, IndexError):
        raise InputError(f"{path}: malformed XYZ: first line must be the number of atoms, got {lines[0]!r}") from None
    if n_atoms < 1:
        raise InputError(f"{path}: malformed XYZ: number of atoms is {n_atoms}")
    if len(lines) < n_atoms + 2:
        raise InputError(f"{path}: malformed XYZ: header says {n_atoms} atoms but only {max(len(lines) - 2, 0)} lines follow")
    for k, line in enumerate(lines[2 : n_atoms + 2], start=3):
        parts = line.split()
        if len(parts) < 4:
            raise InputError(f"{path}: malformed XYZ at line {k}: expected 'symbol x y z', got {line!r}")
        try:
            [float(v) for v in parts[1:4]]
        except ValueError:
            raise InputError(f"{path}: malformed XYZ at line {k}: coordinates are not numbers: {line!r}") from None
    try:
        atoms = read(str(path), index=0, format="extxyz")
    except Exception as exc:
        raise InputError(f"{path}: malformed XYZ: {exc}") from None
    validate_atoms(atoms, where=str(path))
    return atoms


def validate_atoms(atoms: Atoms, where: str = "geometry") -> None:
    """Check element symbols, finite coordinates and that no two atoms overlap."""
    if len(atoms) == 0:
        raise InputError(f"{where}: no atoms")
    for s in atoms.get_chemical_symbols():
        if s not in atomic_numbers or atomic_numbers[s] == 0:
            raise InputError(f"{where}: unknown element {s!r}")
    pos = atoms.get_positions()
    if not np.all(np.isfinite(pos)):
        raise InputError(f"{where}: non-finite coordinates")
    if len(atoms) > 1:
        d = np.linalg.norm(pos[:, None, :] - pos[None, :, :], axis=-1)
        d[np.diag_indices(len(atoms))] = np.inf
        i, j = np.unravel_index(np.argmin(d), d.shape)
        if d[i, j] < MIN_INTERATOMIC_DISTANCE:
            i, j = sorted((int(i), int(j)))
            raise InputError(
                f"{where}: atoms {i + 1} ({atoms[i].symbol}) and {j + 1} ({atoms[j].symbol}) overlap: "
                f"{d[i, j]:.3f} Å apart (minimum {MIN_INTERATOMIC_DISTANCE} Å)"
            )


def check_charge_multiplicity(atoms: Atoms, charge: int, multiplicity: int, where: str = "geometry") -> None:
    """Raise if the electron count cannot carry this spin multiplicity."""
    n_electrons = int(atoms.get_atomic_numbers().sum()) - int(charge)
    unpaired = int(multiplicity) - 1
    if n_electrons < 1:
        raise InputError(f"{where}: charge {charge} leaves {n_electrons} electrons")
    if unpaired > n_electrons or (n_electrons - unpaired) % 2:
        raise InputError(
            f"{where}: charge {charge} and multiplicity {multiplicity} are inconsistent: "
            f"{n_electrons} electrons cannot have {unpaired} unpaired "
            f"(multiplicity must be {'odd' if n_electrons % 2 == 0 else 'even'})"
        )
