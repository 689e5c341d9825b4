"""The paper's ANI at static shapes: every tensor's shape follows from the padded batch alone,
so a training step can be captured as a CUDA graph (docs/training.md, "Static shapes").

TorchANI builds its AEV from a neighbour list whose length depends on the coordinates
(``nonzero`` over the pairs inside the cut-off), and :class:`phl.models.ani.ANIModel` splits
the atoms by element with counts read from the device. Here, written by hand because TorchANI
has no fixed-shape path for training:

- the AEV from *all* pairs and triples of each padded molecule, with the pairs outside the
  cut-offs, the padded atoms and the central atom masked to zero, summed into TorchANI's
  species and species-pair blocks by one batched matrix product each; the radial and angular terms themselves
  are TorchANI's modules (``aev.radial``, ``aev.angular``), so the formulas are TorchANI's;
- every element's network applied to every atom as one batched matrix product per layer
  (``baddbmm`` over the stacked weights of the elements), each atom then taking its own
  element's output: 4× the network arithmetic for H, C, N, O, in a handful of kernels.

Same energies and derivatives as the neighbour-list path to float64 rounding (tested). Worth
it where kernel launches, not arithmetic, bound the step (a GPU); on a CPU it is slower.
"""

from __future__ import annotations

import torch
from torch import nn


def dense_aev(aev_computer: nn.Module, idx: torch.Tensor, coordinates: torch.Tensor) -> torch.Tensor:
    """TorchANI's AEV (B, N, radial_len + angular_len) of element indices ``idx`` (B, N; −1
    padding) at ``coordinates`` (B, N, 3) Å, from all pairs and triples: zero rows on padding."""
    radial, angular = aev_computer.radial, aev_computer.angular
    b, n = idx.shape
    device, dtype = coordinates.device, coordinates.dtype
    real = idx >= 0
    others = ~torch.eye(n, dtype=torch.bool, device=device)
    pair_ok = real[:, :, None] & real[:, None, :] & others  # (B, N, N): i ≠ j, both real; symmetric
    # R_i − R_j, zero on masked pairs and distance 1 Å there: every term and every derivative of
    # the square root and the angle stays finite (NaN × 0 would still be NaN)
    diff = (coordinates[:, :, None, :] - coordinates[:, None, :, :]) * pair_ok[..., None]
    d2 = (diff**2).sum(-1)
    dist = torch.sqrt(torch.where(pair_ok, d2, torch.ones_like(d2)))  # symmetric
    species = _onehot(idx, aev_computer.num_species).to(dtype)  # (B, N, S), zero rows on padding

    # radial: terms (B, N_j, N_i·R) summed over the neighbours j of each species by one bmm
    in_radial = (pair_ok & (dist <= radial.cutoff)).to(dtype)
    terms = radial(dist.reshape(-1)).reshape(b, n, n, -1) * in_radial[..., None]
    radial_aev = torch.bmm(species.transpose(1, 2), terms.reshape(b, n, -1))  # (B, S, N·R)
    radial_aev = radial_aev.reshape(b, -1, n, radial.num_feats).transpose(1, 2).reshape(b, n, -1)

    # angular: the side pairs j < k of every centre i, laid out (B, P, N) so that the sum over the
    # pairs of each species pair is one bmm; the vectors point from the side atoms to the centre
    # (both reversed: the same angle)
    j, k = torch.triu_indices(n, n, offset=1, device=device)
    in_angular = pair_ok & (dist <= angular.cutoff)
    triple_ok = (in_angular[:, j] & in_angular[:, k]).to(dtype)  # (B, P, N)
    sides = torch.stack([dist[:, j], dist[:, k]]).reshape(2, -1)
    vectors = torch.stack([diff[:, j], diff[:, k]]).reshape(2, -1, 3)
    terms = angular(sides, vectors).reshape(b, len(j), n, -1) * triple_ok[..., None]  # (B, P, N, A)
    element = idx.clamp(min=0)
    pairs = _onehot(aev_computer.triu_index[element[:, j], element[:, k]], aev_computer.num_species_pairs)
    angular_aev = torch.bmm(pairs.to(dtype).transpose(1, 2), terms.reshape(b, len(j), -1))  # (B, Q, N·A)
    angular_aev = angular_aev.reshape(b, -1, n, angular.num_feats).transpose(1, 2).reshape(b, n, -1)
    return torch.cat([radial_aev, angular_aev], dim=-1)


def _onehot(index: torch.Tensor, n: int) -> torch.Tensor:
    """(…, n) booleans, True at ``index`` (−1: none): by comparison, which reads nothing back
    from the device (``one_hot`` may check its input's range)."""
    return index[..., None] == torch.arange(n, device=index.device)


def stacked_networks(networks: nn.ModuleList, features: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Atomic energies (B, N) of element indices ``idx`` (−1 padding: zero) from per-element
    networks of one architecture (``nn.Sequential`` of ``nn.Linear`` and activations), every
    network on every atom by one ``baddbmm`` per layer."""
    b, n = idx.shape
    h = features.reshape(1, b * n, -1).expand(len(networks), -1, -1)
    for position, layer in enumerate(networks[0]):
        if isinstance(layer, nn.Linear):
            weight = torch.stack([net[position].weight for net in networks])  # (E, out, in)
            bias = torch.stack([net[position].bias for net in networks])  # (E, out)
            h = torch.baddbmm(bias[:, None, :], h, weight.transpose(1, 2))
        else:  # the same activation module in every network
            h = layer(h)
    atomic = h.squeeze(-1).T.gather(1, idx.reshape(-1, 1).clamp(min=0)).reshape(b, n)
    return atomic * (idx >= 0)
