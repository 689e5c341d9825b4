"""ASE calculator over the reference engine, so geometry tools use exactly the reference method.

Energy in eV and forces in eV/Å as ASE expects; :meth:`ReferenceCalculator.get_hessian` returns
the Cartesian Hessian in eV/Å², the form Sella's ``hessian_function`` takes::

    calc = ReferenceCalculator(Method(basis="6-31G(d)"))
    atoms.calc = calc
    Sella(atoms, order=1, internal=True, hessian_function=calc.hessian_function)

Successive SCFs restart from the previous converged density when the atoms are the same
elements in the same order (as along an optimisation).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes
from numpy.typing import NDArray

from phl.qm.engine import ReferenceEngine
from phl.qm.method import Method
from phl.units import HARTREE_TO_EV


class ReferenceCalculator(Calculator):
    """ωB97X-D (or another :class:`Method`) through PySCF/gpu4pyscf, with dispersion."""

    implemented_properties = ["energy", "free_energy", "forces"]

    def __init__(self, method: Method | None = None, engine: ReferenceEngine | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.engine = engine or ReferenceEngine(method)
        self._restart: tuple[tuple[str, ...], Any] | None = None
        self.n_scf = 0

    def _dm0(self, atoms: Atoms) -> Any:
        if self._restart and self._restart[0] == tuple(atoms.get_chemical_symbols()):
            return self._restart[1]
        return None

    def _run(self, atoms: Atoms, **kwargs: Any):
        result = self.engine.compute(atoms, dm0=self._dm0(atoms), **kwargs)
        self._restart = (tuple(atoms.get_chemical_symbols()), self.engine.last_dm)
        self.n_scf += 1
        return result

    def calculate(self, atoms: Atoms | None = None, properties=("energy",), system_changes=all_changes) -> None:
        super().calculate(atoms, properties, system_changes)
        result = self._run(self.atoms, forces=True)
        self.results["energy"] = self.results["free_energy"] = result.energy * HARTREE_TO_EV
        self.results["forces"] = result.forces * HARTREE_TO_EV

    def get_hessian(self, atoms: Atoms | None = None) -> NDArray[np.float64]:
        """Cartesian Hessian (3N, 3N) in eV/Å² at ``atoms`` (or the last atoms)."""
        atoms = atoms if atoms is not None else self.atoms
        result = self._run(atoms, forces=False, hessian=True)
        return result.hessian * HARTREE_TO_EV

    def hessian_function(self, atoms: Atoms) -> NDArray[np.float64]:
        """For Sella's ``hessian_function`` argument."""
        return self.get_hessian(atoms)
