"""Probe vectors for Hessian-vector products, with E[v vᵀ] = I (docs/training.md), for one
molecule in NumPy (reference labels, fixed probes) and for a padded batch in torch (randomized
training probes).

- ``gaussian``: v ~ N(0, I) (the paper's experiments);
- ``rademacher``: independent ±1 entries;
- ``onehot``: v = √(3N) e_c with c uniform over the 3N Cartesian components.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from phl.errors import InputError
from phl.registry import PROBE_KINDS

if TYPE_CHECKING:  # torch is imported by the batch sampler only: reference labels do not need it
    import torch


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


def fixed_probes(
    seed: int | Sequence[int], structure_index: int, n_atoms: int, k: int = 1, kind: str = "gaussian"
) -> NDArray[np.float64]:
    """The probes of one structure for the "fixed" regime: a function of (seed, structure index)
    only, so identical across epochs, batch compositions and data-loader orders. ``seed`` may be
    several integers (the trainer passes (probe_seed, run seed): each run draws its own set)."""
    return draw_probes(
        np.random.default_rng([*np.atleast_1d(seed).astype(int).tolist(), int(structure_index)]), n_atoms, k, kind
    )


def structure_seed(base: int, reaction: str | None, index: int | None) -> list[int]:
    """A seed for one structure of one reaction, derived from (base seed, reaction id, structure
    index): label jobs of different structures draw different probes, whatever their size."""
    import zlib

    parts = [int(base)]
    if reaction is not None:
        parts.append(zlib.crc32(str(reaction).encode()))
    if index is not None:
        parts.append(int(index))
    return parts


def draw_probes_torch(
    n_atoms: torch.Tensor,
    n_max: int,
    k: int,
    kind: str,
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """(B, K, n_max, 3) probes for a padded batch, zero on padded atoms, with E[v vᵀ] = I on the
    real 3N_i components (the same three kinds as :func:`draw_probes`)."""
    import torch

    if kind not in PROBE_KINDS:
        raise InputError(f"unknown probe kind {kind!r}; choose one of {', '.join(PROBE_KINDS)}")
    dtype = dtype or torch.float64
    b = len(n_atoms)
    mask = torch.arange(n_max, device=device)[None, :] < n_atoms.to(device)[:, None]  # (B, N)
    mask = mask[:, None, :, None].expand(b, k, n_max, 3)
    if kind == "gaussian":
        v = torch.randn((b, k, n_max, 3), generator=generator, dtype=dtype, device=device)
    elif kind == "rademacher":
        v = torch.randint(0, 2, (b, k, n_max, 3), generator=generator, device=device).to(dtype) * 2 - 1
    else:
        dim = 3 * n_atoms.to(device)
        u = torch.rand((b, k), generator=generator, dtype=torch.float64, device=device)
        c = torch.minimum((u * dim[:, None]).long(), dim[:, None] - 1)  # uniform in [0, 3N_i)
        v = torch.zeros((b, k, n_max * 3), dtype=dtype, device=device)
        v.scatter_(2, c[..., None], torch.sqrt(dim.to(dtype))[:, None, None].expand(b, k, 1))
        v = v.reshape(b, k, n_max, 3)
    return v * mask
