"""Physical constants and unit conversions used across phl.

Storage units follow the OpenREACT-CHON-EFH data set (DESIGN.md §3): coordinates in Å, energies in
Hartree (Eh), forces in Eh/Å, Hessians and Hessian-vector products in Eh/Å². Reports use kcal/mol.
"""

from ase import units as _ase_units

#: Bohr radius in Å as used by Gaussian 16 (CODATA 2010); used for the dispersion term so that it
#: matches Gaussian's printed R6Disp to 1e-10 Eh.
BOHR_GAUSSIAN_ANGSTROM = 0.52917721092

#: 1 J nm^6 mol^-1 (Grimme-D2 C6 table unit) in Eh bohr^6.
C6_JNM6_PER_MOL_TO_EH_BOHR6 = 17.34525495

#: 1 Eh in kcal/mol (DESIGN.md §3).
HARTREE_TO_KCAL_MOL = 627.5094740631

#: 1 Eh in eV, as ASE defines it (so that the ASE calculators are consistent with ASE's units).
HARTREE_TO_EV = _ase_units.Hartree
