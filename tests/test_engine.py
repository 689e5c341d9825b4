"""Reference engine with real PySCF on small molecules (cheap bases and grids; same code path)."""

import numpy as np
import pytest
from ase.build import molecule

from phl.errors import SCFConvergenceError
from phl.probes import draw_probes
from phl.qm.engine import ReferenceEngine
from phl.qm.method import Method

CHEAP = Method(basis="3-21G", grid=(60, 302), backend="cpu")


def _water():
    w = molecule("H2O")
    w.positions += np.array([0.05, -0.03, 0.02])  # off the symmetry planes
    w.positions[1] += [0.0, 0.05, 0.03]
    return w


def _energy(engine, atoms):
    return engine.compute(atoms, forces=False).energy


def _nh2_radical():
    a = molecule("NH2")
    a.positions += [[0.01, 0.02, 0.0], [0.0, 0.0, 0.03], [0.0, 0.0, 0.0]]
    return a


@pytest.mark.parametrize("atoms, mult", [(_water(), 1), (_nh2_radical(), 2)], ids=["RKS-water", "UKS-NH2"])
def test_total_gradient_is_derivative_of_energy(atoms, mult):
    """Forces (electronic with grid response + dispersion) = -dE/dR along random directions."""
    eng = ReferenceEngine(CHEAP.with_(multiplicity=mult, conv_tol=1e-11))
    res = eng.compute(atoms)
    assert eng.method.unrestricted is (mult > 1)
    rng = np.random.default_rng(1)
    h = 1e-3
    for _ in range(2):
        d = rng.standard_normal(atoms.positions.shape)
        d /= np.linalg.norm(d)
        plus, minus = atoms.copy(), atoms.copy()
        plus.positions += h * d
        minus.positions -= h * d
        fd = (_energy(eng, plus) - _energy(eng, minus)) / (2 * h)
        assert -np.sum(res.forces * d) == pytest.approx(fd, abs=2e-6)


def test_dispersion_is_added_to_every_quantity():
    w = _water()
    with_d = ReferenceEngine(CHEAP.with_(hessian_mode="analytic")).compute(w, hessian=True)
    # same xc without the dispersion term, through the same engine
    from phl.qm import method as method_mod

    method_mod.FUNCTIONALS["wb97x-d-nodisp-test"] = ("HYB_GGA_XC_WB97X_D", None)
    try:
        no_d = ReferenceEngine(CHEAP.with_(functional="wb97x-d-nodisp-test", hessian_mode="analytic")).compute(
            w, hessian=True
        )
    finally:
        del method_mod.FUNCTIONALS["wb97x-d-nodisp-test"]
    from phl.qm.dispersion import chg_dispersion

    d = chg_dispersion(w.get_chemical_symbols(), w.positions, hessian=True)
    assert with_d.dispersion_energy == pytest.approx(d.energy, abs=1e-14) and no_d.dispersion_energy == 0.0
    assert with_d.energy - no_d.energy == pytest.approx(d.energy, abs=1e-9)
    np.testing.assert_allclose(no_d.forces - with_d.forces, d.gradient, atol=1e-8)
    np.testing.assert_allclose(with_d.hessian - no_d.hessian, d.hessian, atol=1e-7)


@pytest.fixture(scope="module")
def water_hessians():
    """Analytic (no grid response on CPU) and FD (6N gradients with grid response) Hessians."""
    w = _water()
    m = Method(basis="3-21G", grid=(99, 590), backend="cpu")
    probes = draw_probes(np.random.default_rng(3), len(w), 3, "gaussian")
    fd = ReferenceEngine(m.with_(hessian_mode="fd")).compute(w, hessian=True, probes=probes)
    an = ReferenceEngine(m.with_(hessian_mode="analytic")).compute(w, hessian=True)
    return w, m, probes, fd, an


