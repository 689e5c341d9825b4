"""Physically consistent synthetic training data: labels (energy, forces, Hessian, HVP pairs)
from a randomly initialised "teacher" ANI model on synthetic H/C/N/O geometries. Used by the
tests and the training benchmark; the student never sees the teacher's weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from phl.dataset import DatasetWriter
from phl.dataset.splits import make_split
from phl.dataset.synthetic import synthetic_structures
from phl.model import ANIModel
from phl.probes import draw_probes
from phl.training.losses import model_energy_forces, model_hessian

TEACHER_SELF_ENERGIES = (-0.5, -38.0, -54.6, -75.0)  # Eh, roughly H, C, N, O


def teacher_dataset(path: str | Path, n: int, seed: int = 0, median_atoms: int = 8, max_atoms: int = 12,
                    hessian: bool = True, hvp_pairs: int = 0, split_seed: int = 0) -> Path:
    """Write a data set of ``n`` teacher-labelled structures with a ``paper`` split."""
    torch.manual_seed(10_000 + seed)
    teacher = ANIModel(self_energies=TEACHER_SELF_ENERGIES)
    rng = np.random.default_rng(seed)
    structures = list(synthetic_structures(n, seed=seed, median_atoms=median_atoms, max_atoms=max_atoms, hessian=False))
    with DatasetWriter(path, sources=[f"teacher ANI seed {10_000 + seed}"]) as writer:
        for s in structures:
            sp = torch.as_tensor(s.species)[None]
            xyz = torch.as_tensor(s.coordinates)[None]
            energy, forces, coords = model_energy_forces(teacher, sp, xyz, create_graph=hessian or bool(hvp_pairs))
            h = model_hessian(forces, coords, create_graph=False)[0].detach().numpy() if hessian or hvp_pairs else None
            s.energy, s.forces = float(energy.detach()), forces[0].detach().numpy()
            s.hessian = h if hessian else None
            if hvp_pairs:
                s.probes = draw_probes(rng, s.n_atoms, hvp_pairs)
                s.hvps = (s.probes.reshape(hvp_pairs, -1) @ h).reshape(s.probes.shape)
            if s.category in ("irc", "nms") and rng.random() < 0.6:
                s.category = str(rng.choice(["reactant", "product", "ts"]))
            writer.add(s)
    make_split(path, "paper", "paper", seed=split_seed)
    return Path(path)
