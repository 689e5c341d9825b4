"""What phl's ASE calculators share: the Hessian in two units, explicitly.

phl works in storage units (Eh, Å); ASE and Sella work in eV. A calculator computes
:meth:`HessianCalculator.hessian` in Eh/Å² (what phl code uses) and converts once, at the ASE
boundary, for :meth:`get_hessian` and Sella's ``hessian_function`` (eV/Å²). Energies and forces
reach ASE in eV and eV/Å; :meth:`energy_eh` reads them back in Eh for phl code.
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

    @staticmethod
    def energy_eh(atoms: Atoms) -> float:
        """Potential energy of ``atoms`` (with a calculator attached) in Eh."""
        return float(atoms.get_potential_energy()) / HARTREE_TO_EV
