"""The reference method: level of theory, numerical settings and compute backend, validated once.

Two methods, each with its engine (:func:`phl.qm.interface.make_engine`):

- ``wb97x-d`` (default): DFT with PySCF/gpu4pyscf. Defaults reproduce Gaussian 16
  ``wB97XD/6-31G(d)`` with its UltraFine grid and tight SCF (docs/method.md).
- ``gfn2-xtb``: GFN2-xTB tight binding with tblite (docs/method.md, "GFN2-xTB"); the DFT fields
  (functional, basis, grid, SCF tolerances, ...) do not apply to it and are not recorded.

Every field that applies is recorded in each output's ``method`` block, with the method's name.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar, Literal

from phl.errors import InputError
from phl.qm.basis import gaussian_uses_cartesian_d, normalise_basis_name
from phl.settings import Settings, setting

#: the hottest electronic temperature (K) accepted for GFN2-xTB (xtb's own manual uses up to a few
#: thousand K for hard cases)
XTB_MAX_TEMPERATURE = 5000.0
#: tblite's (and phl's) default electronic temperature (K)
XTB_DEFAULT_TEMPERATURE = 300.0

ReferenceMethodName = Literal["wb97x-d", "gfn2-xtb"]
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


#: How tables and titles spell each functional.
FUNCTIONALS_DISPLAY = {
    "wb97x-d": "wB97X-D",
    "wb97xd": "wB97X-D",
    "b3lyp": "B3LYP",
    "pbe": "PBE",
    "pbe0": "PBE0",
    "hf": "HF",
}


def lebedev_orders() -> tuple[int, ...]:
    """Angular point counts of the Lebedev grids PySCF implements (590 is Gaussian's UltraFine)."""
    from pyscf.dft import gen_grid

    return tuple(int(n) for n in gen_grid.LEBEDEV_NGRID if n > 1)


def parse_grid(text: str) -> tuple[int, int]:
    """``RADIAL,ANGULAR`` (or ``RADIALxANGULAR``) points per atom."""
    try:
        radial, angular = (int(v) for v in str(text).replace("x", ",").split(","))
    except ValueError:
        raise ValueError(f"grid must be RADIAL,ANGULAR (e.g. 99,590), got {text!r}") from None
    return radial, angular


def parse_cartesian(text: str) -> bool | None:
    table = {"auto": None, "yes": True, "true": True, "no": False, "false": False}
    if str(text).lower() not in table:
        raise ValueError(f"cartesian must be auto, yes or no, got {text!r}")
    return table[str(text).lower()]


def format_cartesian(value: bool | None) -> str:
    return {None: "auto", True: "yes", False: "no"}[value]


@dataclass(frozen=True)
class Method(Settings):
    """Level of theory and numerical settings of a reference calculation (every field is an
    option of ``phl compute``/``optimize``/``reaction`` and a key of the workflow's ``reference``
    section)."""

    what: ClassVar[str] = "method"

    method: ReferenceMethodName = setting(
        "wb97x-d",
        "reference method: wb97x-d (DFT with PySCF/gpu4pyscf; the functional option picks the functional) "
        "or gfn2-xtb (GFN2-xTB tight binding with tblite; the DFT options do not apply)",
    )
    functional: str = setting(
        "wB97X-D", "functional, dispersion included for wB97X-D; known: " + ", ".join(FUNCTIONALS)
    )
    basis: str = setting("6-31G(d)", "Gaussian-style basis name, e.g. 6-31G(d), 6-31+G(d,p), 3-21G, def2-TZVP")
    cartesian: bool | None = setting(
        None,
        "Cartesian (6D) d functions: auto takes Gaussian's default for the basis",
        parse=parse_cartesian,
        format=format_cartesian,
    )
    charge: int = setting(0, "total charge")
    multiplicity: int = setting(1, "spin multiplicity 2S+1; UKS when > 1")
    grid: tuple[int, int] = setting(
        (99, 590), "RADIAL,ANGULAR points per atom; 99,590 is Gaussian's UltraFine", parse=parse_grid
    )
    conv_tol: float = setting(1e-10, "SCF energy convergence (Eh)")
    conv_tol_grad: float = setting(1e-7, "SCF orbital-gradient convergence (tight for finite differences)")
    conv_tol_cphf: float = setting(1e-8, "CPHF tolerance of the analytic Hessian")
    max_cycle: int = setting(100, "SCF iterations per attempt (DIIS, then level shift, then second order)")
    level_shift: float = setting(0.25, "level shift (Eh) of the second SCF attempt")
    backend: Backend = setting("auto", "auto: gpu4pyscf when CUDA and gpu4pyscf are present, else PySCF on CPU")
    hessian_mode: HessianMode = setting(
        "auto",
        "fd: 6N displaced gradients with grid response (Gaussian-exact); "
        "analytic: without grid response on CPU; auto: analytic on GPU, fd on CPU",
    )
    fd_step: float = setting(1e-3, "finite-difference step (Å) of FD Hessians and reference HVPs")
    grid_response: bool = setting(True, "XC grid-weight derivatives in gradients (exact derivatives of the energy)")
    max_memory_mb: int = setting(4000, "memory PySCF may use (MB)")
    xtb_accuracy: float = setting(
        0.01, "GFN2-xTB: tblite SCC accuracy (smaller is tighter; 0.01 keeps FD Hessians within ~3e-5 Eh/Å²)"
    )
    xtb_temperature: float = setting(
        XTB_DEFAULT_TEMPERATURE, "GFN2-xTB: electronic temperature (K) of the Fermi smearing"
    )

    #: the fields each method uses; the others are refused when given (:meth:`from_dict`) and not recorded
    XTB_FIELDS: ClassVar[tuple[str, ...]] = (
        "method", "charge", "multiplicity", "max_cycle", "backend", "hessian_mode", "fd_step",
        "xtb_accuracy", "xtb_temperature",
    )  # fmt: skip
    #: the fields only GFN2-xTB uses
    XTB_ONLY: ClassVar[tuple[str, ...]] = ("xtb_accuracy", "xtb_temperature")

    def __post_init__(self) -> None:
        if self.functional.lower() not in FUNCTIONALS:
            raise InputError(f"unknown functional {self.functional!r}; known: {', '.join(sorted(FUNCTIONALS))}")
        normalise_basis_name(self.basis)
        if int(self.multiplicity) != self.multiplicity or self.multiplicity < 1:
            raise InputError(f"multiplicity must be a positive integer, got {self.multiplicity!r}")
        if int(self.charge) != self.charge:
            raise InputError(f"charge must be an integer, got {self.charge!r}")
        if len(self.grid) != 2 or min(self.grid) < 1:
            raise InputError(f"grid must be (radial, angular) positive integers, got {self.grid!r}")
        object.__setattr__(self, "grid", (int(self.grid[0]), int(self.grid[1])))
        if self.grid[1] not in lebedev_orders():
            raise InputError(
                f"grid: {self.grid[1]} angular points is no Lebedev grid PySCF has (PySCF would silently use "
                f"another); choose one of {', '.join(map(str, lebedev_orders()))}"
            )
        if self.max_memory_mb < 1:
            raise InputError(f"max_memory_mb must be at least 1, got {self.max_memory_mb}")
        if not 1 <= self.max_cycle <= MAX_CYCLE:
            raise InputError(f"max_cycle must be at least 1 and at most {MAX_CYCLE}, got {self.max_cycle!r}")
        if self.backend not in ("auto", "cpu", "gpu"):
            raise InputError(f"backend must be auto, cpu or gpu, got {self.backend!r}")
        if self.hessian_mode not in ("auto", "analytic", "fd"):
            raise InputError(f"hessian_mode must be auto, analytic or fd, got {self.hessian_mode!r}")
        if self.method not in ("wb97x-d", "gfn2-xtb"):
            raise InputError(f"method must be wb97x-d or gfn2-xtb, got {self.method!r}")
        for name, (low, high, unit, why) in RANGES.items():
            value = getattr(self, name)
            if not low <= value <= high:  # nan and inf fail too
                sign = "positive, " if low > 0 and not value > 0 else ""
                raise InputError(f"{name} must be {sign}in [{low:g}, {high:g}]{unit}, got {value!r}: {why}")
        if self.is_xtb and self.hessian_mode == "analytic":
            raise InputError(
                "hessian_mode analytic: tblite has no analytic GFN2-xTB Hessian; use fd (central differences "
                "of analytic gradients) or auto"
            )
        if self.is_xtb and self.backend == "gpu":
            raise InputError("backend gpu: GFN2-xTB runs on the CPU (tblite); use auto or cpu")

    @classmethod
    def fields_of(cls, method: str) -> tuple[str, ...]:
        """The fields that ``method`` uses."""
        if method == "gfn2-xtb":
            return cls.XTB_FIELDS
        return tuple(f.name for f in fields(cls) if f.name not in cls.XTB_ONLY)

    @property
    def is_xtb(self) -> bool:
        return self.method == "gfn2-xtb"

    @property
    def level_of_theory(self) -> str:
        """Short name of the level of theory, as tables, figures and data sets name it."""
        if self.is_xtb:  # the Fermi smearing changes the energy surface: a hotter one is another level
            hot = self.xtb_temperature != XTB_DEFAULT_TEMPERATURE
            return f"GFN2-xTB (electronic temperature {self.xtb_temperature:g} K)" if hot else "GFN2-xTB"
        return f"{FUNCTIONALS_DISPLAY.get(self.functional.lower(), self.functional)}/{self.basis}"

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

    def with_(self, **changes: Any) -> Method:
        """A copy with some fields changed (validated again)."""
        return self.replace(**changes)

    def to_dict(self) -> dict[str, Any]:
        """Every field that applies to this method, plus derived keys (the level of theory; for
        DFT the xc string, dispersion and d-function convention; for GFN2-xTB the program and
        its version)."""
        d = {k: v for k, v in super().to_dict().items() if k in self.fields_of(self.method)}
        if self.is_xtb:
            from phl.qm.xtb import tblite_version

            d.update(level_of_theory=self.level_of_theory, program="tblite", program_version=tblite_version())
            return d
        d["grid"] = list(self.grid)
        d.update(
            level_of_theory=self.level_of_theory,
            xc=self.xc,
            dispersion=self.dispersion,
            cartesian_used=self.use_cartesian,
        )
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None, inherited: dict[str, Any] | None = None) -> Method:
        """Build from a mapping; the derived keys that :meth:`to_dict` adds are accepted back.

        An option the chosen method does not use (``basis`` with ``method: gfn2-xtb``,
        ``xtb_accuracy`` with DFT) is refused, never dropped. ``inherited`` is a layer of defaults
        under ``data`` (the workflow's ``config.yaml`` under a ``--configfile``): an option that
        ``data`` holds with the very value of ``inherited`` came from there, and is left out where
        the method does not use it."""
        data = {k: v for k, v in (data or {}).items() if k not in DERIVED_KEYS}
        name = data.get("method", "wb97x-d")
        if isinstance(name, str):
            used = cls.fields_of(name)
            inherited = inherited or {}
            data = {k: v for k, v in data.items() if k in used or k not in inherited or inherited[k] != v}
            known = {f.name for f in fields(cls)}
            unused = [k for k in data if k not in used and k in known]
            if unused:
                other = "GFN2-xTB" if name != "gfn2-xtb" else "DFT"
                raise InputError(
                    f"method {name} does not use the {other} option(s) {', '.join(unused)}; "
                    "remove them (phl never drops an option it was given)"
                )
        return super().from_dict(data)

    def to_cli(self, per_molecule: bool = True) -> str:  # type: ignore[override]
        """The options of the fields this method uses, as command-line text; without charge and
        multiplicity when ``per_molecule`` is false (commands whose reactions or structures carry
        their own)."""
        used = set(self.fields_of(self.method)) - (set() if per_molecule else {"charge", "multiplicity"})
        return super().to_cli(only=used)


