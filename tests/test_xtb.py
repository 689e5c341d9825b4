"""GFN2-xTB reference tier (phl.qm.xtb): against tblite's own ASE calculator, its Hessian and HVPs
against finite differences, its refusals, and its labels never mistaken for DFT ones."""

import json

import numpy as np
import pytest
from ase.build import molecule
from ase.units import Bohr, Hartree

from phl.cli import main
from phl.dataset import Dataset, DatasetWriter, Structure
from phl.errors import InputError
from phl.qm.interface import make_engine
from phl.qm.method import Method, level_of_theory
from phl.qm.xtb import XTBEngine

pytest.importorskip("tblite")
from tblite.ase import TBLite  # noqa: E402

XTB = Method(method="gfn2-xtb")


@pytest.fixture(scope="module")
def ethanol():
    atoms = molecule("CH3CH2OH")
    atoms.rattle(0.05, seed=3)  # off the minimum: forces and Hessian not trivially small
    return atoms


@pytest.fixture(scope="module")
def ethanol_label(ethanol):
    probes = np.random.default_rng(0).normal(size=(2, len(ethanol), 3))
    return XTBEngine(XTB).compute(ethanol, hessian=True, probes=probes), probes


def test_energy_and_forces_equal_tblites_ase_calculator(ethanol, ethanol_label):
    result, _ = ethanol_label
    atoms = ethanol.copy()
    atoms.calc = TBLite(method="GFN2-xTB", accuracy=XTB.xtb_accuracy, electronic_temperature=XTB.xtb_temperature,
                        verbosity=0)  # fmt: skip
    energy = atoms.get_potential_energy() / Hartree  # eV -> Eh with ASE's own constant
    forces = atoms.get_forces() / Hartree  # eV/Å -> Eh/Å
    assert result.energy == pytest.approx(energy, abs=1e-7)
    np.testing.assert_allclose(result.forces, forces, atol=1e-7)


def test_hessian_symmetric_and_matches_finite_differences_of_forces(ethanol, ethanol_label):
    result, _ = ethanol_label
    h = result.hessian
    n3 = 3 * len(ethanol)
    assert h.shape == (n3, n3)
    np.testing.assert_array_equal(h, h.T)
    # independent finite differences of tblite's ASE forces at a finer step (5e-4 Å)
    atoms = ethanol.copy()
    atoms.calc = TBLite(method="GFN2-xTB", accuracy=XTB.xtb_accuracy, verbosity=0)
    step, pos0 = 5e-4, ethanol.get_positions()
    fd = np.empty((n3, n3))
    for k in range(n3):
        cols = []
        for sign in (1, -1):
            p = pos0.copy().reshape(-1)
            p[k] += sign * step
            atoms.set_positions(p.reshape(-1, 3))
            cols.append(-atoms.get_forces().reshape(-1) / Hartree)
        fd[:, k] = (cols[0] - cols[1]) / (2 * step)
    fd = 0.5 * (fd + fd.T)
    scale = np.abs(h).max()
    assert np.abs(h - fd).max() < 1e-4 * scale
    # a physical Hessian: 6 near-zero (translation/rotation) eigenvalues at most a few negative
    assert scale > 0.1


def test_hvps_equal_hessian_times_probe(ethanol_label):
    result, probes = ethanol_label
    hv = np.einsum("ij,kj->ki", result.hessian, probes.reshape(len(probes), -1))
    np.testing.assert_allclose(result.hvps.reshape(len(probes), -1), hv, atol=1e-4 * np.abs(hv).max())


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"hessian_mode": "analytic"}, "no analytic GFN2-xTB Hessian"),
        ({"backend": "gpu"}, "CPU"),
        ({"xtb_accuracy": 0.0}, "xtb_accuracy"),
    ],
)
def test_unsupported_settings_are_refused(settings, message):
    with pytest.raises(InputError, match=message):
        Method.from_dict({"method": "gfn2-xtb", **settings})


def test_engine_picked_by_method_and_recorded(ethanol_label):
    assert isinstance(make_engine(XTB), XTBEngine)
    assert not isinstance(make_engine(Method()), XTBEngine)
    result, _ = ethanol_label
    record = XTBEngine(XTB).record(result)
    method = record["method"]
    assert method["method"] == "gfn2-xtb" and method["level_of_theory"] == "GFN2-xTB"
    assert method["program"] == "tblite" and method["program_version"]
    assert "functional" not in method and "basis" not in method  # no DFT field on an xTB label
    assert record["provenance"]["hessian_mode"] == "fd" and record["provenance"]["fd_step_angstrom"] == XTB.fd_step
    assert level_of_theory(method) == "GFN2-xTB"
    assert level_of_theory(Method().to_dict()) == "wB97X-D/6-31G(d)"


def test_compute_cli_writes_an_xtb_label(tmp_path):
    xyz = tmp_path / "water.xyz"
    molecule("H2O").write(xyz)
    out = tmp_path / "water.json"
    assert main(["compute", str(xyz), "--method", "gfn2-xtb", "--hessian", "--json", str(out), "-q"]) == 0
    label = json.loads(out.read_text())
    assert label["method"]["level_of_theory"] == "GFN2-xTB"
    assert np.asarray(label["hessian"]).shape == (9, 9)
    # water's GFN2-xTB energy near its minimum, about -5.07 Eh (tblite)
    assert -5.2 < label["energy"] < -5.0


def test_data_sets_of_two_methods_never_merge(tmp_path):
    def structure(level):
        return Structure.from_symbols(
            ["H", "H"], coordinates=np.array([[0, 0, 0], [0, 0, 0.74]]), energy=-1.0,
            forces=np.zeros((2, 3)), level_of_theory=level,
        )  # fmt: skip

    path = tmp_path / "xtb.h5"
    with DatasetWriter(path) as w:
        w.add(structure("GFN2-xTB"))
    assert Dataset(path).level_of_theory == "GFN2-xTB"
    with pytest.raises(InputError, match="never merged"):
        with DatasetWriter(path, append=True) as w:
            w.add(structure("wB97X-D/6-31G(d)"))
    with pytest.raises(InputError, match="never merged"):
        with DatasetWriter(tmp_path / "mixed.h5") as w:
            w.add(structure("GFN2-xTB"))
            w.add(structure(None))
    assert len(Dataset(path)) == 1  # the refused append published nothing


def test_reference_calculator_drives_ase_with_xtb():
    """The ASE boundary Sella uses: eV and eV/Å out of an xTB engine."""
    from phl.calculators.reference import ReferenceCalculator

    atoms = molecule("H2O")
    atoms.calc = ReferenceCalculator(method=XTB)
    e = atoms.get_potential_energy()
    ref = molecule("H2O")
    ref.calc = TBLite(method="GFN2-xTB", accuracy=XTB.xtb_accuracy, verbosity=0)
    assert e == pytest.approx(ref.get_potential_energy(), abs=1e-5)
    assert Bohr < 1  # ASE units imported: Å per bohr
