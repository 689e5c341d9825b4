"""ASE calculators: the reference method (:class:`ReferenceCalculator`) and a trained model
(:class:`MLCalculator`), both with Hessians for Sella (units: :mod:`phl.calculators.base`)."""

from phl.calculators.base import HessianCalculator
from phl.calculators.ml import MLCalculator
from phl.calculators.reference import ReferenceCalculator

__all__ = ["HessianCalculator", "MLCalculator", "ReferenceCalculator"]
