"""Probe vectors for Hessian-vector products, with E[v vᵀ] = I (DESIGN.md §4).

- ``gaussian``: v ~ N(0, I) (the paper's experiments);
- ``rademacher``: independent ±1 entries;
- ``onehot``: v = √(3N) e_c with c uniform over the 3N Cartesian components.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import NDArray

from phl.errors import InputError

ProbeKind = Literal["gaussian", "rademacher", "onehot"]
PROBE_KINDS: tuple[str, ...] = ("gaussian", "rademacher", "onehot")


def draw_probes(rng: np.random.Generator, n_atoms: int, k: int, kind: str = "gaussian") -> NDArray[np.float64]:
    """``k`` probes for a molecule of ``n_atoms`` atoms, shape (k, n_atoms, 3)."""
    if kind not in PROBE_KINDS:
        raise InputError(f"unknown probe kind {kind!r}; choose one of {', '.join(PROBE_KINDS)}")
    if k < 0 or n_atoms < 1:
        raise InputError(f"need k >= 0 probes and at least one atom, got k={k}, n_atoms={n_atoms}")
    dim = 3 * n_atoms
    if kind == "gaussian":
        v = rng.standard_normal((k, dim))
    elif kind == "rademacher":
        v = rng.choice(np.array([-1.0, 1.0]), size=(k, dim))
    else:
        v = np.zeros((k, dim))
        v[np.arange(k), rng.integers(0, dim, size=k)] = np.sqrt(dim)
    return v.reshape(k, n_atoms, 3)


def fixed_probes(seed: int, structure_index: int, n_atoms: int, k: int = 1, kind: str = "gaussian") -> NDArray[np.float64]:
    """The probes of one structure for the "fixed" regime: a function of (seed, structure index)
    only, so identical across epochs, runs, batch compositions and data-loader orders."""
    return draw_probes(np.random.default_rng([int(seed), int(structure_index)]), n_atoms, k, kind)
