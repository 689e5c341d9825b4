"""Harmonic analysis of a Cartesian Hessian (Eh/Å²): frequencies in cm^-1 and normal modes, with
translations and rotations projected out by PySCF's ``pyscf.hessian.thermo.harmonic_analysis``.

Masses default to the exact mass of the most abundant isotope of each element (H 1.007825,
N 14.003074, ...), as Gaussian uses; PySCF's own ``isotope_avg=False`` gives integer mass numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from phl.units import BOHR

#: Imaginary modes smaller than this (cm^-1) are numerical noise (grid, projection), not real: the
#: threshold of every TS and minimum check (geometry stage, evaluation, TS search).
IMAGINARY_THRESHOLD_CM1 = 50.0


@dataclass(frozen=True)
class Vibrations:
    """``frequencies`` in cm^-1, ascending, imaginary ones as negative numbers; ``modes`` (M, N, 3)
    are the Cartesian displacements of each mode; ``force_constants`` in Eh/Å²/amu (mass-weighted)."""

    frequencies: NDArray[np.float64]
    modes: NDArray[np.float64]
    force_constants: NDArray[np.float64]

    @property
    def n_imaginary(self) -> int:
        return int(np.sum(self.frequencies < 0))

    def count_imaginary(self, threshold_cm1: float = IMAGINARY_THRESHOLD_CM1) -> int:
        """Imaginary modes whose magnitude exceeds ``threshold_cm1`` (numerical noise excluded)."""
        return int(np.sum(self.frequencies < -abs(threshold_cm1)))


class _Nuclei:
    """The part of a PySCF ``Mole`` that ``thermo.harmonic_analysis`` reads when given the masses:
    the nuclear positions in Bohr. Building a real ``Mole`` parses a basis set for every call, which
    cost more than the analysis itself when thousands of model Hessians are evaluated."""

    def __init__(self, positions_angstrom: NDArray[np.float64]) -> None:
        self._coords = np.asarray(positions_angstrom, dtype=float) / BOHR

    def atom_coords(self) -> NDArray[np.float64]:
        return self._coords


def harmonic_analysis(
    symbols: list[str],
    positions: NDArray[np.float64],
    hessian: NDArray[np.float64],
    masses: NDArray[np.float64] | None = None,
) -> Vibrations:
    """Frequencies and modes of the Hessian (3N, 3N) in Eh/Å² at ``positions`` (Å)."""
    from pyscf.hessian import thermo

    n = len(symbols)
    if masses is None:
        from pyscf.data.elements import COMMON_ISOTOPE_MASSES, charge

        masses = np.array([COMMON_ISOTOPE_MASSES[charge(s)] for s in symbols])
    positions = np.asarray(positions, dtype=float)
    if positions.shape != (n, 3) or np.shape(hessian) != (3 * n, 3 * n):
        raise ValueError(f"harmonic_analysis: {n} atoms need positions ({n}, 3) and a Hessian ({3 * n}, {3 * n})")
    h4 = (np.asarray(hessian) * BOHR**2).reshape(n, 3, n, 3).transpose(0, 2, 1, 3)
    res = thermo.harmonic_analysis(_Nuclei(positions), h4, imaginary_freq=False, mass=np.asarray(masses))
    freqs = np.asarray(res["freq_wavenumber"], dtype=float)
    order = np.argsort(freqs)
    modes = np.asarray(res["norm_mode"])[order]
    return Vibrations(freqs[order], modes.reshape(len(freqs), n, 3), np.asarray(res["force_const_au"])[order] / BOHR**2)
