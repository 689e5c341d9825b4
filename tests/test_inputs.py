"""Validation at the edge: geometry files, charge/multiplicity, basis names, method options, backend."""

import numpy as np
import pytest
from ase import Atoms

from phl.checks import check_charge_multiplicity
from phl.errors import InputError
from phl.io.xyz import read_xyz
from phl.qm.backend import resolve_backend, resolve_hessian_mode
from phl.qm.basis import gaussian_uses_cartesian_d, load_basis
from phl.qm.engine import ReferenceEngine
from phl.qm.method import Method


def _write(tmp_path, text):
    p = tmp_path / "g.xyz"
    p.write_text(text)
    return p


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty"),
        ("   \n\n", "empty"),
        ("three\n\nO 0 0 0\n", "number of atoms"),
        ("3\n\nO 0 0 0\nH 0 0 1\n", "header says 3 atoms"),
        ("2\n\nO 0 0 0\nH 0 zero 1\n", "not numbers"),
        ("2\n\nO 0 0 0\nH 0 0\n", "expected 'symbol x y z'"),
        ("2\n\nO 0 0 0\nQq 0 0 1\n", "malformed XYZ|unknown element"),
        ("2\n\nO 0 0 0\nH 0 0 0.1\n", "overlap"),
        ("0\n\n", "number of atoms is 0"),
    ],
)
def test_bad_xyz_is_named(tmp_path, text, message):
    with pytest.raises(InputError, match=message):
        read_xyz(_write(tmp_path, text))


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_xyz(tmp_path / "nope.xyz")


def test_good_xyz(tmp_path):
    atoms = read_xyz(_write(tmp_path, "3\nwater\nO 0 0 0.119\nH 0 0.763 -0.477\nH 0 -0.763 -0.477\n"))
    assert atoms.get_chemical_symbols() == ["O", "H", "H"]
    assert atoms.positions[1, 1] == pytest.approx(0.763)


@pytest.mark.parametrize(
    "charge, mult, ok", [(0, 1, True), (0, 3, True), (0, 2, False), (1, 2, True), (1, 1, False), (10, 1, False)]
)
def test_charge_multiplicity(charge, mult, ok):
    water = Atoms("OH2", positions=[[0, 0, 0], [0, 0.76, 0.5], [0, -0.76, 0.5]])
    if ok:
        check_charge_multiplicity(water, charge, mult)
    else:
        with pytest.raises(InputError, match="inconsistent|electrons"):
            check_charge_multiplicity(water, charge, mult)


@pytest.mark.parametrize(
    "name, cart",
    [
        ("6-31G(d)", True),
        ("6-31G*", True),
        ("6-31+G(d,p)", True),
        ("6-31++G**", True),
        ("3-21G", True),
        ("6-311G(d,p)", False),
        ("def2-TZVP", False),
        ("cc-pVDZ", False),
        ("STO-3G", False),
    ],
)
def test_gaussian_cartesian_convention(name, cart):
    assert gaussian_uses_cartesian_d(name) is cart
    assert Method(basis=name).use_cartesian is cart
    assert Method(basis=name, cartesian=not cart).use_cartesian is (not cart)


def test_basis_names_load():
    for name in ("6-31G(d)", "6-31+G(d,p)", "3-21G", "def2-TZVP"):
        assert set(load_basis(name, ["C", "H"])) == {"C", "H"}
    with pytest.raises(InputError, match="unknown basis set 'foo-bar'"):
        load_basis("foo-bar", ["H"])


def test_cartesian_basis_with_f_functions_is_refused():
    atoms = Atoms("CO", positions=[[0, 0, 0], [0, 0, 1.13]])
    with pytest.raises(InputError, match="7F"):
        ReferenceEngine(Method(basis="6-31G(2df)", backend="cpu")).check(atoms)
    ReferenceEngine(Method(basis="6-31G(2df)", cartesian=True, backend="cpu")).check(atoms)  # explicit: accepted


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"functional": "m06-2x"}, "unknown functional"),
        ({"multiplicity": 0}, "multiplicity"),
        ({"grid": (0, 590)}, "grid"),
        ({"conv_tol": 0}, "conv_tol"),
        ({"backend": "tpu"}, "backend"),
        ({"hessian_mode": "numeric"}, "hessian_mode"),
        ({"fd_step": -1e-3}, "fd_step"),
        ({"basis": " "}, "empty"),
    ],
)
def test_method_rejects_bad_values(kwargs, message):
    with pytest.raises(InputError, match=message):
        Method(**kwargs)


