"""The reference method: level of theory, numerical settings and compute backend, validated once.

Defaults reproduce Gaussian 16 ``wB97XD/6-31G(d)`` with its UltraFine grid and tight SCF
(DESIGN.md §1). Every field is recorded in each output's ``method`` block.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from phl.errors import InputError
from phl.options import check_known_keys
from phl.qm.basis import gaussian_uses_cartesian_d, normalise_basis_name

Backend = Literal["auto", "cpu", "gpu"]
HessianMode = Literal["auto", "analytic", "fd"]

#: Functionals phl knows: name -> (libxc/PySCF xc string, dispersion correction or None).
#: ``wb97x-d`` is libxc HYB_GGA_XC_WB97X_D (ω = 0.2, 22.2036 % short-range HF) plus the
#: Chai–Head-Gordon dispersion that PySCF omits. Other names run without dispersion.
FUNCTIONALS: dict[str, tuple[str, str | None]] = {
    "wb97x-d": ("HYB_GGA_XC_WB97X_D", "chg"),
    "wb97xd": ("HYB_GGA_XC_WB97X_D", "chg"),
    "b3lyp": ("B3LYP", None),
    "pbe": ("PBE", None),
    "pbe0": ("PBE0", None),
    "hf": ("HF", None),
}


@dataclass(frozen=True)
class Method:
    """Level of theory and numerical settings of a reference calculation.

    Attributes:
        functional: ``wB97X-D`` (default; dispersion included) or another name of ``FUNCTIONALS``.
        basis: Gaussian-style name (``6-31G(d)``, ``6-31+G(d,p)``, ``3-21G``, ``def2-TZVP``, ...).
        cartesian: Cartesian (6D) d functions; ``None`` takes Gaussian's default for the basis.
        charge, multiplicity: total charge and spin multiplicity 2S+1 (UKS when > 1).
        grid: (radial, angular) points per atom; (99, 590) is Gaussian's UltraFine.
        conv_tol: SCF energy convergence (Eh). conv_tol_grad: SCF orbital-gradient convergence
            (tight, so that finite differences of gradients are not dominated by SCF noise).
        conv_tol_cphf: CPHF tolerance (analytic Hessian).
        max_cycle: SCF iterations per attempt (plain DIIS, then level shift, then second order).
        level_shift: level shift (Eh) of the second SCF attempt.
        backend: ``auto`` (GPU when CUDA and gpu4pyscf are present), ``cpu`` or ``gpu``.
        hessian_mode: ``fd`` builds the Hessian from 6N displaced analytic gradients with the XC
            grid response (matches Gaussian; parallel over displacements), ``analytic`` uses the
            analytic Hessian (on CPU PySCF omits the grid response: faster, errors up to ~20
            cm^-1 on soft modes), ``auto`` picks ``analytic`` on GPU (gpu4pyscf includes the grid
            response) and ``fd`` on CPU.
        fd_step: displacement (Å) of central differences for the ``fd`` Hessian and reference HVPs.
        grid_response: include the XC grid-weight derivatives in gradients (needed for gradients
            that are exact derivatives of the energy and for Gaussian-exact FD Hessians).
        max_memory_mb: memory PySCF may use.
    """

    functional: str = "wB97X-D"
    basis: str = "6-31G(d)"
    cartesian: bool | None = None
    charge: int = 0
    multiplicity: int = 1
    grid: tuple[int, int] = (99, 590)
    conv_tol: float = 1e-10
    conv_tol_grad: float = 1e-7
    conv_tol_cphf: float = 1e-8
    max_cycle: int = 100
    level_shift: float = 0.25
    backend: Backend = "auto"
    hessian_mode: HessianMode = "auto"
    fd_step: float = 1e-3
    grid_response: bool = True
    max_memory_mb: int = 4000

    def __post_init__(self) -> None:
        if self.functional.lower() not in FUNCTIONALS:
            raise InputError(
                f"unknown functional {self.functional!r}; known: {', '.join(sorted(FUNCTIONALS))}"
            )
        normalise_basis_name(self.basis)
        if int(self.multiplicity) != self.multiplicity or self.multiplicity < 1:
            raise InputError(f"multiplicity must be a positive integer, got {self.multiplicity!r}")
        if int(self.charge) != self.charge:
            raise InputError(f"charge must be an integer, got {self.charge!r}")
        if len(self.grid) != 2 or min(self.grid) < 1:
            raise InputError(f"grid must be (radial, angular) positive integers, got {self.grid!r}")
        object.__setattr__(self, "grid", (int(self.grid[0]), int(self.grid[1])))
        for name in ("conv_tol", "conv_tol_grad", "conv_tol_cphf", "fd_step"):
            if not getattr(self, name) > 0:
                raise InputError(f"{name} must be positive, got {getattr(self, name)!r}")
        if self.max_cycle < 1:
            raise InputError(f"max_cycle must be at least 1, got {self.max_cycle!r}")
        if self.backend not in ("auto", "cpu", "gpu"):
            raise InputError(f"backend must be auto, cpu or gpu, got {self.backend!r}")
        if self.hessian_mode not in ("auto", "analytic", "fd"):
            raise InputError(f"hessian_mode must be auto, analytic or fd, got {self.hessian_mode!r}")

    @property
    def xc(self) -> str:
        return FUNCTIONALS[self.functional.lower()][0]

    @property
    def dispersion(self) -> str | None:
        return FUNCTIONALS[self.functional.lower()][1]

    @property
    def use_cartesian(self) -> bool:
        return gaussian_uses_cartesian_d(self.basis) if self.cartesian is None else self.cartesian

    @property
    def unrestricted(self) -> bool:
        return self.multiplicity > 1

    def with_(self, **changes: Any) -> "Method":
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["grid"] = list(self.grid)
        d.update(xc=self.xc, dispersion=self.dispersion, cartesian_used=self.use_cartesian)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Method":
        """Build from a configuration mapping, naming any key that is not a field."""
        check_known_keys(cls, data, "method")
        data = dict(data)
        if "grid" in data:
            data["grid"] = tuple(data["grid"])
        return cls(**data)
