"""Derivatives of any energy model by autograd (docs/training.md), for a padded batch.

``energy_forces`` gives energies (B,) in Eh and forces −∂E/∂R (B, N, 3) in Eh/Å together with
the coordinate leaf they were taken at; ``hvp`` the Hessian-vector products ∂(g·v)/∂R with
g = −forces, one more backward for the whole batch per probe slot; ``hessian`` full Hessians from
3N_max such products (in vmap chunks of ``HESSIAN_CHUNK``, or one at a time). Padded atoms have zero
rows and columns. With ``create_graph=True`` (training) every result stays differentiable with
respect to the parameters.
"""

from __future__ import annotations

import torch

from phl.models.interface import HESSIAN_CHUNK

# the computation modes models read, re-exported here where callers have always found them
from phl.models.modes import static_shapes, static_shapes_active, vmap_safe, vmap_safe_active

__all__ = [
    "energy_forces",
    "hessian",
    "hvp",
    "single_hessian",
    "static_shapes",
    "static_shapes_active",
    "vmap_safe",
    "vmap_safe_active",
]


def energy_forces(model, species: torch.Tensor, coordinates: torch.Tensor, create_graph: bool = True):
    """Energies (B,), forces (B, N, 3), and the coordinates leaf used (for further derivatives)."""
    coords = coordinates.detach().requires_grad_(True)
    energy = model(species, coords)
    (grad,) = torch.autograd.grad(energy.sum(), coords, create_graph=create_graph)
    return energy, -grad, coords


def hvp(forces: torch.Tensor, coords: torch.Tensor, probes: torch.Tensor, create_graph: bool = True) -> torch.Tensor:
    """H̃v for probes (B, K, N, 3) by one backward per probe slot for the whole batch:
    Hv = ∂(g·v)/∂R with g = −forces. Returns (B, K, N, 3)."""
    grad = -forces
    out = []
    for k in range(probes.shape[1]):
        (hv,) = torch.autograd.grad(
            grad, coords, grad_outputs=probes[:, k], create_graph=create_graph, retain_graph=True
        )
        out.append(hv)
    return torch.stack(out, dim=1)


def hessian(
    forces: torch.Tensor, coords: torch.Tensor, create_graph: bool = True, chunk_size: int = HESSIAN_CHUNK
) -> torch.Tensor:
    """Full Hessians (B, 3N, 3N) of the batch from 3N_max vector-Jacobian products of the
    gradient, each for the whole batch at once: ``chunk_size`` products together with
    ``is_grads_batched`` (vmap), or one at a time with 0. Rows and columns of padded atoms are
    zero; the result is the same either way to float rounding."""
    grad = -forces
    b, n = grad.shape[:2]
    dim = 3 * n
    rows = []
    if not chunk_size:
        for c in range(dim):
            v = torch.zeros((b, dim), dtype=grad.dtype, device=grad.device)
            v[:, c] = 1.0
            (h,) = torch.autograd.grad(
                grad, coords, grad_outputs=v.reshape(b, n, 3), create_graph=create_graph, retain_graph=True
            )
            rows.append(h.reshape(b, dim))
        return torch.stack(rows, dim=1)  # (B, 3N, 3N); row c = ∂g_c/∂R
    eye = torch.eye(dim, dtype=grad.dtype, device=grad.device).reshape(dim, 1, n, 3).expand(dim, b, n, 3)
    for start in range(0, dim, chunk_size):
        (h,) = torch.autograd.grad(
            grad,
            coords,
            grad_outputs=eye[start : start + chunk_size],
            create_graph=create_graph,
            retain_graph=True,
            is_grads_batched=True,
        )
        rows.append(h.reshape(h.shape[0], b, dim))
    return torch.cat(rows, dim=0).permute(1, 0, 2)


def single_hessian(model, species: torch.Tensor, coordinates: torch.Tensor) -> torch.Tensor:
    """Symmetrised Hessian (3N, 3N) in Eh/Å² of one unpadded molecule, species (N,), coordinates (N, 3)."""
    _, forces, coords = energy_forces(model, species[None], coordinates[None], create_graph=True)
    h = hessian(forces, coords, create_graph=False)[0].detach()
    return 0.5 * (h + h.T)
