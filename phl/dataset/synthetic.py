"""Synthetic structures shaped like the paper's data (H/C/N/O, median ~14 atoms, dense Hessians),
for tests and loader/training benchmarks. The labels are random, not physical."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from phl.dataset.store import Structure
from phl.registry import CATEGORIES

_ELEMENTS = np.array([1, 6, 7, 8])
_WEIGHTS = np.array([0.5, 0.3, 0.1, 0.1])


def synthetic_structures(
    n: int,
    seed: int = 0,
    median_atoms: int = 14,
    max_atoms: int = 20,
    hessian: bool = True,
    hvp_pairs: int = 0,
    n_reactions: int | None = None,
) -> Iterator[Structure]:
    rng = np.random.default_rng(seed)
    n_reactions = n_reactions or max(1, n // 10)
    cats = [c for c in CATEGORIES if c not in ("rtp", "other")]
    for _ in range(n):
        n_at = int(np.clip(rng.poisson(median_atoms), 2, max_atoms))
        species = rng.choice(_ELEMENTS, size=n_at, p=_WEIGHTS)
        # atoms on a jittered grid 1.3 Å apart: never overlapping
        grid = np.stack(np.unravel_index(rng.permutation(27 * 8)[:n_at], (6, 6, 6)), axis=1) * 1.3
        coords = grid + rng.normal(scale=0.05, size=(n_at, 3))
        a = rng.normal(scale=0.1, size=(3 * n_at, 3 * n_at))
        probes = rng.standard_normal((hvp_pairs, n_at, 3)) if hvp_pairs else None
        h = a + a.T if hessian or hvp_pairs else None
        yield Structure(
            species=species,
            coordinates=coords,
            energy=float(rng.normal(-100.0, 20.0)),
            forces=rng.normal(scale=0.05, size=(n_at, 3)),
            hessian=h if hessian else None,
            probes=probes,
            probe_kinds=["gaussian"] * hvp_pairs if hvp_pairs else None,
            hvps=(probes.reshape(hvp_pairs, -1) @ h).reshape(probes.shape) if hvp_pairs else None,
            category=str(rng.choice(cats)),
            reaction=f"rxn{int(rng.integers(n_reactions)):05d}",
        )
