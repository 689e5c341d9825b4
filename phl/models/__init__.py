"""Energy models: one interface (:mod:`.interface`), derivatives of any model by autograd
(:mod:`.derivatives`), checkpoints that rebuild any model (:mod:`.checkpoint`), the paper's ANI
model (:mod:`.ani`) and a tiny pair potential (:mod:`.pair`).

Names are imported on first use, so that reading settings (which name a model class) does not
load torch."""

from importlib import import_module

_EXPORTS = {
    "DEFAULT_MODEL": "interface",
    "EnergyModel": "interface",
    "ModelSpec": "interface",
    "SupportsSelfEnergies": "interface",
    "model_elements": "interface",
    "energy_forces": "derivatives",
    "hessian": "derivatives",
    "hvp": "derivatives",
    "single_hessian": "derivatives",
    "load_model": "checkpoint",
    "model_record": "checkpoint",
    "read_checkpoint": "checkpoint",
    "save_checkpoint": "checkpoint",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f"phl.models.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'phl.models' has no attribute {name!r}")
