"""The paper's ANI model, built from TorchANI parts (DESIGN.md §4), behind a small interface.

Any PyTorch module with ``forward(species, coordinates) -> energies`` can be trained by phl:
``species`` (B, N) atomic numbers with −1 on padded atoms, ``coordinates`` (B, N, 3) in Å
(requires_grad is set by the trainer), energies (B,) in Eh, differentiable twice with respect to
the coordinates (forces and HVPs come from autograd). :class:`ANIModel` is that for the paper's
ANI-1x AEV (384 features for H, C, N, O) and per-element 384→256→64→256→1 CELU(0.1) networks.
"""

from __future__ import annotations

import os
from typing import Protocol, Sequence

import torch
from torch import nn

from phl.errors import InputError

os.environ.setdefault("TORCHANI_NO_WARN_EXTENSIONS", "1")

ELEMENTS: tuple[int, ...] = (1, 6, 7, 8)  # H, C, N, O


class EnergyModel(Protocol):
    def __call__(self, species: torch.Tensor, coordinates: torch.Tensor) -> torch.Tensor: ...


def _network(n_in: int, hidden: Sequence[int], alpha: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    for n_out in hidden:
        layers += [nn.Linear(n_in, n_out), nn.CELU(alpha)]
        n_in = n_out
    layers.append(nn.Linear(n_in, 1))
    return nn.Sequential(*layers)


class ANIModel(nn.Module):
    """ANI-1x AEV + one network per element + fixed self energies (Eh), float64 by default."""

    def __init__(self, elements: Sequence[int] = ELEMENTS, hidden: Sequence[int] = (256, 64, 256),
                 celu_alpha: float = 0.1, self_energies: Sequence[float] | None = None,
                 dtype: torch.dtype = torch.float64) -> None:
        super().__init__()
        from torchani.aev import AEVComputer

        self.elements = tuple(int(z) for z in elements)
        self.aev = AEVComputer.like_1x(num_species=len(self.elements))
        z_to_index = torch.full((119,), -1, dtype=torch.long)
        z_to_index[list(self.elements)] = torch.arange(len(self.elements))
        self.register_buffer("z_to_index", z_to_index)
        n_aev = self.aev(torch.zeros(1, 1, dtype=torch.long), torch.zeros(1, 1, 3)).shape[-1]
        self.networks = nn.ModuleList(_network(n_aev, hidden, celu_alpha) for _ in self.elements)
        se = torch.zeros(len(self.elements)) if self_energies is None else torch.as_tensor(self_energies)
        self.register_buffer("self_energies", se.to(dtype))
        self.to(dtype)

    def element_indices(self, species: torch.Tensor) -> torch.Tensor:
        """Atomic numbers (−1 padding) → network indices (−1 padding); unknown elements raise."""
        idx = torch.where(species >= 0, self.z_to_index[species.clamp(min=0, max=118)], torch.full_like(species, -1))
        unknown = (species >= 0) & (idx < 0)
        if bool(unknown.any()):
            bad = sorted(set(species[unknown].tolist()))
            raise InputError(f"the model covers elements {list(self.elements)}, not {bad}")
        return idx

    def forward(self, species: torch.Tensor, coordinates: torch.Tensor) -> torch.Tensor:
        idx = self.element_indices(species)
        aev = self.aev(idx, coordinates)  # (B, N, n_aev); zero rows on padding
        b, n = idx.shape
        flat_idx = idx.reshape(-1)
        # Atoms sorted by element (padding last) with one permutation of the AEV rows, then one
        # contiguous slice per network: one gather per derivative order, where selecting each
        # element's rows separately costs a zero-filled (B·N, n_aev) scatter per element and
        # order (~7 % of an HVP training step, 400 molecules of 14 atoms).
        key = torch.where(flat_idx < 0, len(self.networks), flat_idx)
        order = torch.argsort(key, stable=True)
        counts = torch.bincount(key, minlength=len(self.networks) + 1).tolist()
        chunks = permute_rows(aev.reshape(b * n, -1), order).split(counts)
        atomic = torch.cat([net(x).squeeze(-1) for net, x in zip(self.networks, chunks)])
        molecule = torch.div(order[: atomic.shape[0]], n, rounding_mode="floor")
        energy = torch.zeros(b, dtype=atomic.dtype, device=atomic.device).index_add(0, molecule, atomic)
        self_energy = self.self_energies[flat_idx.clamp(min=0)].masked_fill(flat_idx < 0, 0.0).reshape(b, n).sum(dim=1)
        return energy + self_energy


class _PermuteRows(torch.autograd.Function):
    """``x[order]`` for a permutation ``order``, differentiable to any order: the backward is
    the same gather with the inverse permutation (autograd's index_select backward would
    zero-fill and scatter). Written by hand because torch has no permutation-aware gather."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, order: torch.Tensor, inverse: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(order, inverse)
        return x.index_select(0, order)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        order, inverse = ctx.saved_tensors
        return _PermuteRows.apply(grad, inverse, order), None, None


def permute_rows(x: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    """Rows of ``x`` in the order of the permutation ``order`` (differentiable to any order)."""
    inverse = torch.empty_like(order)
    inverse[order] = torch.arange(len(order), device=order.device)
    return _PermuteRows.apply(x, order, inverse)
