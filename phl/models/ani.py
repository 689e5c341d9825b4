"""The paper's ANI model, built from TorchANI parts (docs/training.md), as a
:class:`phl.models.interface.EnergyModel`: the ANI-1x AEV (384 features for H, C, N, O) and
per-element 384→256→64→256→1 CELU(0.1) networks, plus fixed per-element self energies (Eh).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch
from torch import nn

from phl.errors import InputError
from phl.models.ani_static import dense_aev, stacked_networks
from phl.models.interface import element_indices, element_lookup
from phl.models.modes import static_shapes_active, vmap_safe_active

os.environ.setdefault("TORCHANI_NO_WARN_EXTENSIONS", "1")

ELEMENTS: tuple[int, ...] = (1, 6, 7, 8)  # H, C, N, O
#: Weight initialisation: ``kaiming`` (the paper's code, the default) or ``torch`` (PyTorch's
#: default uniform initialisation with non-zero biases).
INITS = ("kaiming", "torch")


def _network(n_in: int, hidden: Sequence[int], alpha: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    for n_out in hidden:
        layers += [nn.Linear(n_in, n_out), nn.CELU(alpha)]
        n_in = n_out
    layers.append(nn.Linear(n_in, 1))
    return nn.Sequential(*layers)


class ANIModel(nn.Module):
    """ANI-1x AEV + one network per element + fixed self energies (Eh), float64 by default."""

    def __init__(
        self,
        elements: Sequence[int] = ELEMENTS,
        hidden: Sequence[int] = (256, 64, 256),
        celu_alpha: float = 0.1,
        self_energies: Sequence[float] | None = None,
        dtype: torch.dtype = torch.float64,
        init: str = "kaiming",
    ) -> None:
        super().__init__()
        if init not in INITS:
            raise InputError(f"ANI init must be one of {', '.join(INITS)}, got {init!r}")
        from torchani.aev import AEVComputer

        self.elements = tuple(int(z) for z in elements)
        self.aev = AEVComputer.like_1x(num_species=len(self.elements))
        self.register_buffer("z_to_index", element_lookup(self.elements))
        n_aev = self.aev(torch.zeros(1, 1, dtype=torch.long), torch.zeros(1, 1, 3)).shape[-1]
        self.networks = nn.ModuleList(_network(n_aev, hidden, celu_alpha) for _ in self.elements)
        if init == "kaiming":  # the paper's code: kaiming_normal_(a=1.0) weights (std 1/√fan_in), zero biases
            for layer in self.networks.modules():
                if isinstance(layer, nn.Linear):
                    nn.init.kaiming_normal_(layer.weight, a=1.0)
                    nn.init.zeros_(layer.bias)
        se = torch.zeros(len(self.elements)) if self_energies is None else torch.as_tensor(self_energies)
        self.register_buffer("self_energies", se.to(dtype))
        self.to(dtype)

    def set_self_energies(self, energies: torch.Tensor) -> None:
        """Per-element energies (Eh, in the order of ``elements``) added to every atom."""
        self.self_energies.copy_(torch.as_tensor(energies, dtype=self.self_energies.dtype))

    def element_indices(self, species: torch.Tensor) -> torch.Tensor:
        """Atomic numbers (−1 padding) → network indices (−1 padding); unknown elements raise."""
        return element_indices(self.z_to_index, species, self.elements)

    def forward(self, species: torch.Tensor, coordinates: torch.Tensor) -> torch.Tensor:
        idx = self.element_indices(species)
        if static_shapes_active():  # the same energies from fixed-shape tensors (ani_static)
            atomic = stacked_networks(self.networks, dense_aev(self.aev, idx, coordinates), idx)
            return atomic.sum(dim=1) + self._self_energy(idx)
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
        rows = aev.reshape(b * n, -1)
        chunks = (rows.index_select(0, order) if vmap_safe_active() else permute_rows(rows, order)).split(counts)
        atomic = torch.cat([net(x).squeeze(-1) for net, x in zip(self.networks, chunks)])
        molecule = torch.div(order[: atomic.shape[0]], n, rounding_mode="floor")
        energy = torch.zeros(b, dtype=atomic.dtype, device=atomic.device).index_add(0, molecule, atomic)
        return energy + self._self_energy(idx)

    def _self_energy(self, idx: torch.Tensor) -> torch.Tensor:
        return self.self_energies[idx.clamp(min=0)].masked_fill(idx < 0, 0.0).sum(dim=1)


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
