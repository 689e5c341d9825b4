"""Energy models: one interface (:mod:`.interface`), derivatives of any model by autograd
(:mod:`.derivatives`), checkpoints that rebuild any model (:mod:`.checkpoint`), the paper's ANI
model (:mod:`.ani`) and a tiny pair potential (:mod:`.pair`)."""

from phl.models.checkpoint import load_model, model_record, read_checkpoint, save_checkpoint
from phl.models.derivatives import energy_forces, hessian, hvp, single_hessian
from phl.models.interface import DEFAULT_MODEL, EnergyModel, ModelSpec, SupportsSelfEnergies, model_elements

__all__ = [
    "DEFAULT_MODEL",
    "EnergyModel",
    "ModelSpec",
    "SupportsSelfEnergies",
    "energy_forces",
    "hessian",
    "hvp",
    "load_model",
    "model_elements",
    "model_record",
    "read_checkpoint",
    "save_checkpoint",
    "single_hessian",
]
