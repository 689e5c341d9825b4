"""ASE calculator over the reference engine, so geometry tools use exactly the reference method::

    calc = ReferenceCalculator(Method(basis="6-31G(d)"))
    atoms.calc = calc
    Sella(atoms, order=1, internal=True, hessian_function=calc.hessian_function)

Successive SCFs restart from the previous converged density when the atoms are the same
elements in the same order (as along an optimisation); :meth:`ReferenceCalculator.forget_restart` forgets it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.calculator import all_changes
from numpy.typing import NDArray

from phl.calculators.base import HessianCalculator
from phl.qm.interface import Engine, ReferenceResult, make_engine
from phl.qm.method import Method


class ReferenceCalculator(HessianCalculator):
    """The reference method of a :class:`Method` (ωB97X-D through PySCF/gpu4pyscf with dispersion,
    or GFN2-xTB through tblite) as an ASE calculator."""

    def __init__(self, method: Method | None = None, engine: Engine | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.engine = engine or make_engine(method)
        self._restart: tuple[tuple[str, ...], Any] | None = None
        self.n_scf = 0

    def forget_restart(self) -> None:
        """Forget the stored results and the density the next SCF would restart from: what follows
        is then a function of its own inputs only (a geometry step does not depend on the step
        that ran before it in the same process: the HCN ⇌ HNC TS moved by 3e-10 Å with the
        previous step's density as the first SCF's start, 7e-15 without). Not ASE's ``reset``,
        which ASE calls at every new geometry, where the restart is wanted."""
        self.reset()
        self._restart = None

    def _dm0(self, atoms: Atoms) -> Any:
        if self._restart and self._restart[0] == tuple(atoms.get_chemical_symbols()):
            return self._restart[1]
        return None

    def _run(self, atoms: Atoms, **kwargs: Any) -> ReferenceResult:
        result = self.engine.compute(atoms, dm0=self._dm0(atoms), **kwargs)
        self._restart = (tuple(atoms.get_chemical_symbols()), result.density)
        self.n_scf += 1
        return result

    def calculate(self, atoms: Atoms | None = None, properties=("energy",), system_changes=all_changes) -> None:
        super().calculate(atoms, properties, system_changes)
        result = self._run(self.atoms, forces=True)
        self.store(result.energy, result.forces)

    def hessian(self, atoms: Atoms) -> NDArray[np.float64]:
        """Cartesian Hessian (3N, 3N) in Eh/Å² at ``atoms``."""
        return self._run(atoms, forces=False, hessian=True).hessian
