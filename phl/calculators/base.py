"""What phl's ASE calculators share: the Hessian in two units, explicitly.

phl works in storage units (Eh, Å); ASE and Sella work in eV. A calculator computes
:meth:`HessianCalculator.hessian` in Eh/Å² (what phl code uses) and converts once, at the ASE
boundary, for :meth:`get_hessian` and Sella's ``hessian_function`` (eV/Å²). Energies and forces
reach ASE in eV and eV/Å; the energy in Eh is kept beside them (``results["energy_eh"]``) and
:meth:`energy_eh` gives it to phl code, so nothing is converted back.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator
from numpy.typing import NDArray

from phl.units import HARTREE_TO_EV


class HessianCalculator(Calculator, ABC):
    implemented_properties = ["energy", "free_energy", "forces"]

    @abstractmethod
    def hessian(self, atoms: Atoms) -> NDArray[np.float64]:
        """Cartesian Hessian (3N, 3N) in Eh/Å² (phl's storage unit)."""

    def get_hessian(self, atoms: Atoms | None = None) -> NDArray[np.float64]:
        """Cartesian Hessian (3N, 3N) in eV/Å² (ASE's unit) at ``atoms`` (or the last atoms)."""
        return self.hessian(atoms if atoms is not None else self.atoms) * HARTREE_TO_EV

    def hessian_function(self, atoms: Atoms) -> NDArray[np.float64]:
        """For Sella's ``hessian_function`` argument (eV/Å²)."""
        return self.get_hessian(atoms)

    def energy_eh(self, atoms: Atoms) -> float:
        """Potential energy of ``atoms`` in Eh (computed by this calculator if not done yet)."""
        self.get_potential_energy(atoms)
        return float(self.results["energy_eh"])

    def store(self, energy_eh: float, forces_eh_per_angstrom: NDArray[np.float64]) -> None:
        """Results of one calculation, given in Eh and Eh/Å: ASE's eV and eV/Å, and the Eh energy."""
        self.results["energy_eh"] = float(energy_eh)
        self.results["energy"] = self.results["free_energy"] = float(energy_eh) * HARTREE_TO_EV
        self.results["forces"] = np.asarray(forces_eh_per_angstrom) * HARTREE_TO_EV
