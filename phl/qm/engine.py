"""Reference engine: ωB97X-D energies, forces, Hessians and Hessian-free HVPs with PySCF/gpu4pyscf.

Electronic parts come from PySCF (CPU) or gpu4pyscf (GPU, through ``to_gpu()``), the
Chai–Head-Gordon dispersion from :mod:`phl.qm.dispersion`, added to every quantity.

Units out: energies Eh, forces Eh/Å, Hessians and HVPs Eh/Å² (docs/data.md).

SCF: tight DIIS from the given density (or PySCF's default guess); if it does not converge in
``max_cycle`` iterations, a second attempt with a level shift restarts from the last density, then
a third with the second-order (Newton) solver. Only then :class:`SCFConvergenceError`.

Reference HVPs without a Hessian: ``H v ≈ |v| [g(R + h v̂) − g(R − h v̂)] / (2h)`` with v̂ = v/|v|
and h = ``method.fd_step`` (default 1e-3 Å, so the displacement is the same whatever the probe's
norm); each displaced SCF restarts from the converged density at R. Cost: two gradients per probe.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
from ase import Atoms
from numpy.typing import NDArray

from phl.checks import check_charge_multiplicity, validate_atoms
from phl.errors import InputError, SCFConvergenceError
from phl.provenance import provenance
from phl.qm.backend import gpu_scf, resolve_backend, resolve_hessian_mode
from phl.qm.basis import check_basis_for_molecule, load_basis
from phl.qm.dispersion import check_elements, chg_dispersion
from phl.qm.interface import ReferenceResult, SCFInfo, checked_probes, progress
from phl.qm.method import Method
from phl.units import BOHR

log = logging.getLogger(__name__)


def _to_numpy(x: Any) -> NDArray[np.float64]:
    """Host copy of a NumPy or CuPy array."""
    return np.asarray(x.get() if hasattr(x, "get") else x, dtype=np.float64)


def _threads() -> int:
    from pyscf import lib

    return int(lib.num_threads())


class ReferenceEngine:
    """Runs the reference method on ASE ``Atoms``. One engine serves many geometries."""

    def __init__(self, method: Method | None = None, progress: bool = False) -> None:
        self.method = method or Method()
        if self.method.method != "wb97x-d":
            raise InputError(
                f"ReferenceEngine runs DFT; method {self.method.method!r} has its own engine (make_engine)"
            )
        self.backend = resolve_backend(self.method.backend)
        self.hessian_mode = resolve_hessian_mode(self.method.hessian_mode, self.backend)
        self.progress = progress

    def record(self, result: ReferenceResult) -> dict[str, Any]:
        """The label record of ``result`` (method block and provenance: versions, backend, grid, ...)."""
        m = self.method
        prov = provenance(
            extra_packages=("gpu4pyscf",) if self.backend == "gpu" else (),
            backend=self.backend,
            hessian_mode=result.hessian_mode,
            hessian_grid_response=(result.hessian_mode == "fd" and m.grid_response)
            or (result.hessian_mode == "analytic" and self.backend == "gpu"),
            grid=list(m.grid),
            tolerances={"scf_energy": m.conv_tol, "scf_gradient": m.conv_tol_grad, "cphf": m.conv_tol_cphf},
            fd_step_angstrom=m.fd_step,
            scf=vars(result.scf) if result.scf else None,
            wall_seconds=result.timings,
            threads=_threads(),
        )
        return result.to_dict(m.to_dict(), prov)

    # ----------------------------------------------------------------------------------------
    # building blocks
    def check(self, atoms: Atoms, where: str = "geometry") -> None:
        """Validate a geometry for this method (elements, overlaps, charge/multiplicity, basis)."""
        validate_atoms(atoms, where)
        m = self.method
        check_charge_multiplicity(atoms, m.charge, m.multiplicity, where)
        if m.dispersion:
            check_elements(atoms.get_chemical_symbols())
        basis = load_basis(m.basis, atoms.get_chemical_symbols())
        if m.cartesian is None:
            check_basis_for_molecule(m.basis, basis, m.use_cartesian)

    def build_mol(self, symbols: list[str], positions: NDArray[np.float64]):
        from pyscf import gto

        m = self.method
        mol = gto.Mole()
        mol.atom = [(s, tuple(p)) for s, p in zip(symbols, positions)]
        mol.unit = "Angstrom"
        mol.basis = load_basis(m.basis, symbols)
        mol.cart = m.use_cartesian
        mol.charge = m.charge
        mol.spin = m.multiplicity - 1
        mol.verbose = 0
        mol.max_memory = m.max_memory_mb
        try:
            mol.build()
        except RuntimeError as exc:
            raise InputError(f"cannot build the molecule: {exc}") from None
        return mol

    def _new_scf(self, mol):
        from pyscf import dft, scf

        m = self.method
        if m.xc == "HF":
            mf = scf.UHF(mol) if m.unrestricted else scf.RHF(mol)
        else:
            mf = dft.UKS(mol, xc=m.xc) if m.unrestricted else dft.RKS(mol, xc=m.xc)
            mf.grids.atom_grid = m.grid
        mf.conv_tol = m.conv_tol
        mf.conv_tol_grad = m.conv_tol_grad
        mf.conv_tol_cpscf = m.conv_tol_cphf
        mf.max_cycle = m.max_cycle
        mf.max_memory = m.max_memory_mb
        mf.verbose = 0
        if self.backend == "gpu":
            mf = gpu_scf(mf)
        return mf

    def run_scf(self, symbols: list[str], positions: NDArray[np.float64], dm0: Any = None):
        """Converged SCF object at these positions (Å), with the documented fallbacks."""
        mf = self._new_scf(self.build_mol(symbols, positions))
        cycles = 0

        def attempt(obj, dm):
            nonlocal cycles
            counter = {"n": 0}
            obj.callback = lambda env: counter.__setitem__("n", counter["n"] + 1)
            obj.kernel(dm0=dm)
            cycles += counter["n"]
            return obj.converged

        strategy = "diis"
        ok = attempt(mf, dm0)
        if not ok:
            log.warning(
                "SCF not converged in %d cycles; retrying with level shift %.2f",
                self.method.max_cycle,
                self.method.level_shift,
            )
            strategy = "level_shift"
            mf.level_shift = self.method.level_shift
            ok = attempt(mf, mf.make_rdm1())
            mf.level_shift = 0.0
        if not ok:
            log.warning("SCF not converged with level shift; retrying with the second-order solver")
            strategy = "newton"
            newton = mf.newton()
            ok = attempt(newton, mf.make_rdm1())
            if ok:
                for attr in ("mo_coeff", "mo_occ", "mo_energy", "e_tot", "converged"):
                    setattr(mf, attr, getattr(newton, attr))
        if not ok:
            raise SCFConvergenceError(
                f"SCF did not converge to {self.method.conv_tol:g} Eh after {cycles} cycles with "
                "DIIS, level shift and the second-order solver"
            )
        mf.scf_info = SCFInfo(True, strategy, cycles, float(mf.e_tot))
        return mf

    def electronic_gradient(self, mf) -> NDArray[np.float64]:
        """Analytic gradient of the electronic (DFT) energy, Eh/Å, shape (N, 3)."""
        g = mf.nuc_grad_method()
        g.grid_response = self.method.grid_response
        g.verbose = 0
        return _to_numpy(g.kernel()) / BOHR

    def _gradient_at(self, symbols, positions, dm0) -> tuple[NDArray[np.float64], Any]:
        """Electronic gradient (Eh/Å) and converged density at displaced ``positions``."""
        mf = self.run_scf(symbols, positions, dm0)
        return self.electronic_gradient(mf), mf.make_rdm1()

    def analytic_hessian(self, mf) -> NDArray[np.float64]:
        """Analytic electronic Hessian, Eh/Å², (3N, 3N). On CPU PySCF omits the grid response."""
        h = mf.Hessian()
        if self.backend == "gpu" and hasattr(h, "grid_response"):
            h.grid_response = True
        h.verbose = 0
        n = mf.mol.natm
        de = _to_numpy(h.kernel())  # (N, N, 3, 3) in Eh/bohr^2
        return de.transpose(0, 2, 1, 3).reshape(3 * n, 3 * n) / BOHR**2

    def fd_directional_derivatives(
        self,
        symbols: list[str],
        positions: NDArray[np.float64],
        dm0: Any,
        directions: NDArray[np.float64],
        label: str,
    ) -> NDArray[np.float64]:
        """Central differences of the electronic gradient along unit ``directions`` (K, N, 3):
        returns (K, N, 3) in Eh/Å².

        The SCF at R + h d starts from ``dm0`` (converged at R); the SCF at R − h d starts from
        the linear extrapolation 2 dm(R) − dm(R + h d), correct to O(h²), which saves about half
        of its iterations."""
        h = self.method.fd_step
        out = np.empty_like(directions)
        for k in progress(range(len(directions)), self.progress, label):
            step = h * directions[k]
            gp, dm_plus = self._gradient_at(symbols, positions + step, dm0)
            gm, _ = self._gradient_at(symbols, positions - step, 2.0 * dm0 - dm_plus)
            out[k] = (gp - gm) / (2.0 * h)
        return out

    def fd_hessian(self, symbols, positions, dm0) -> NDArray[np.float64]:
        """Electronic Hessian from 6N displaced gradients (with grid response), symmetrised."""
        n = len(symbols)
        unit = np.eye(3 * n).reshape(3 * n, n, 3)
        cols = self.fd_directional_derivatives(symbols, positions, dm0, unit, "FD Hessian").reshape(3 * n, 3 * n)
        return 0.5 * (cols + cols.T)

    # ----------------------------------------------------------------------------------------
    def compute(
        self,
        atoms: Atoms,
        forces: bool = True,
        hessian: bool = False,
        probes: NDArray[np.float64] | None = None,
        dm0: Any = None,
        where: str = "geometry",
    ) -> ReferenceResult:
        """Energy and, as asked, forces, Hessian and reference HVPs along ``probes`` (K, N, 3)."""
        self.check(atoms, where)
        symbols = atoms.get_chemical_symbols()
        pos = atoms.get_positions().astype(np.float64)
        n = len(symbols)
        probes = checked_probes(probes, n)
        timings: dict[str, float] = {}

        t0 = time.perf_counter()
        mf = self.run_scf(symbols, pos, dm0)
        timings["scf"] = time.perf_counter() - t0
        disp = chg_dispersion(symbols, pos, hessian=hessian or probes is not None) if self.method.dispersion else None
        e_disp = disp.energy if disp else 0.0
        result = ReferenceResult(
            symbols=symbols,
            positions=pos,
            energy=float(mf.e_tot) + e_disp,
            dispersion_energy=e_disp,
            scf=mf.scf_info,
            timings=timings,
        )
        dm = result.density = mf.make_rdm1()

        if forces:
            t0 = time.perf_counter()
            grad = self.electronic_gradient(mf) + (disp.gradient if disp else 0.0)
            result.forces = -grad
            timings["gradient"] = time.perf_counter() - t0

        if hessian:
            t0 = time.perf_counter()
            if self.hessian_mode == "analytic":
                h = self.analytic_hessian(mf)
                h = 0.5 * (h + h.T)
            else:
                h = self.fd_hessian(symbols, pos, dm)
            result.hessian = h + (disp.hessian if disp else 0.0)
            result.hessian_mode = self.hessian_mode
            timings["hessian"] = time.perf_counter() - t0

        if probes is not None:
            t0 = time.perf_counter()
            norms = np.linalg.norm(probes.reshape(len(probes), -1), axis=1)
            unit = probes / norms[:, None, None]
            hv = self.fd_directional_derivatives(symbols, pos, dm, unit, "FD HVP")
            hv *= norms[:, None, None]
            if disp:
                hv += (disp.hessian @ probes.reshape(len(probes), -1).T).T.reshape(probes.shape)
            result.probes, result.hvps = probes, hv
            timings["hvp"] = time.perf_counter() - t0
        return result
