"""Physically consistent synthetic training data: labels (energy, forces, Hessian, HVP pairs)
from a randomly initialised "teacher" ANI model on synthetic H/C/N/O geometries. Used by the
tests and the training benchmark; the student never sees the teacher's weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from phl.dataset import DatasetWriter
from phl.dataset.batching import pad_structures
from phl.dataset.splits import make_split
from phl.dataset.synthetic import synthetic_structures
from phl.models import derivatives
from phl.models.ani import ANIModel
from phl.probes import draw_probes

TEACHER_SELF_ENERGIES = (-0.5, -38.0, -54.6, -75.0)  # Eh, roughly H, C, N, O


def teacher_dataset(
    path: str | Path,
    n: int,
    seed: int = 0,
    median_atoms: int = 8,
    max_atoms: int = 12,
    hessian: bool = True,
    hvp_pairs: int = 0,
    probe_kinds: tuple[str, ...] = ("gaussian",),
    split_seed: int = 0,
) -> Path:
    """Write a data set of ``n`` teacher-labelled structures with a ``paper`` split."""
    torch.manual_seed(10_000 + seed)
    teacher = ANIModel(self_energies=TEACHER_SELF_ENERGIES)
    rng = np.random.default_rng(seed)
    structures = list(synthetic_structures(n, seed=seed, median_atoms=median_atoms, max_atoms=max_atoms, hessian=False))
    with DatasetWriter(path, sources=[f"teacher ANI seed {10_000 + seed}"]) as writer:
        for c0 in range(0, len(structures), 64):  # label in padded chunks of 64 structures
            chunk = structures[c0 : c0 + 64]
            sp, xyz, _ = pad_structures(chunk)
            need_h = hessian or bool(hvp_pairs)
            energy, forces, coords = derivatives.energy_forces(teacher, sp, xyz, create_graph=need_h)
            hess = derivatives.hessian(forces, coords, create_graph=False).detach().numpy() if need_h else None
            for b, s in enumerate(chunk):
                n = s.n_atoms
                h = hess[b, : 3 * n, : 3 * n] if need_h else None
                s.energy, s.forces = float(energy[b].detach()), forces[b, :n].detach().numpy()
                s.hessian = h if hessian else None
                if hvp_pairs:
                    s.probes = np.concatenate([draw_probes(rng, n, hvp_pairs, kind) for kind in probe_kinds])
                    s.probe_kinds = [kind for kind in probe_kinds for _ in range(hvp_pairs)]
                    s.hvps = (s.probes.reshape(len(s.probes), -1) @ h).reshape(s.probes.shape)
                if s.category in ("irc", "nms") and rng.random() < 0.6:
                    s.category = str(rng.choice(["reactant", "product", "ts"]))
                writer.add(s)
    make_split(path, "paper", "paper", seed=split_seed)
    return Path(path)
