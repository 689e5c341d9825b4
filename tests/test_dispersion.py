"""Chai–Head-Gordon dispersion: Gaussian's printed value, derivatives against finite differences."""

import numpy as np
import pytest

from phl.errors import InputError
from phl.io.xyz import read_xyz
from phl.qm.dispersion import chg_dispersion

GAUSSIAN_R6DISP_HYDRAZINE = -0.0008539980  # Eh, Gaussian 16 B.01 wB97XD/def2-TZVP (docs/method.md)


@pytest.fixture
def hydrazine(data_dir):
    return read_xyz(data_dir / "hydrazine.xyz")


def test_reproduces_gaussian_r6disp(hydrazine):
    e = chg_dispersion(hydrazine.get_chemical_symbols(), hydrazine.get_positions()).energy
    assert e == pytest.approx(GAUSSIAN_R6DISP_HYDRAZINE, abs=1e-8)


def _random_molecule(rng, n=7):
    symbols = list(rng.choice(["H", "C", "N", "O"], size=n))
    pos = rng.uniform(-2.5, 2.5, size=(n, 3))
    return symbols, pos


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradient_and_hessian_match_finite_differences(seed, hydrazine):
    rng = np.random.default_rng(seed)
    symbols, pos = _random_molecule(rng) if seed else (hydrazine.get_chemical_symbols(), hydrazine.get_positions())
    n = len(symbols)
    res = chg_dispersion(symbols, pos, hessian=True)
    h = 1e-4
    fd_grad = np.zeros(3 * n)
    fd_hess = np.zeros((3 * n, 3 * n))
    for k in range(3 * n):
        d = np.zeros(3 * n)
        d[k] = h
        plus = chg_dispersion(symbols, pos + d.reshape(n, 3))
        minus = chg_dispersion(symbols, pos - d.reshape(n, 3))
        fd_grad[k] = (plus.energy - minus.energy) / (2 * h)
        fd_hess[:, k] = (plus.gradient - minus.gradient).ravel() / (2 * h)
    np.testing.assert_allclose(res.gradient.ravel(), fd_grad, atol=1e-8, rtol=0)
    np.testing.assert_allclose(res.hessian, fd_hess, atol=1e-8, rtol=0)
    np.testing.assert_allclose(res.hessian, res.hessian.T, atol=1e-14)


def test_invariance_and_sum_rules():
    rng = np.random.default_rng(5)
    symbols, pos = _random_molecule(rng, 6)
    ref = chg_dispersion(symbols, pos, hessian=True)
    q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    moved = chg_dispersion(symbols, pos @ q.T + np.array([1.0, -2.0, 0.5]))
    assert moved.energy == pytest.approx(ref.energy, abs=1e-14)
    np.testing.assert_allclose(moved.gradient, ref.gradient @ q.T, atol=1e-13)
    np.testing.assert_allclose(ref.gradient.sum(axis=0), 0.0, atol=1e-14)  # no net force
    # translating every atom leaves the gradient unchanged: rows of H sum to zero per direction
    np.testing.assert_allclose(ref.hessian.reshape(3 * 6, 6, 3).sum(axis=1), 0.0, atol=1e-12)


def test_long_range_limit_is_c6_over_r6():
    # far apart, the damping is 1 and E = -C6_ij / R^6 with C6 in Eh bohr^6
    r_bohr = 40.0
    e = chg_dispersion(["N", "N"], np.array([[0, 0, 0], [0, 0, r_bohr * 0.52917721092]])).energy
    assert e == pytest.approx(-1.23 * 17.34525495 / r_bohr**6, rel=1e-12)


def test_unknown_element_is_named():
    with pytest.raises(InputError, match="Xe"):
        chg_dispersion(["H", "Xe"], np.array([[0, 0, 0], [0, 0, 2.0]]))
