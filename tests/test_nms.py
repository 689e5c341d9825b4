"""Normal-mode sampling: temperature law, reproducibility, overlap rejection."""

import numpy as np
import pytest
from ase import Atoms

from phl.errors import InputError
from phl.geometries.nms import KB_HARTREE, normal_modes, sample_normal_modes
from tests.test_vibrations import _spring_hessian


@pytest.fixture
def triatomic():
    atoms = Atoms("OH2", positions=[[0, 0, 0.12], [0, 0.76, -0.48], [0, -0.76, -0.48]])
    return atoms, _spring_hessian(atoms.positions, [(0, 1), (0, 2), (1, 2)], 0.6)


def test_modes_and_force_constants(triatomic):
    atoms, h = triatomic
    q, k = normal_modes(atoms, h)
    assert q.shape == (3, 3, 3) and np.all(k > 0)
    np.testing.assert_allclose(np.linalg.norm(q.reshape(3, -1), axis=1), 1.0)


@pytest.mark.parametrize("temperature", [300.0, 600.0])
def test_harmonic_energy_follows_temperature(triatomic, temperature):
    atoms, h = triatomic
    samples = sample_normal_modes(atoms, h, 3000, temperature, seed=1)
    e = np.array([s.harmonic_energy for s in samples])
    expected = 0.75 * len(atoms) * KB_HARTREE * temperature  # (3/2) N kB T × E[Σc] = 1/2
    assert e.mean() == pytest.approx(expected, rel=0.04)
    assert e.max() <= 1.5 * len(atoms) * KB_HARTREE * temperature * (1 + 1e-12)
    # the recorded harmonic energy is the quadratic form of the displacement (no soft modes here)
    d = (samples[0].atoms.positions - atoms.positions).ravel()
    assert 0.5 * d @ h @ d == pytest.approx(samples[0].harmonic_energy, rel=1e-8)


def test_reproducible_and_seed_dependent(triatomic):
    atoms, h = triatomic
    a = sample_normal_modes(atoms, h, 5, 500.0, seed=3)
    b = sample_normal_modes(atoms, h, 5, 500.0, seed=3)
    c = sample_normal_modes(atoms, h, 5, 500.0, seed=4)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.atoms.positions, y.atoms.positions)
    assert not np.allclose(a[0].atoms.positions, c[0].atoms.positions)


def test_soft_and_imaginary_modes_are_floored_and_overlaps_rejected(triatomic):
    atoms, h = triatomic
    soft = _spring_hessian(atoms.positions, [(0, 1), (0, 2), (1, 2)], -1e-6)
    samples = sample_normal_modes(atoms, soft, 50, 300.0, seed=0, min_force_constant=0.05)
    for s in samples:
        d = np.linalg.norm(s.atoms.positions[:, None] - s.atoms.positions[None], axis=-1)[np.triu_indices(3, 1)]
        assert d.min() > 0.5 * 2 * 0.31  # never closer than half the H–H covalent sum
    with pytest.raises(InputError, match="overlapping atoms"):
        sample_normal_modes(atoms, soft, 5, 300.0, seed=0, min_distance_ratio=5.0, max_tries=50)
