"""A trained phl model, of any class, as an ASE calculator: energy (eV), forces (eV/Å) and the
Hessian by autograd (translations included), so that Sella can use the model's own Hessian::

    calc = MLCalculator.from_checkpoint("results/training/hvp-random-randomized/seed0/best.pt")
    atoms.calc = calc
    Sella(atoms, order=1, internal=True, hessian_function=calc.hessian_function)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from ase import Atoms
from ase.calculators.calculator import all_changes
from numpy.typing import NDArray

from phl.calculators.base import HessianCalculator
from phl.models import energy_forces, load_model, single_hessian


class MLCalculator(HessianCalculator):
    def __init__(self, model: torch.nn.Module, device: str = "cpu", **kwargs) -> None:
        super().__init__(**kwargs)
        self.model = model.to(device).eval()
        self.device = torch.device(device)
        self.dtype = next(model.parameters()).dtype

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "cpu") -> MLCalculator:
        """The model of a checkpoint (``best.pt`` of ``phl train``), rebuilt from its stored class."""
        return cls(load_model(path, device), device)

    def _tensors(self, atoms: Atoms) -> tuple[torch.Tensor, torch.Tensor]:
        species = torch.as_tensor(atoms.get_atomic_numbers(), device=self.device)
        coords = torch.as_tensor(atoms.get_positions(), dtype=self.dtype, device=self.device)
        return species, coords

    def calculate(self, atoms: Atoms | None = None, properties=("energy",), system_changes=all_changes) -> None:
        super().calculate(atoms, properties, system_changes)
        species, coords = self._tensors(self.atoms)
        energy, forces, _ = energy_forces(self.model, species[None], coords[None], create_graph=False)
        self.store(float(energy.detach()), forces[0].detach().cpu().numpy())

    def hessian(self, atoms: Atoms) -> NDArray[np.float64]:
        """Symmetrised Cartesian Hessian (3N, 3N) in Eh/Å²."""
        return single_hessian(self.model, *self._tensors(atoms)).cpu().numpy()
