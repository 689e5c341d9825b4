"""ASE calculators: the reference method (:class:`ReferenceCalculator`) and a trained model
(:class:`MLCalculator`), both with Hessians for Sella (units: :mod:`phl.calculators.base`).
``MLCalculator`` is imported on first use, so that reference jobs do not load torch."""

from phl.calculators.base import HessianCalculator
from phl.calculators.reference import ReferenceCalculator

__all__ = ["HessianCalculator", "MLCalculator", "ReferenceCalculator"]


def __getattr__(name: str):
    if name == "MLCalculator":
        from phl.calculators.ml import MLCalculator

        return MLCalculator
    raise AttributeError(f"module 'phl.calculators' has no attribute {name!r}")
