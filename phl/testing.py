"""Test factories and the consistency check every energy model must pass, shipped with phl so
that a user's model is checked the same way as phl's own (as TorchSim ships ``testing``).

    from phl.testing import check_model
    check_model(MyModel())          # raises AssertionError naming the first broken property

:func:`check_model` verifies the contract of :mod:`phl.models.interface` on random H/C/N/O
molecules: output shape and finiteness; padded atoms (with garbage coordinates) change nothing;
a batch equals its molecules one by one; energies are invariant under translation and rotation
(so forces sum to zero); forces are −∂E/∂R by central finite differences; the HVP of
:func:`phl.models.hvp` equals the full Hessian times v, and the Hessian is symmetric.
"""

from __future__ import annotations

import numpy as np
import torch

from phl.dataset.batching import pad_structures
from phl.dataset.synthetic import synthetic_structures
from phl.models import derivatives
from phl.models.interface import EnergyModel, model_elements
from phl.training.teacher import teacher_dataset

__all__ = ["check_model", "exploding", "random_batch", "teacher_dataset"]


def exploding(model_class: type[torch.nn.Module]) -> type[torch.nn.Module]:
    """A subclass of ``model_class`` whose energies turn NaN while its class attribute ``armed`` is
    true (a class attribute: the trainer builds its own instance from the class path), to test how
    a run meets a forward gone bad."""

    class Exploding(model_class):  # type: ignore[misc, valid-type]
        armed = False

        def forward(self, species: torch.Tensor, coordinates: torch.Tensor) -> torch.Tensor:
            energy = super().forward(species, coordinates)
            return energy * float("nan") if type(self).armed else energy

    Exploding.__name__ = Exploding.__qualname__ = f"Exploding{model_class.__name__}"
    return Exploding


def random_batch(
    n: int = 4,
    seed: int = 0,
    elements: tuple[int, ...] = (1, 6, 7, 8),
    max_atoms: int = 6,
    dtype: torch.dtype = torch.float64,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A padded batch (species, coordinates, atom counts) of ``n`` random non-overlapping
    molecules of the given elements (atoms ~1.3 Å apart), molecules of different sizes."""
    structures = list(
        synthetic_structures(n, seed=seed, median_atoms=max(2, max_atoms - 2), max_atoms=max_atoms, hessian=False)
    )
    rng = np.random.default_rng(seed)
    for s in structures:
        s.species = rng.choice(np.asarray(elements), size=s.n_atoms)
    return pad_structures(structures, dtype=dtype)


def _rotation(seed: int, dtype: torch.dtype) -> torch.Tensor:
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    return torch.as_tensor(q * np.sign(np.linalg.det(q)), dtype=dtype)  # proper rotation


def _close(a: torch.Tensor, b: torch.Tensor, what: str, rtol: float, atol: float) -> None:
    a, b = a.detach(), b.detach()
    if not torch.allclose(a, b, rtol=rtol, atol=atol):
        err = float((a - b).abs().max())
        raise AssertionError(f"{what}: largest difference {err:.3e} (rtol {rtol:g}, atol {atol:g})")


def check_model(
    model: torch.nn.Module, n: int = 4, seed: int = 0, fd_step: float = 1e-5, rtol: float = 1e-6, atol: float = 1e-8
) -> None:
    """Raise :class:`AssertionError` naming the first property of the energy-model contract that
    ``model`` breaks (see the module docstring). Use float64 models."""
    if not isinstance(model, EnergyModel):
        raise AssertionError("the model has no 'elements' attribute (the atomic numbers it covers)")
    dtype = next(model.parameters()).dtype
    species, coords, n_atoms = random_batch(n, seed, model_elements(model), dtype=dtype)
    energy = model(species, coords)
    if energy.shape != (n,):
        raise AssertionError(f"energies have shape {tuple(energy.shape)}, expected ({n},)")
    if not bool(torch.isfinite(energy).all()):
        raise AssertionError("non-finite energies")

    # padding with garbage coordinates, and molecules one at a time
    pad_sp = torch.cat([species, torch.full((n, 2), -1)], dim=1)
    pad_xyz = torch.cat([coords, torch.full((n, 2, 3), 7.3, dtype=dtype)], dim=1)
    _close(model(pad_sp, pad_xyz), energy, "padded atoms change the energy", rtol, atol)
    single = torch.stack(
        [model(species[b : b + 1, : int(n_atoms[b])], coords[b : b + 1, : int(n_atoms[b])])[0] for b in range(n)]
    )
    _close(single, energy, "a batch differs from its molecules one by one", rtol, atol)

    # invariance (on real atoms only: padded coordinates stay where they are)
    real = (species >= 0)[..., None]
    shift = torch.tensor([1.7, -2.3, 0.9], dtype=dtype)
    _close(
        model(species, torch.where(real, coords + shift, coords)),
        energy,
        "energy not translation invariant",
        rtol,
        atol,
    )
    rotated = torch.where(real, coords @ _rotation(seed, dtype).T, coords)
    _close(model(species, rotated), energy, "energy not rotation invariant", rtol, atol)

    # forces by finite differences, HVP = H v, symmetric Hessian
    e, forces, leaf = derivatives.energy_forces(model, species, coords)
    _close(forces.sum(dim=1), torch.zeros(n, 3, dtype=dtype), "forces do not sum to zero", rtol, 1e3 * atol)
    gen = torch.Generator().manual_seed(seed)
    d = torch.randn(coords.shape, generator=gen, dtype=dtype) * real
    fd = (model(species, coords + fd_step * d) - model(species, coords - fd_step * d)) / (2 * fd_step)
    _close(fd, -(forces * d).sum(dim=(1, 2)), "forces are not -dE/dR (central differences)", 1e3 * rtol, 1e3 * atol)
    hess = derivatives.hessian(forces, leaf, create_graph=True)
    _close(hess, hess.transpose(1, 2), "Hessian not symmetric", rtol, 1e3 * atol)
    v = torch.randn((n, 2, *coords.shape[1:]), generator=gen, dtype=dtype) * real[:, None]
    hv = derivatives.hvp(forces, leaf, v)
    expected = torch.einsum("bij,bkj->bki", hess, v.reshape(n, 2, -1)).reshape(hv.shape)
    _close(hv, expected, "HVP differs from the full Hessian times v", rtol, 1e3 * atol)
    # training differentiates the HVP loss with respect to the parameters
    params = [p for p in model.parameters() if p.requires_grad]
    if params:
        grads = torch.autograd.grad((hv**2).sum(), params, allow_unused=True)
        if all(g is None for g in grads):
            raise AssertionError("the HVP does not depend on the parameters (third derivatives missing)")
