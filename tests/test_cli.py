"""The ``phl compute`` command: output contents, and bad input exiting 2 with one message, no file."""

import json
import subprocess
import sys

import numpy as np
import pytest

from phl.cli import main

FAST = ["--basis", "sto-3g", "--grid", "30,110"]


@pytest.fixture
def water(repo_root):
    return repo_root / "resources" / "molecules" / "water.xyz"


def test_compute_writes_everything_asked(tmp_path, water, capsys):
    out = tmp_path / "sub" / "water.json"
    rc = main(
        [
            "compute",
            str(water),
            *FAST,
            "--hessian",
            "--hvp",
            "2",
            "--probe",
            "rademacher",
            "--seed",
            "7",
            "--json",
            str(out),
            "-q",
        ]
    )
    assert rc == 0
    d = json.loads(out.read_text())
    n = len(d["symbols"])
    assert np.shape(d["forces"]) == (n, 3) and np.shape(d["hessian"]) == (3 * n, 3 * n)
    assert np.shape(d["probes"]) == (2, n, 3) and np.shape(d["hvps"]) == (2, n, 3)
    assert set(np.abs(np.asarray(d["probes"])).ravel()) == {1.0}
    # the stored HVPs are the stored Hessian times the stored probes
    hv = np.asarray(d["hessian"]) @ np.asarray(d["probes"]).reshape(2, -1).T
    np.testing.assert_allclose(np.asarray(d["hvps"]).reshape(2, -1), hv.T, atol=1e-4)
    assert d["energy"] < -74 and d["dispersion_energy"] < 0
    assert d["method"]["basis"] == "sto-3g" and d["method"]["grid"] == [30, 110]
    prov = d["provenance"]
    assert prov["versions"]["pyscf"] and prov["backend"] == "cpu" and prov["hessian_mode"] == "fd"
    steps_recorded = set(prov["wall_seconds"])  # provenance names every step it timed (no timing asserted)
    assert steps_recorded == {"scf", "gradient", "hessian", "hvp"}
    assert prov["tolerances"]["scf_energy"] <= 1e-10 and prov["seed"] == 7
    assert list(tmp_path.joinpath("sub").iterdir()) == [out]  # no temporary files left


def test_defaults_are_wb97xd_631gd(tmp_path, water):
    out = tmp_path / "w.json"
    assert main(["compute", str(water), "--grid", "30,110", "--json", str(out), "-q"]) == 0
    m = json.loads(out.read_text())["method"]
    assert (m["functional"], m["basis"], m["cartesian_used"], m["dispersion"]) == ("wB97X-D", "6-31G(d)", True, "chg")


@pytest.mark.parametrize(
    "xyz, options, message",
    [
        ("2\n\nO 0 0 0\nH 0 0\n", [], "malformed XYZ"),
        ("", [], "empty geometry file"),
        ("2\n\nO 0 0 0\nH 0 0 0.2\n", [], "overlap"),
        ("2\n\nO 0 0 0\nH 0 0 0.97\n", [], "inconsistent"),
        (
            "2\n\nO 0 0 0\nH 0 0 0.97\n",
            ["--multiplicity", "2", "--basis", "nonsense-basis"],
            "unknown basis set 'nonsense-basis'",
        ),
        ("2\n\nK 0 0 0\nH 0 0 2.2\n", [], "dispersion parameters for element.*K"),
        ("3\n\nO 0 0 0.119\nH 0 0.763 -0.477\nH 0 -0.763 -0.477\n", ["--max-cycle", "1"], "SCF did not converge"),
        ("3\n\nO 0 0 0.119\nH 0 0.763 -0.477\nH 0 -0.763 -0.477\n", ["--hvp", "-1"], "--hvp"),
    ],
)
def test_bad_input_exits_2_with_one_message_and_no_file(tmp_path, capsys, xyz, options, message):
    geom = tmp_path / "bad.xyz"
    geom.write_text(xyz)
    out = tmp_path / "out.json"
    rc = main(["compute", str(geom), *FAST, *options, "--json", str(out), "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert err[-1].startswith("phl: error:")
    assert __import__("re").search(message, err[-1]), err
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["bad.xyz"]


def test_console_script_runs(tmp_path, water):
    out = tmp_path / "w.json"
    proc = subprocess.run(
        [sys.executable, "-m", "phl", "compute", str(water), *FAST, "--json", str(out)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert "E = " in proc.stdout and out.exists()
    proc = subprocess.run(["phl", "compute", str(tmp_path / "missing.xyz")], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.strip() == f"phl: error: {tmp_path / 'missing.xyz'}: no such file"


def test_optimize_writes_a_minimum(tmp_path):
    geom = tmp_path / "w.xyz"
    geom.write_text("3\n\nO 0 0 0.13\nH 0 0.85 -0.45\nH 0 -0.70 -0.50\n")
    out = tmp_path / "opt.json"
    assert main(["optimize", str(geom), *FAST, "--hessian-mode", "analytic", "--json", str(out)]) == 0
    d = json.loads(out.read_text())
    assert d["converged"] is True and d["n_imaginary"] == 0 and len(d["frequencies_cm1"]) == 3
    assert np.shape(d["positions"]) == (3, 3) and d["symbols"] == ["O", "H", "H"] and d["energy"] < -74
    pos = np.asarray(d["positions"])
    assert abs(np.linalg.norm(pos[1] - pos[0]) - np.linalg.norm(pos[2] - pos[0])) < 1e-3  # symmetric minimum


def test_every_command_prints_its_help():
    """--help of every command and subcommand formats (argparse %-formats help texts)."""
    import argparse

    from phl.cli import build_parser

    def walk(parser, name):
        parser.format_help()
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub, p in action.choices.items():
                    yield from walk(p, f"{name} {sub}")
        yield name

    names = list(walk(build_parser(), "phl"))
    assert "phl batch geometries" in names and "phl reaction import" in names
