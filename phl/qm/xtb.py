"""GFN2-xTB reference engine (tblite): energies, forces, Hessians and Hessian-free HVPs.

The cheap physical reference tier beside ωB97X-D: the same :class:`~phl.qm.interface.Engine`
interface, the same result and record layout, so labels, shards, data sets, Sella TS/IRC and
normal-mode sampling run unchanged on it. Units out: Eh, Å, Eh/Å, Eh/Å².

- Energy and analytic gradient: tblite's ``GFN2-xTB`` (Bannwarth, Ehlert, Grimme 2019), SCC
  accuracy ``method.xtb_accuracy`` (default 0.01, tighter than tblite's 1.0, so that finite
  differences of gradients are not limited by SCC noise), electronic temperature
  ``method.xtb_temperature``.
- Hessian: central differences of analytic gradients, ``(g(R + h e_i) − g(R − h e_i)) / 2h``
  over the 3N Cartesian directions, h = ``method.fd_step`` (1e-3 Å), symmetrised. Each displaced
  SCC restarts from the wavefunction at R. Measured (butane, 14 atoms, accuracy 0.01): the
  1e-3 Å Hessian differs from the 2.5e-3 Å one by at most 3e-5 Eh/Å² (largest element 1.9 Eh/Å²),
  its asymmetry before symmetrisation is 2e-5 Eh/Å²; one Hessian takes ~0.1 s on one core.
- Reference HVPs: ``H v ≈ |v| (g(R + h v̂) − g(R − h v̂)) / 2h``, two gradients per probe.

tblite has no GPU code path and no analytic Hessian: ``backend: gpu`` and ``hessian_mode:
analytic`` are refused (:class:`~phl.qm.method.Method`), never silently replaced.
"""

from __future__ import annotations

import time
from importlib import metadata
from typing import Any

import numpy as np
from ase import Atoms
from numpy.typing import NDArray

from phl.checks import check_charge_multiplicity, validate_atoms
from phl.errors import InputError, SCFConvergenceError
from phl.provenance import provenance
from phl.qm.interface import ReferenceResult, SCFInfo, checked_probes, progress
from phl.qm.method import Method
from phl.units import BOHR

#: Boltzmann constant in Eh/K (tblite takes the electronic temperature in Eh)
KB_HARTREE_PER_K = 3.166808578545117e-6
#: Elements GFN2-xTB is parametrised for (H to Rn)
MAX_Z = 86


def tblite_version() -> str | None:
    try:
        return metadata.version("tblite")
    except metadata.PackageNotFoundError:
        return None


def _require_tblite():
    try:
        from tblite import interface
    except ImportError:
        raise InputError(
            "method gfn2-xtb needs tblite, which is not installed: pip install -e '.[xtb]' (or conda install -c "
            "conda-forge tblite-python)"
        ) from None
    return interface


