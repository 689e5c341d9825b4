"""Harmonic analysis: units and projections checked on an analytic spring model."""

import numpy as np
import pytest
from ase import units

from phl.qm.vibrations import harmonic_analysis


def _spring_hessian(positions, pairs, k):
    """Hessian (Eh/Å²) of E = Σ k/2 (|r_i - r_j| - r0)² at its minimum."""
    n = len(positions)
    h = np.zeros((3 * n, 3 * n))
    for i, j in pairs:
        e = positions[i] - positions[j]
        e = e / np.linalg.norm(e)
        block = k * np.outer(e, e)
        for a, b, s in ((i, i, 1), (j, j, 1), (i, j, -1), (j, i, -1)):
            h[3 * a : 3 * a + 3, 3 * b : 3 * b + 3] += s * block
    return h


def test_diatomic_frequency_matches_closed_form():
    k = 0.5  # Eh/Å²
    pos = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 1.1]])
    vib = harmonic_analysis(["C", "O"], pos, _spring_hessian(pos, [(0, 1)], k))
    mu = 12.0 * 15.994915 / (12.0 + 15.994915)  # amu, most abundant isotopes
    omega = np.sqrt(k * units.Hartree / units.Angstrom**2 / (mu * units._amu) * units._e * 1e20)  # rad/s
    expected_cm1 = omega / (2 * np.pi * units._c * 100)
    assert len(vib.frequencies) == 1  # linear: 3N - 5
    assert vib.frequencies[0] == pytest.approx(expected_cm1, rel=1e-5)
    assert vib.n_imaginary == 0


def test_negative_curvature_is_reported_as_imaginary():
    pos = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 1.1]])
    vib = harmonic_analysis(["H", "H"], pos, _spring_hessian(pos, [(0, 1)], -0.2))
    assert vib.frequencies[0] < 0 and vib.n_imaginary == 1
    assert vib.count_imaginary(threshold_cm1=abs(vib.frequencies[0]) + 1) == 0
    np.testing.assert_allclose(np.abs(vib.modes[0, :, 2]), np.abs(vib.modes[0, 0, 2]))  # stretch along z
