"""The PHL losses (docs/training.md), written by hand: no library provides them.

Per molecule i with N_i atoms, averaged over the minibatch::

    L_E = (Ẽ − E)² / √N
    L_F = ‖F̃ − F‖² / (3N)
    L_H = ‖H̃ − H‖_F² / (3N)²                 (full Hessian, E-F-H)
    L_H = Σ_k ‖H̃v_k − Hv_k‖² / ((3N)² K)     (HVP, K probes with E[v vᵀ] = I)
    L   = w_E L_E + w_F L_F + w_H L_H,  default weights 1, 0.30, 0.09

For any probe distribution with E[v vᵀ] = I, E‖(H̃ − H) v‖² = ‖H̃ − H‖_F², so the HVP loss is an
unbiased estimate of the full-Hessian loss. Padded atoms carry zero probes, zero forces and
zero Hessian rows, and never enter a loss.
Model derivatives (forces, HVPs, Hessians) come from :mod:`phl.models.derivatives`.
"""

from __future__ import annotations

import torch


def energy_loss(pred: torch.Tensor, ref: torch.Tensor, n_atoms: torch.Tensor) -> torch.Tensor:
    """Per-molecule (Ẽ − E)² / √N, shape (B,)."""
    return (pred - ref) ** 2 / torch.sqrt(n_atoms.to(pred.dtype))


def forces_loss(pred: torch.Tensor, ref: torch.Tensor, n_atoms: torch.Tensor) -> torch.Tensor:
    """Per-molecule ‖F̃ − F‖² / (3N), shape (B,)."""
    return ((pred - ref) ** 2).sum(dim=(1, 2)) / (3 * n_atoms.to(pred.dtype))


def hessian_loss(pred: torch.Tensor, ref: torch.Tensor, n_atoms: torch.Tensor) -> torch.Tensor:
    """Per-molecule ‖H̃ − H‖_F² / (3N)², shape (B,)."""
    return ((pred - ref) ** 2).sum(dim=(1, 2)) / (3 * n_atoms.to(pred.dtype)) ** 2


def hvp_loss(pred: torch.Tensor, ref: torch.Tensor, n_atoms: torch.Tensor) -> torch.Tensor:
    """Per-molecule mean over K probes of ‖H̃v − Hv‖² / (3N)², shape (B,)."""
    return ((pred - ref) ** 2).sum(dim=(2, 3)).mean(dim=1) / (3 * n_atoms.to(pred.dtype)) ** 2


def reference_hvp(hessian: torch.Tensor, probes: torch.Tensor) -> torch.Tensor:
    """H v for reference Hessians (B, 3N, 3N) and probes (B, K, N, 3) → (B, K, N, 3)."""
    b, k, n, _ = probes.shape
    return torch.einsum("bij,bkj->bki", hessian, probes.reshape(b, k, 3 * n)).reshape(b, k, n, 3)