class XTBEngine:
    """GFN2-xTB through tblite on ASE ``Atoms``. One engine serves many geometries."""

    backend = "cpu"
    hessian_mode = "fd"

    def __init__(self, method: Method | None = None, progress: bool = False) -> None:
        self.method = method or Method(method="gfn2-xtb")
        if not self.method.is_xtb:
            raise InputError(f"XTBEngine runs GFN2-xTB, not {self.method.method!r} (make_engine picks the engine)")
        self._tblite = _require_tblite()
        self.progress = progress

    def check(self, atoms: Atoms, where: str = "geometry") -> None:
        validate_atoms(atoms, where)
        check_charge_multiplicity(atoms, self.method.charge, self.method.multiplicity, where)
        beyond = sorted({s for s, z in zip(atoms.get_chemical_symbols(), atoms.numbers) if z > MAX_Z})
        if beyond:
            raise InputError(f"{where}: GFN2-xTB has no parameters for {', '.join(beyond)} (H to Rn only)")

    def record(self, result: ReferenceResult) -> dict[str, Any]:
        prov = provenance(
            extra_packages=("tblite",),
            backend=self.backend,
            hessian_mode=result.hessian_mode,
            fd_step_angstrom=self.method.fd_step,
            scf=vars(result.scf) if result.scf else None,
            wall_seconds=result.timings,
        )
        return result.to_dict(self.method.to_dict(), prov)

    # ----------------------------------------------------------------------------------------
    def _calculator(self, numbers: NDArray[np.int64], positions: NDArray[np.float64]):
        m = self.method
        calc = self._tblite.Calculator(
            "GFN2-xTB", numbers, positions / BOHR, charge=float(m.charge), uhf=int(m.multiplicity - 1)
        )
        calc.set("verbosity", 0)
        calc.set("accuracy", float(m.xtb_accuracy))
        calc.set("max-iter", int(m.max_cycle))
        calc.set("temperature", float(m.xtb_temperature) * KB_HARTREE_PER_K)
        return calc

    def singlepoint(self, numbers, positions, restart: Any = None) -> tuple[float, NDArray[np.float64], Any]:
        """Energy (Eh), gradient (Eh/Å, (N, 3)) and the tblite result to restart from.

        SCC attempts, as for DFT: from ``restart`` (the wavefunction at nearby positions) when
        given, then from tblite's own guess, then from its guess with ``FALLBACK_ITERATIONS``
        iterations and half the mixer damping. The converged state is the same; only the path to
        it differs. Then :class:`SCFConvergenceError`."""
        return self.singlepoint_info(numbers, positions, restart)[:3]

    #: SCC iterations of the last attempt
    FALLBACK_ITERATIONS = 500

    def singlepoint_info(self, numbers, positions, restart: Any = None):
        attempts = [("restart", restart, None)] if restart is not None else []
        attempts += [("guess", None, None), ("guess-damped", None, self.FALLBACK_ITERATIONS)]
        errors = []
        for strategy, start, iterations in attempts:
            calc = self._calculator(numbers, positions)
            if iterations:
                calc.set("max-iter", iterations)
                calc.set("mixer-damping", 0.2)
            try:
                res = calc.singlepoint(start) if start is not None else calc.singlepoint()
            except RuntimeError as exc:  # tblite raises on an SCC that does not converge
                errors.append(f"{strategy}: {' '.join(str(exc).split())}")
                continue
            energy = float(res.get("energy"))
            return energy, np.asarray(res.get("gradient"), dtype=np.float64) / BOHR, res, strategy
        raise SCFConvergenceError(f"GFN2-xTB SCC failed ({'; '.join(errors)})")

    def fd_directional_derivatives(
        self, numbers, positions, restart: Any, directions: NDArray[np.float64], label: str
    ) -> NDArray[np.float64]:
        """Central differences of the gradient along unit ``directions`` (K, N, 3) → (K, N, 3), Eh/Å²."""
        h = self.method.fd_step
        out = np.empty_like(directions)
        for k in progress(range(len(directions)), self.progress, label):
            _, gp, _ = self.singlepoint(numbers, positions + h * directions[k], restart)
            _, gm, _ = self.singlepoint(numbers, positions - h * directions[k], restart)
            out[k] = (gp - gm) / (2.0 * h)
        return out

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
        ``dm0`` is a previous result's ``density`` (tblite wavefunction) to restart from."""
        self.check(atoms, where)
        symbols = atoms.get_chemical_symbols()
        numbers = np.asarray(atoms.numbers, dtype=np.int64)
        pos = atoms.get_positions().astype(np.float64)
        probes = checked_probes(probes, len(symbols))
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        energy, grad, res, strategy = self.singlepoint_info(numbers, pos, dm0)
        timings["scf"] = time.perf_counter() - t0
        result = ReferenceResult(
            symbols=symbols,
            positions=pos,
            energy=energy,
            dispersion_energy=0.0,  # D4 is part of GFN2-xTB's energy, not reported apart
            scf=SCFInfo(True, strategy, -1, energy),  # tblite does not report its iteration count
            timings=timings,
            density=res,
        )
        if forces:
            result.forces = -grad
        if hessian:
            t0 = time.perf_counter()
            n = len(symbols)
            unit = np.eye(3 * n).reshape(3 * n, n, 3)
            cols = self.fd_directional_derivatives(numbers, pos, res, unit, "FD Hessian").reshape(3 * n, 3 * n)
            result.hessian = 0.5 * (cols + cols.T)
            result.hessian_mode = self.hessian_mode
            timings["hessian"] = time.perf_counter() - t0
        if probes is not None:
            t0 = time.perf_counter()
            norms = np.linalg.norm(probes.reshape(len(probes), -1), axis=1)
            hv = self.fd_directional_derivatives(numbers, pos, res, probes / norms[:, None, None], "FD HVP")
            result.probes, result.hvps = probes, hv * norms[:, None, None]
            timings["hvp"] = time.perf_counter() - t0
        return result
