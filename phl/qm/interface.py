"""One interface for every reference method: the engines of :mod:`phl.qm.engine` (ωB97X-D and
other functionals, PySCF/gpu4pyscf) and :mod:`phl.qm.xtb` (GFN2-xTB, tblite).

An engine takes ASE ``Atoms`` and returns a :class:`ReferenceResult` in storage units (Eh, Å,
Eh/Å, Eh/Å²); :meth:`Engine.record` turns a result into the label record that every output
stores (the method block and the provenance block). Callers build engines with
:func:`make_engine` and never ask which method they hold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from ase import Atoms
from numpy.typing import NDArray

from phl.errors import InputError

if TYPE_CHECKING:
    from phl.qm.method import Method

UNITS = {
    "energy": "Eh",
    "forces": "Eh/Angstrom",
    "hessian": "Eh/Angstrom^2",
    "hvps": "Eh/Angstrom^2",
    "positions": "Angstrom",
}


@dataclass
class SCFInfo:
    converged: bool
    strategy: str
    cycles: int
    energy_electronic: float


@dataclass
class ReferenceResult:
    """Everything one reference calculation produced, in storage units."""

    symbols: list[str]
    positions: NDArray[np.float64]
    energy: float
    dispersion_energy: float
    forces: NDArray[np.float64] | None = None
    hessian: NDArray[np.float64] | None = None
    probes: NDArray[np.float64] | None = None
    hvps: NDArray[np.float64] | None = None
    hessian_mode: str | None = None
    scf: SCFInfo | None = None
    timings: dict[str, float] = field(default_factory=dict)
    #: what the next calculation at nearby positions restarts from (a density matrix, NumPy or
    #: CuPy, for DFT; the tblite wavefunction for GFN2-xTB)
    density: Any = field(default=None, repr=False)

    def to_dict(self, method: dict[str, Any], provenance: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "symbols": list(self.symbols),
            "positions": self.positions.tolist(),
            "energy": self.energy,
            "dispersion_energy": self.dispersion_energy,
            "units": dict(UNITS),
        }
        for key in ("forces", "hessian", "probes", "hvps"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value.tolist()
        out["method"] = method
        out["provenance"] = provenance
        return out


class Engine(Protocol):
    """What every reference engine provides."""

    method: Method
    backend: str  # "cpu" or "gpu"
    hessian_mode: str  # "analytic" or "fd"

    def check(self, atoms: Atoms, where: str = "geometry") -> None:
        """Refuse a geometry this method cannot compute (elements, charge/multiplicity, ...)."""

    def compute(
        self,
        atoms: Atoms,
        forces: bool = True,
        hessian: bool = False,
        probes: NDArray[np.float64] | None = None,
        dm0: Any = None,
        where: str = "geometry",
    ) -> ReferenceResult:
        """Energy and, as asked, forces, Hessian and reference HVPs along ``probes`` (K, N, 3);
        ``dm0`` is a previous result's ``density`` to restart from."""

    def record(self, result: ReferenceResult) -> dict[str, Any]:
        """The label record of ``result``: arrays, units, ``method`` and ``provenance``."""


def make_engine(method: Method | None = None, progress: bool = False) -> Engine:
    """The engine of ``method.method`` (``wb97x-d``: PySCF/gpu4pyscf; ``gfn2-xtb``: tblite)."""
    from phl.qm.method import Method

    method = method or Method()
    if method.method == "gfn2-xtb":
        from phl.qm.xtb import XTBEngine

        return XTBEngine(method, progress=progress)
    from phl.qm.engine import ReferenceEngine

    return ReferenceEngine(method, progress=progress)


def checked_probes(probes: Any, n_atoms: int) -> NDArray[np.float64] | None:
    """Probes as float64 (K, N, 3), each finite and non-zero, or None."""
    if probes is None:
        return None
    probes = np.asarray(probes, dtype=np.float64)
    if probes.ndim != 3 or probes.shape[1:] != (n_atoms, 3):
        raise InputError(f"probes must have shape (K, {n_atoms}, 3), got {probes.shape}")
    if not np.all(np.isfinite(probes)) or np.any(np.linalg.norm(probes.reshape(len(probes), -1), axis=1) == 0):
        raise InputError("probes must be finite and non-zero")
    return probes


def progress(iterable, enabled: bool, label: str):
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=label, unit="step", leave=False)
