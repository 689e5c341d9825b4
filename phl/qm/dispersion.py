"""Chai–Head-Gordon damped dispersion of ωB97X-D, with analytic gradient and Hessian.

Written by hand because no library provides it with a Hessian (PySCF refuses ``wb97x-d``, and
``wb97xd`` silently omits this term; Psi4 has energy and gradient only). See docs/method.md:

    E = -s6 Σ_{i<j} C6_ij / R_ij^6 · 1 / (1 + a (R_ij / Rr_ij)^-12),
    C6_ij = sqrt(C6_i C6_j),  Rr_ij = R0_i + R0_j,  s6 = 1,  a = 6,

over all pairs with no cutoff (Chai & Head-Gordon, PCCP 10, 6615 (2008)), with Grimme-D2 C6 and
R0 (J. Comput. Chem. 27, 1787 (2006)). Gaussian prints this term as ``R6Disp`` and uses
bohr = 0.52917721092 Å, which we use here too.

Units: positions in Å in, energy in Eh, gradient in Eh/Å and Hessian in Eh/Å² out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from phl.errors import InputError
from phl.units import BOHR, C6_JNM6_PER_MOL_TO_EH_BOHR6

#: Grimme-D2 parameters: element -> (C6 in J nm^6 mol^-1, R0 in Å), H to Ar.
D2_PARAMETERS: dict[str, tuple[float, float]] = {
    "H": (0.14, 1.001),
    "He": (0.08, 1.012),
    "Li": (1.61, 0.825),
    "Be": (1.61, 1.408),
    "B": (3.13, 1.485),
    "C": (1.75, 1.452),
    "N": (1.23, 1.397),
    "O": (0.70, 1.342),
    "F": (0.75, 1.287),
    "Ne": (0.63, 1.243),
    "Na": (5.71, 1.144),
    "Mg": (5.71, 1.364),
    "Al": (10.79, 1.639),
    "Si": (9.23, 1.716),
    "P": (7.84, 1.705),
    "S": (5.57, 1.683),
    "Cl": (5.07, 1.639),
    "Ar": (4.61, 1.595),
}

CHG_S6 = 1.0
CHG_A = 6.0


@dataclass(frozen=True)
class DispersionResult:
    """Dispersion energy (Eh), gradient (Eh/Å, N×3) and, when asked, Hessian (Eh/Å², 3N×3N)."""

    energy: float
    gradient: NDArray[np.float64]
    hessian: NDArray[np.float64] | None = None


def check_elements(symbols: Sequence[str]) -> None:
    """Raise :class:`InputError` naming every element the dispersion table does not cover."""
    unknown = sorted({s for s in symbols if s not in D2_PARAMETERS})
    if unknown:
        raise InputError(
            f"no Chai–Head-Gordon (Grimme-D2) dispersion parameters for element(s) {', '.join(unknown)}; "
            f"covered: {' '.join(D2_PARAMETERS)}"
        )


def _pair_parameters(symbols: Sequence[str]) -> tuple[NDArray, NDArray]:
    """C6_ij (Eh bohr^6) and Rr_ij (bohr) for all atom pairs, as N×N matrices."""
    check_elements(symbols)
    c6 = np.array([D2_PARAMETERS[s][0] for s in symbols]) * C6_JNM6_PER_MOL_TO_EH_BOHR6
    r0 = np.array([D2_PARAMETERS[s][1] for s in symbols]) / BOHR
    return np.sqrt(np.outer(c6, c6)), r0[:, None] + r0[None, :]


def chg_dispersion(
    symbols: Sequence[str],
    positions_angstrom: NDArray[np.float64],
    hessian: bool = False,
    s6: float = CHG_S6,
    a: float = CHG_A,
) -> DispersionResult:
    """Chai–Head-Gordon dispersion energy, gradient and optionally Hessian of one molecule."""
    x = np.asarray(positions_angstrom, dtype=np.float64) / BOHR
    n = len(symbols)
    if x.shape != (n, 3):
        raise InputError(f"positions have shape {x.shape}, expected ({n}, 3)")
    c6, rr = _pair_parameters(symbols)
    i, j = np.triu_indices(n, k=1)
    r_vec = x[i] - x[j]  # (P, 3)
    r = np.linalg.norm(r_vec, axis=1)
    c6, rr = c6[i, j], rr[i, j]

    # Pair energy e(R) = -s6 C6 p(R) f(R), p = R^-6, f = 1 / (1 + u), u = a (Rr / R)^12.
    u = a * (rr / r) ** 12
    f = 1.0 / (1.0 + u)
    p = r**-6
    df = 12.0 * u * f**2 / r
    e = -s6 * c6 * p * f
    de = -s6 * c6 * (-6.0 * r**-7 * f + p * df)

    n_hat = r_vec / r[:, None]
    pair_grad = de[:, None] * n_hat  # d e / d x_i; d e / d x_j is its negative
    grad = np.zeros((n, 3))
    np.add.at(grad, i, pair_grad)
    np.add.at(grad, j, -pair_grad)

    hess = None
    if hessian:
        d2f = 12.0 * u * f**2 / r**2 * (-13.0 + 24.0 * u * f)
        d2e = -s6 * c6 * (42.0 * r**-8 * f + 2.0 * (-6.0 * r**-7) * df + p * d2f)
        nn = n_hat[:, :, None] * n_hat[:, None, :]
        block = d2e[:, None, None] * nn + (de / r)[:, None, None] * (np.eye(3) - nn)  # (P, 3, 3)
        h4 = np.zeros((n, n, 3, 3))
        np.add.at(h4, (i, i), block)
        np.add.at(h4, (j, j), block)
        np.add.at(h4, (i, j), -block)
        np.add.at(h4, (j, i), -block)
        hess = h4.transpose(0, 2, 1, 3).reshape(3 * n, 3 * n) / BOHR**2

    return DispersionResult(energy=float(e.sum()), gradient=grad / BOHR, hessian=hess)