def test_method_from_dict_names_unknown_key():
    assert Method.from_dict({"basis": "3-21G", "grid": [50, 194]}).grid == (50, 194)
    with pytest.raises(InputError, match="basis_set"):
        Method.from_dict({"basis_set": "3-21G"})


def test_method_defaults_are_gaussian_wb97xd_631gd():
    m = Method()
    assert (m.xc, m.dispersion, m.basis, m.use_cartesian, m.grid) == (
        "HYB_GGA_XC_WB97X_D",
        "chg",
        "6-31G(d)",
        True,
        (99, 590),
    )
    assert m.conv_tol <= 1e-10 and m.conv_tol_cphf <= 1e-8


def test_backend_selection_logic():
    yes, no = (lambda: True), (lambda: False)
    one, zero = (lambda: 1), (lambda: 0)
    assert resolve_backend("auto", one, yes) == "gpu"
    assert resolve_backend("auto", zero, yes) == "cpu"
    assert resolve_backend("auto", one, no) == "cpu"
    assert resolve_backend("cpu", one, yes) == "cpu"
    assert resolve_backend("gpu", one, yes) == "gpu"
    with pytest.raises(InputError, match="no CUDA device"):
        resolve_backend("gpu", zero, yes)
    with pytest.raises(InputError, match="gpu4pyscf is not installed"):
        resolve_backend("gpu", one, no)
    # CuPy built for CUDA 13 on a CUDA 12 driver: one line with CuPy's complaint and the fix
    mismatch = lambda: "CUDARuntimeError: cudaErrorInsufficientDriver: CUDA driver version is insufficient"  # noqa: E731
    with pytest.raises(InputError, match=r"cannot use the CUDA driver \(CUDARuntimeError.*gpu-cuda13") as err:
        resolve_backend("gpu", zero, yes, mismatch)
    assert "\n" not in str(err.value)
    assert resolve_backend("auto", zero, yes, mismatch) == "cpu"  # auto: the CPU, with a warning


def test_a_gpu4pyscf_that_cannot_load_is_one_line_naming_the_fix():
    from phl.qm.backend import gpu_scf

    class Broken:
        def to_gpu(self):
            raise ImportError("libcublas.so.13: cannot open shared object file: No such file or directory")

    with pytest.raises(InputError, match=r"gpu4pyscf cannot be loaded \(libcublas.so.13.*'.\[gpu\]' for CUDA 12"):
        gpu_scf(Broken())
    assert resolve_hessian_mode("auto", "gpu") == "analytic"
    assert resolve_hessian_mode("auto", "cpu") == "fd"
    assert resolve_hessian_mode("analytic", "cpu") == "analytic"


def test_engine_follows_this_machine_and_refuses_gpu_without_one():
    # On CI (no GPU) auto must fall back to the CPU and an explicit gpu request must say why not;
    # on a GPU machine with gpu4pyscf, auto must pick the GPU.
    from phl.qm.backend import cuda_device_count, gpu4pyscf_available

    has_gpu = cuda_device_count() > 0 and gpu4pyscf_available()
    assert ReferenceEngine(Method()).backend == ("gpu" if has_gpu else "cpu")
    if has_gpu:
        pytest.skip("a GPU is available here: nothing to refuse")
    with pytest.raises(InputError, match="backend 'gpu'"):
        ReferenceEngine(Method(backend="gpu"))


def test_engine_gpu_path_converts_with_to_gpu(monkeypatch):
    """On the GPU backend the same PySCF object is built and handed over with ``to_gpu()``."""
    eng = ReferenceEngine(Method(basis="sto-3g", grid=(20, 50), backend="cpu"))
    eng.backend = "gpu"
    calls = []
    from pyscf.dft import rks

    monkeypatch.setattr(rks.RKS, "to_gpu", lambda self: calls.append(self) or self, raising=False)
    mf = eng._new_scf(eng.build_mol(["H", "H"], np.array([[0, 0, 0], [0, 0, 0.74]])))
    assert calls == [mf] and mf.grids.atom_grid == (20, 50) and mf.conv_tol == 1e-10