def test_hessians_symmetric_and_agree_within_grid_error(water_hessians):
    w, m, _, fd, an = water_hessians
    assert fd.hessian_mode == "fd" and an.hessian_mode == "analytic"
    np.testing.assert_allclose(an.hessian, an.hessian.T, atol=1e-12)
    np.testing.assert_allclose(fd.hessian, fd.hessian.T, atol=1e-12)
    # before symmetrisation, each is symmetric to far better than the grid error
    eng = ReferenceEngine(m.with_(hessian_mode="analytic"))
    raw = eng.analytic_hessian(eng.run_scf(w.get_chemical_symbols(), w.positions))
    assert np.abs(raw - raw.T).max() < 1e-4 * np.abs(raw).max()
    # documented: the CPU analytic Hessian lacks the XC grid response, ~1e-3 Eh/Å² at (99,590)
    scale = np.abs(fd.hessian).max()
    assert np.abs(fd.hessian - an.hessian).max() < 5e-3 * scale
    # both are Hessians of the same energy: translations are (nearly) zero modes
    t = np.tile(np.eye(3), (3, 1)) / np.sqrt(3)
    assert np.abs(t.T @ fd.hessian @ t).max() < 1e-4


def test_fd_hvps_equal_hessian_times_probe(water_hessians):
    w, m, probes, fd, an = water_hessians
    v = probes.reshape(len(probes), -1)
    hv_fd_hessian = (fd.hessian @ v.T).T
    hvps = fd.hvps.reshape(len(probes), -1)
    scale = np.abs(hv_fd_hessian).max()
    np.testing.assert_allclose(hvps, hv_fd_hessian, atol=1e-4 * scale)  # same derivatives, other directions
    np.testing.assert_allclose(hvps, (an.hessian @ v.T).T, atol=5e-3 * scale)  # within the grid error
    np.testing.assert_array_equal(fd.probes, probes)


def test_fd_step_default_is_in_the_flat_region(water_hessians):
    """Halving or doubling the default 1e-3 Å step changes the HVP by far less than the grid error."""
    w, m, probes, fd, _ = water_hessians
    for step in (5e-4, 2e-3):
        other = ReferenceEngine(m.with_(fd_step=step, hessian_mode="fd")).compute(w, forces=False, probes=probes[:1])
        np.testing.assert_allclose(other.hvps[0], fd.hvps[0], atol=5e-5 * np.abs(fd.hvps[0]).max())


def test_energy_invariant_to_translation_and_rotation():
    w = _water()
    eng = ReferenceEngine(Method(basis="3-21G", grid=(99, 590), backend="cpu"))
    ref = eng.compute(w)
    moved = w.copy()
    moved.positions += np.array([1.3, -0.7, 2.1])
    rotated = w.copy()
    rotated.rotate(37, (1, 2, 3), center="COM")
    r_moved, r_rot = eng.compute(moved), eng.compute(rotated)
    assert r_moved.energy == pytest.approx(ref.energy, abs=1e-9)
    np.testing.assert_allclose(r_moved.forces, ref.forces, atol=1e-7)
    assert r_rot.energy == pytest.approx(ref.energy, abs=2e-6)  # Lebedev grids are fixed in space
    rot = rotated.positions - rotated.positions.mean(0)
    # forces rotate with the molecule
    q, *_ = np.linalg.lstsq(w.positions - w.positions.mean(0), rot, rcond=None)
    np.testing.assert_allclose(r_rot.forces, ref.forces @ q, atol=1e-4)  # grid orientation


def test_scf_fallbacks_then_clear_error():
    """Few iterations per attempt force each fallback in turn (counts measured on this molecule)."""
    w = _water()
    with pytest.raises(SCFConvergenceError, match="DIIS, level shift and the second-order solver"):
        ReferenceEngine(CHEAP.with_(max_cycle=1)).compute(w)
    ref = ReferenceEngine(CHEAP).compute(w, forces=False)
    for max_cycle, strategy in ((8, "level_shift"), (6, "newton")):
        res = ReferenceEngine(CHEAP.with_(max_cycle=max_cycle)).compute(w, forces=False)
        assert res.scf.converged and res.scf.strategy == strategy
        assert res.energy == pytest.approx(ref.energy, abs=1e-8)
    assert ref.scf.strategy == "diis"
