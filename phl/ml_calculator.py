"""A trained phl model as an ASE calculator: energy (eV), forces (eV/Å) and the Hessian
(eV/Å², autograd, translations included) so that Sella can use the model's own Hessian::

    calc = MLCalculator.from_checkpoint("results/train/hvp-random/seed0/best.pt")
    atoms.calc = calc
    Sella(atoms, order=1, internal=True, hessian_function=calc.hessian_function)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes
from numpy.typing import NDArray

from phl.training.losses import model_energy_forces, model_hessian
from phl.units import HARTREE_TO_EV


class MLCalculator(Calculator):
    implemented_properties = ["energy", "free_energy", "forces"]

    def __init__(self, model: torch.nn.Module, device: str = "cpu", **kwargs) -> None:
        super().__init__(**kwargs)
        self.model = model.to(device).eval()
        self.device = torch.device(device)
        self.dtype = next(model.parameters()).dtype

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "cpu") -> "MLCalculator":
        from phl.training.trainer import load_trained_model

        return cls(load_trained_model(path, device), device)

    def _tensors(self, atoms: Atoms):
        species = torch.as_tensor(atoms.get_atomic_numbers(), device=self.device)[None]
        coords = torch.as_tensor(atoms.get_positions(), dtype=self.dtype, device=self.device)[None]
        return species, coords

    def calculate(self, atoms: Atoms | None = None, properties=("energy",), system_changes=all_changes) -> None:
        super().calculate(atoms, properties, system_changes)
        energy, forces, _ = model_energy_forces(self.model, *self._tensors(self.atoms), create_graph=False)
        self.results["energy"] = self.results["free_energy"] = float(energy.detach()) * HARTREE_TO_EV
        self.results["forces"] = forces[0].detach().cpu().numpy() * HARTREE_TO_EV

    def get_hessian(self, atoms: Atoms | None = None) -> NDArray[np.float64]:
        """Cartesian Hessian (3N, 3N) in eV/Å²."""
        atoms = atoms if atoms is not None else self.atoms
        _, forces, coords = model_energy_forces(self.model, *self._tensors(atoms), create_graph=True)
        h = model_hessian(forces, coords, create_graph=False)[0].detach().cpu().numpy()
        return 0.5 * (h + h.T) * HARTREE_TO_EV

    def hessian_function(self, atoms: Atoms) -> NDArray[np.float64]:
        return self.get_hessian(atoms)
