"""phl: Projected Hessian Learning, reproduced and extended.

The library behind the ``phl`` command line and the Snakemake workflow: reference quantum chemistry
at ωB97X-D/6-31G(d) exactly as Gaussian 16 computes it (:mod:`phl.qm`), ASE calculators
(:mod:`phl.calculator`), and, in later stages, geometries, data sets, training and results.
"""

__version__ = "0.1.0"
