"""Checks of a molecule before any work: known elements, finite coordinates, no overlapping
atoms, and an electron count that can carry the spin multiplicity."""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers

from phl.errors import InputError

#: Two atoms closer than this (Å) are taken as overlapping; the shortest real bond (H2) is 0.74 Å.
MIN_INTERATOMIC_DISTANCE = 0.5


def validate_atoms(atoms: Atoms, where: str = "geometry") -> None:
    """Check element symbols, finite coordinates and that no two atoms overlap."""
    if len(atoms) == 0:
        raise InputError(f"{where}: no atoms")
    for s in atoms.get_chemical_symbols():
        if s not in atomic_numbers or atomic_numbers[s] == 0:
            raise InputError(f"{where}: unknown element {s!r}")
    check_positions(atoms.get_chemical_symbols(), atoms.get_positions(), where)


def check_atomic_numbers(numbers, where: str = "geometry") -> np.ndarray:
    """Atomic numbers as integers, each of a known element (1-118)."""
    numbers = np.asarray(numbers)
    if numbers.ndim != 1 or not np.issubdtype(numbers.dtype, np.integer):
        raise InputError(f"{where}: atomic numbers must be a list of integers, got shape {numbers.shape}")
    bad = numbers[(numbers < 1) | (numbers > 118)]
    if len(bad):
        raise InputError(f"{where}: unknown atomic number {int(bad[0])}")
    return numbers


def check_positions(symbols: list[str], positions: np.ndarray, where: str = "geometry") -> None:
    """Finite coordinates (Å) and no two atoms closer than :data:`MIN_INTERATOMIC_DISTANCE`."""
    pos = np.asarray(positions, dtype=np.float64)
    if not np.all(np.isfinite(pos)):
        raise InputError(f"{where}: non-finite coordinates")
    if len(pos) > 1:
        d = np.linalg.norm(pos[:, None, :] - pos[None, :, :], axis=-1)
        d[np.diag_indices(len(pos))] = np.inf
        i, j = np.unravel_index(np.argmin(d), d.shape)
        if d[i, j] < MIN_INTERATOMIC_DISTANCE:
            i, j = sorted((int(i), int(j)))
            raise InputError(
                f"{where}: atoms {i + 1} ({symbols[i]}) and {j + 1} ({symbols[j]}) overlap: "
                f"{d[i, j]:.3f} Å apart (minimum {MIN_INTERATOMIC_DISTANCE} Å)"
            )


def check_charge_multiplicity(atoms: Atoms, charge: int, multiplicity: int, where: str = "geometry") -> None:
    """Raise if the electron count cannot carry this spin multiplicity."""
    n_electrons = int(atoms.get_atomic_numbers().sum()) - int(charge)
    unpaired = int(multiplicity) - 1
    if unpaired < 0:
        raise InputError(f"{where}: multiplicity must be 2S+1 >= 1, got {multiplicity}")
    if n_electrons < 1:
        raise InputError(f"{where}: charge {charge} leaves {n_electrons} electrons")
    if unpaired > n_electrons or (n_electrons - unpaired) % 2:
        raise InputError(
            f"{where}: charge {charge} and multiplicity {multiplicity} are inconsistent: "
            f"{n_electrons} electrons cannot have {unpaired} unpaired "
            f"(multiplicity must be {'odd' if n_electrons % 2 == 0 else 'even'})"
        )
