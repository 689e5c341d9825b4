"""Reproduce a published Gaussian 16 B.01 record (docs/method.md): hydrazine, wB97XD/def2-TZVP,
UltraFine grid. Real PySCF at the full (99,590) grid: minutes on 2 cores, hence ``slow``."""

import numpy as np
import pytest

from phl.io.xyz import read_xyz
from phl.qm.engine import ReferenceEngine
from phl.qm.method import Method
from phl.qm.vibrations import harmonic_analysis

GAUSSIAN_SCF_DONE = -111.879290192  # E(RwB97XD), dispersion folded in, Eh
GAUSSIAN_R6DISP = -0.0008539980  # Eh
GAUSSIAN_FREQUENCIES = np.array(
    [
        459.7240,
        821.3764,
        972.8079,
        1149.6328,
        1309.1093,
        1339.7160,
        1685.8422,
        1700.7821,
        3503.1959,
        3511.2598,
        3608.0705,
        3613.1268,
    ]
)  # cm^-1

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def hydrazine(data_dir):
    return read_xyz(data_dir / "hydrazine.xyz")


# fd (the CPU default, with grid response) must match Gaussian to 2 cm^-1; the CPU analytic Hessian
# lacks the grid response: measured 1.95 cm^-1 at most here, documented bound 5 cm^-1.
@pytest.mark.parametrize("hessian_mode, tolerance_cm1", [("fd", 2.0), ("analytic", 5.0)])
def test_hydrazine_energy_dispersion_and_frequencies(hydrazine, hessian_mode, tolerance_cm1):
    method = Method(basis="def2-TZVP", hessian_mode=hessian_mode, backend="cpu")
    assert method.use_cartesian is False  # def2 sets are spherical (5D) in Gaussian
    res = ReferenceEngine(method).compute(hydrazine, forces=False, hessian=True)
    assert res.energy == pytest.approx(GAUSSIAN_SCF_DONE, abs=2e-5)
    assert res.dispersion_energy == pytest.approx(GAUSSIAN_R6DISP, abs=1e-8)
    vib = harmonic_analysis(res.symbols, res.positions, res.hessian)
    assert vib.n_imaginary == 0
    np.testing.assert_allclose(vib.frequencies, GAUSSIAN_FREQUENCIES, atol=tolerance_cm1)