#: the physical range of each numeric setting: (low, high, unit, why outside it is not the method)
RANGES: dict[str, tuple[float, float, str, str]] = {
    "fd_step": (1e-5, 0.05, " Å", "finite differences need a small step above the SCF noise"),
    "conv_tol": (1e-14, 1e-5, " Eh", "a looser SCF is not a converged reference"),
    "conv_tol_grad": (1e-12, 1e-3, "", "a looser SCF is not a converged reference"),
    "conv_tol_cphf": (1e-14, 1e-3, "", "a looser CPHF is not an analytic Hessian"),
    "level_shift": (0.0, 10.0, " Eh", "the level shift of the second SCF attempt"),
    "xtb_accuracy": (
        1e-5,
        1.0,
        "",
        "tblite's SCC accuracy, tighter than or equal to its default 1.0 (water at 1.0: forces within 4e-7 Eh/Å "
        "of 1e-4; at 100: 0.8 µEh and 3e-4 Eh/Å off; at 1e6: 7 mEh off)",
    ),
    "xtb_temperature": (
        0.0,
        XTB_MAX_TEMPERATURE,
        " K",
        "the electronic temperature of GFN2-xTB's Fermi smearing (tblite's default 300 K; benzene at 5000 K: "
        "0.5 mEh below 300 K, at 10,000 K: 20 mEh, at 1e5 K: 5.8 Eh)",
    ),
}
#: SCF/SCC iterations per attempt at most
MAX_CYCLE = 10_000

#: keys :meth:`Method.to_dict` adds that are not fields
DERIVED_KEYS = ("xc", "dispersion", "cartesian_used", "level_of_theory", "program", "program_version")


def level_of_theory(method: dict[str, Any] | None) -> str | None:
    """The level of theory a recorded ``method`` block names (None for an empty block). Records
    written before phl had two methods are DFT records."""
    if not method:
        return None
    if method.get("level_of_theory"):
        return str(method["level_of_theory"])
    if method.get("method") == "gfn2-xtb":
        return "GFN2-xTB"
    functional = str(method.get("functional", "wB97X-D"))
    return f"{FUNCTIONALS_DISPLAY.get(functional.lower(), functional)}/{method.get('basis', '6-31G(d)')}"
