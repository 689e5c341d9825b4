"""Reading XYZ geometries into ASE ``Atoms`` (positions in Å), checked line by line and then as a molecule."""

from __future__ import annotations

from pathlib import Path

from ase import Atoms
from ase.data import atomic_numbers

from phl.checks import validate_atoms
from phl.errors import InputError


def read_xyz(path: str | Path) -> Atoms:
    """Read one molecule from an XYZ (or extended XYZ) file and validate it."""
    from ase.io import read

    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not an XYZ file")
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
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
        raise InputError(
            f"{path}: malformed XYZ: header says {n_atoms} atoms but only {max(len(lines) - 2, 0)} lines follow"
        )
    for k, line in enumerate(lines[2 : n_atoms + 2], start=3):
        parts = line.split()
        if len(parts) < 4:
            raise InputError(f"{path}: malformed XYZ at line {k}: expected 'symbol x y z', got {line!r}")
        if parts[0] not in atomic_numbers or atomic_numbers[parts[0]] == 0:
            raise InputError(f"{path}: unknown element {parts[0]!r} at line {k}")
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
