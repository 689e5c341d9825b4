"""Physical constants and unit conversions used across phl.

Storage units follow the OpenREACT-CHON-EFH data set (docs/data.md): coordinates in Å, energies in
Hartree (Eh), forces in Eh/Å, Hessians and Hessian-vector products in Eh/Å². Reports use kcal/mol.
ASE calculators convert to eV once, at the ASE boundary (:mod:`phl.calculators`).
"""

from ase import units as _ase_units

#: Bohr radius in Å (CODATA 2010), the value of both Gaussian 16 and PySCF (``pyscf.lib.param.BOHR``):
#: converts PySCF's bohr-based derivatives and makes the dispersion term match Gaussian's printed
#: R6Disp to 1e-10 Eh.
BOHR = 0.52917721092

#: 1 J nm^6 mol^-1 (Grimme-D2 C6 table unit) in Eh bohr^6.
C6_JNM6_PER_MOL_TO_EH_BOHR6 = 17.34525495

#: 1 Eh in kcal/mol.
HARTREE_TO_KCAL_MOL = 627.5094740631

#: 1 Eh in eV, as ASE defines it (so that the ASE calculators are consistent with ASE's units).
HARTREE_TO_EV = _ase_units.Hartree
