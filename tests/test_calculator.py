"""ASE calculator over the reference engine, driving ASE and Sella."""

import numpy as np
import pytest
from ase.build import molecule
from sella import Sella

from phl.calculators import ReferenceCalculator
from phl.qm.engine import ReferenceEngine
from phl.qm.method import Method
from phl.qm.vibrations import harmonic_analysis
from phl.units import HARTREE_TO_EV

FAST = Method(basis="sto-3g", grid=(40, 110), backend="cpu", hessian_mode="analytic")


def test_units_match_the_engine():
    w = molecule("H2O")
    calc = ReferenceCalculator(FAST)
    w.calc = calc
    ref = ReferenceEngine(FAST).compute(w, hessian=True)
    assert w.get_potential_energy() == pytest.approx(ref.energy * HARTREE_TO_EV, abs=1e-7)
    np.testing.assert_allclose(w.get_forces(), ref.forces * HARTREE_TO_EV, atol=1e-6)
    np.testing.assert_allclose(calc.get_hessian(w), ref.hessian * HARTREE_TO_EV, atol=1e-5)
    n_scf = calc.n_scf
    w.get_forces()  # cached by ASE: no new SCF
    assert calc.n_scf == n_scf


def test_sella_minimises_with_the_exact_hessian():
    w = molecule("H2O")
    w.positions[1] += [0.0, 0.15, 0.1]
    calc = ReferenceCalculator(FAST)
    w.calc = calc
    opt = Sella(w, order=0, internal=True, hessian_function=calc.hessian_function, logfile=None)
    assert opt.run(fmax=1e-3, steps=30)
    vib = harmonic_analysis(w.get_chemical_symbols(), w.positions, calc.get_hessian(w) / HARTREE_TO_EV)
    assert vib.count_imaginary(10.0) == 0 and len(vib.frequencies) == 3
    assert np.abs(w.get_forces()).max() < 1e-3
