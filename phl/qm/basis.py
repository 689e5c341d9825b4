"""Gaussian-style basis-set names and Gaussian's default Cartesian/spherical convention.

Gaussian 16 uses six Cartesian d functions (6D) by default for the 3-21G, 4-31G, 6-21G and 6-31G
families (including 6-31G(d), 6-31G*, 6-31+G(d,p), ...) and for D95/D95V, and five spherical d
(5D) for everything else (6-311G family, def2, cc-pVXZ, ...). With 6-31G(d) this changes the
energy by ~1.7 mEh (docs/method.md), so the convention is part of the level of theory.

Gaussian pairs 6D with *pure* f functions (7F). PySCF's ``cart`` flag applies to every shell, so
a Cartesian basis that carries f (or higher) functions for the molecule at hand cannot reproduce
Gaussian; :func:`check_basis_for_molecule` refuses that case rather than silently differing.
"""

from __future__ import annotations

import copy
import re
import warnings
from functools import lru_cache

from phl.errors import InputError

# Families that Gaussian runs with 6D by default (matched on the normalised name).
_CARTESIAN_FAMILIES = re.compile(r"^(3-21|4-31|6-21|6-31(?!1)|d95)")


# Pople polarisation in parentheses: heavy-atom shells, then optionally H shells, e.g. (d),
# (d,p), (2df,2pd), (3df,3pd); each shell is an optional count and a letter.
_POPLE_POLARISATION = re.compile(r"^\((?P<heavy>(?:[1-9]?[dfg])+)(?:,(?P<light>(?:[1-9]?[pdf])+))?\)$")
_POPLE_BASE = re.compile(r"^(?:321|431|631|6311)\+{0,2}g$")


def normalise_basis_name(name: str) -> str:
    """Lower-case, strip spaces; ``6-31G*`` style stays as it is (PySCF accepts both spellings).
    The name is checked strictly (:func:`check_basis_name`): PySCF drops what it cannot parse
    (``6-31G(d`` runs plain 6-31G), phl refuses it."""
    if not isinstance(name, str) or not name.strip():
        raise InputError("basis set name is empty")
    key = name.strip().lower().replace(" ", "")
    check_basis_name(name, key)
    return key


def check_basis_name(name: str, key: str) -> None:
    """Refuse a basis name that PySCF would read only in part: a Pople name must be a known base
    (``6-31G``, ``6-311++G``, ``6-31G**``, ...) with at most one well-formed polarisation group;
    any other name must be in PySCF's basis library under exactly that name."""
    from pyscf.gto import basis as pyscf_basis

    flat = pyscf_basis._format_basis_name(key)
    if flat in pyscf_basis.ALIAS:
        return
    base, paren, rest = flat.partition("(")
    if paren and _POPLE_BASE.match(base) and base in pyscf_basis.ALIAS and _POPLE_POLARISATION.match("(" + rest):
        return
    if paren or _POPLE_BASE.match(base) or re.match(r"^\d", flat):
        raise InputError(
            f"basis set {name!r} is not a well-formed Pople name (e.g. 6-31G(d), 6-31G(d,p), 6-31+G(2df,2pd), "
            "6-31G**); PySCF would silently drop what it cannot parse"
        )
    raise InputError(f"unknown basis set {name!r} (not in PySCF's basis library)")


def gaussian_uses_cartesian_d(name: str) -> bool:
    """Whether Gaussian 16 uses Cartesian (6D) d functions by default for this basis set."""
    return bool(_CARTESIAN_FAMILIES.match(normalise_basis_name(name)))


@lru_cache(maxsize=256)
def _parsed_shells(key: str, element: str) -> tuple:
    """PySCF's parsed basis of one element, read from its library file once per process (an FD
    Hessian builds 6N molecules; parsing took ~20 ms per molecule)."""
    from pyscf import gto

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return tuple(gto.basis.load(key, element))


def load_basis(name: str, symbols: list[str]) -> dict:
    """Return the PySCF basis dict for these elements, or raise :class:`InputError`."""
    key = normalise_basis_name(name)
    basis = {}
    for element in sorted(set(symbols)):
        try:
            shells = _parsed_shells(key, element)
        except Exception:  # PySCF raises BasisNotFoundError, KeyError or RuntimeError
            raise InputError(f"unknown basis set {name!r} (for element {element})") from None
        if not shells:
            raise InputError(f"basis set {name!r} has no functions for element {element}")
        basis[element] = copy.deepcopy(list(shells))  # PySCF may normalise shells in place
    return basis


def check_basis_for_molecule(name: str, basis: dict, cartesian: bool) -> None:
    """Refuse Cartesian sets with f or higher functions: Gaussian would use pure f (7F) there."""
    if not cartesian:
        return
    for element, shells in basis.items():
        lmax = max(shell[0] for shell in shells)
        if lmax >= 3:
            raise InputError(
                f"basis set {name!r} has l={lmax} functions on {element}; Gaussian uses 6D with pure "
                "7F there, which PySCF cannot mix. Set cartesian explicitly (true or false) to accept "
                "the difference."
            )
