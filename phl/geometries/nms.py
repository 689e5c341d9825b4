"""ANI-style normal-mode sampling (Smith, Isayev, Roitberg, Chem. Sci. 8, 3192 (2017)), written
by hand since ASE has no molecular NMS (docs/geometries.md).

Around a geometry with Hessian H (Eh/Å²), with normal modes q_i (unit Cartesian vectors, after
projecting out translations and rotations) and force constants K_i = q_iᵀ H q_i:

    R = R0 + Σ_i ± sqrt(3 c_i N_a k_B T / K_i) q_i,

with random c_i ≥ 0 whose sum is uniform on [0, 1], so that the harmonic energy
Σ ½ K_i R_i² = (3/2) N_a k_B T Σ c_i averages (3/4) N_a k_B T. Imaginary and soft modes are
handled deliberately: |K_i| is floored at ``min_force_constant`` (default 0.01 Eh/Å², about
a 140 cm^-1 C–H-like mode), which bounds their displacement; along an imaginary mode this
samples both sides of the barrier. A sample with two atoms closer than ``min_distance_ratio``
times the sum of their covalent radii is rejected and drawn again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ase import Atoms
from ase.data import covalent_radii
from ase.units import kB

from phl.errors import InputError
from phl.qm.vibrations import harmonic_analysis
from phl.units import HARTREE_TO_EV

KB_HARTREE = kB / HARTREE_TO_EV  # Eh/K


@dataclass
class NMSSample:
    atoms: Atoms
    harmonic_energy: float  # Eh, Σ ½ K_i R_i² with the floored K_i


def normal_modes(atoms: Atoms, hessian: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit Cartesian mode vectors (M, N, 3) and force constants K_i = qᵀHq (Eh/Å²)."""
    vib = harmonic_analysis(atoms.get_chemical_symbols(), atoms.get_positions(), hessian)
    q = vib.modes.reshape(len(vib.frequencies), -1)
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    k = np.einsum("mi,ij,mj->m", q, hessian, q)
    return q.reshape(vib.modes.shape), k


def sample_normal_modes(
    atoms: Atoms,
    hessian: np.ndarray,
    n_samples: int,
    temperature: float,
    seed: int,
    min_force_constant: float = 0.01,
    min_distance_ratio: float = 0.5,
    max_tries: int = 1000,
) -> list[NMSSample]:
    """``n_samples`` distorted geometries at ``temperature`` (K), reproducible for ``seed``."""
    if n_samples < 0 or temperature <= 0 or min_force_constant <= 0:
        raise InputError("NMS needs n_samples >= 0, temperature > 0 K and min_force_constant > 0")
    n = len(atoms)
    modes, k = normal_modes(atoms, hessian)
    k_used = np.maximum(np.abs(k), min_force_constant)
    radii = covalent_radii[atoms.get_atomic_numbers()]
    min_d = min_distance_ratio * (radii[:, None] + radii[None, :])
    iu = np.triu_indices(n, 1)
    rng = np.random.default_rng(seed)
    samples: list[NMSSample] = []
    tries = 0
    while len(samples) < n_samples:
        tries += 1
        if tries > max_tries + n_samples:
            raise InputError(
                f"NMS: only {len(samples)} of {n_samples} samples without overlapping atoms after "
                f"{tries - 1} draws; lower the temperature or min_distance_ratio"
            )
        u = rng.random(len(k))
        c = u / u.sum() * rng.random()
        amplitude = rng.choice([-1.0, 1.0], size=len(k)) * np.sqrt(3.0 * c * n * KB_HARTREE * temperature / k_used)
        pos = atoms.get_positions() + np.einsum("m,mij->ij", amplitude, modes)
        d = np.linalg.norm(pos[:, None] - pos[None, :], axis=-1)
        if np.any(d[iu] < min_d[iu]):
            continue
        new = atoms.copy()
        new.positions = pos
        samples.append(NMSSample(new, float(0.5 * np.sum(k_used * amplitude**2))))
    return samples
