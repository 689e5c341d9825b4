"""A tiny learnable pair potential, the second model behind :mod:`phl.models.interface` (a
baseline and the test model of :mod:`phl.testing`; written by hand: it is a few lines).

    E = Σ_i e_{Z_i} + Σ_{i<j} Σ_k c_{Z_i Z_j, k} exp(−β_k r_ij) f_c(r_ij),
    f_c(r) = ½ (cos(π r / r_c) + 1) for r < r_c, else 0,

with fixed β_k spaced over [0.5, 3] Å⁻¹, learnable coefficients per unordered element pair and
per-element self energies fitted by the trainer. Smooth to any order below the cut-off.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from phl.models.interface import element_indices, element_lookup


class PairModel(nn.Module):
    def __init__(
        self, elements: Sequence[int] = (1, 6, 7, 8), n_basis: int = 4, cutoff: float = 5.0, seed: int | None = None
    ) -> None:
        super().__init__()
        self.elements = tuple(int(z) for z in elements)
        self.cutoff = float(cutoff)
        n = len(self.elements)
        pair = torch.zeros(n, n, dtype=torch.long)
        k = 0
        for a in range(n):
            for b in range(a, n):
                pair[a, b] = pair[b, a] = k
                k += 1
        self.register_buffer("pair_index", pair)
        self.register_buffer("z_to_index", element_lookup(self.elements))
        self.register_buffer("betas", torch.linspace(0.5, 3.0, n_basis, dtype=torch.float64))
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        self.coefficients = nn.Parameter(0.01 * torch.randn(k, n_basis, generator=gen, dtype=torch.float64))
        self.register_buffer("self_energies", torch.zeros(n, dtype=torch.float64))

    def set_self_energies(self, energies: torch.Tensor) -> None:
        self.self_energies.copy_(torch.as_tensor(energies, dtype=self.self_energies.dtype))

    def forward(self, species: torch.Tensor, coordinates: torch.Tensor) -> torch.Tensor:
        idx = element_indices(self.z_to_index, species, self.elements)
        real = idx >= 0
        n = idx.shape[1]
        upper = torch.triu(torch.ones(n, n, dtype=torch.bool, device=idx.device), diagonal=1)
        pairs = real[:, :, None] & real[:, None, :] & upper  # (B, N, N), i < j, both real
        diff = coordinates[:, :, None, :] - coordinates[:, None, :, :]
        # masked pairs get distance ≥ 1 Å so that the square root stays differentiable there
        r = torch.sqrt((diff**2).sum(-1) + (~pairs).to(coordinates.dtype))
        fc = torch.where(r < self.cutoff, 0.5 * (torch.cos(math.pi * r / self.cutoff) + 1.0), torch.zeros_like(r))
        basis = torch.exp(-self.betas.to(r.dtype) * r[..., None]) * fc[..., None]  # (B, N, N, K)
        ci = idx.clamp(min=0)
        coef = self.coefficients[self.pair_index[ci[:, :, None], ci[:, None, :]]]  # (B, N, N, K)
        e_pair = ((coef * basis).sum(-1) * pairs).sum(dim=(1, 2))
        e_self = (self.self_energies[ci] * real).sum(-1)
        return e_pair + e_self
