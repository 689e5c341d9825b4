"""Reaction input, and stationary points and IRC of HCN ⇌ HNC with the real reference engine
(3-21G and a small grid for speed; the code path is the default one)."""

import json
import warnings

import numpy as np
import pytest

from phl.calculators import ReferenceCalculator
from phl.errors import InputError
from phl.geometries.pathways import bond_graph, find_transition_state, irc_connects, minimize, run_irc
from phl.geometries.reactions import load_reactions
from phl.qm.method import Method


def test_builtin_reactions_load():
    reactions = load_reactions()
    assert [r.id for r in reactions] == ["hcn_hnc", "h2co_h2_co", "hnco_hocn"]
    for r in reactions:
        assert len(r.reactant) <= 6 and set(r.reactant.get_chemical_symbols()) <= {"H", "C", "N", "O"}
        assert r.reactant.get_chemical_symbols() == r.product.get_chemical_symbols()
        assert bond_graph(r.reactant) != bond_graph(r.product)


@pytest.mark.parametrize(
    "product, extra, message",
    [
        ("H 0 0 2.1\nC 0 0 0\n", "", "different atom counts"),
        ("C 0 0 0\nH 0 0 2.1\nN 0 0 1.1\n", "", "different element order"),
        ("H 0 0 2.1\nC 0 0 0\nN 0 0 0.1\n", "", "overlap"),
        ("H 0 0 2.1\nC 0 0 0\nXx 0 0 1.1\n", "", "unknown element"),
        ("H 0 0 2.1\nC 0 0 0\nN 0 0 1.1\n", "    multiplicity: 2\n", "inconsistent"),
        ("H 0 0 2.1\nC 0 0 0\nN 0 0 1.1\n", "    temperature: 300\n", "unknown key"),
    ],
)
def test_bad_reactions_are_rejected_with_their_name(tmp_path, product, extra, message):
    text = (
        "reactions:\n  - id: broken_one\n"
        + extra
        + "    reactant: |\n      H 0 0 -1.06\n      C 0 0 0\n      N 0 0 1.15\n"
        "    product: |\n" + "".join(f"      {ln}\n" for ln in product.strip().splitlines())
    )
    path = tmp_path / "r.yaml"
    path.write_text(text)
    with pytest.raises(InputError, match=f"broken_one.*{message}|{message}.*broken_one"):
        load_reactions(path)


def test_reaction_geometry_from_file(tmp_path):
    (tmp_path / "p.xyz").write_text("3\n\nH 0 0 2.1\nC 0 0 0\nN 0 0 1.17\n")
    (tmp_path / "r.yaml").write_text(
        "reactions:\n  - id: a\n    reactant: |\n      H 0 0 -1.06\n      C 0 0 0\n"
        "      N 0 0 1.15\n    product: p.xyz\n"
    )
    (r,) = load_reactions(tmp_path / "r.yaml")
    assert r.product.positions[0, 2] == pytest.approx(2.1)


@pytest.mark.slow
def test_hcn_hnc_ts_and_irc_with_the_reference_engine():
    warnings.simplefilter("ignore")
    r = load_reactions()[0]
    calc = ReferenceCalculator(Method(basis="3-21G", grid=(50, 194), hessian_mode="analytic"))
    reactant, product = minimize(r.reactant, calc), minimize(r.product, calc)
    assert reactant.converged and product.converged
    assert reactant.n_imaginary == 0 and product.n_imaginary == 0
    assert len(reactant.vibrations.frequencies) == 4  # linear: 3N - 5
    ts = find_transition_state(r.ts_guess, calc)
    assert ts.converged and ts.n_imaginary == 1 and ts.vibrations.frequencies[0] < -500
    assert reactant.energy < ts.energy and product.energy < ts.energy
    irc = run_irc(ts.atoms, calc, steps=25)
    assert irc_connects(irc, reactant.atoms, product.atoms)
    assert irc.forward_end.n_imaginary == 0 and irc.reverse_end.n_imaginary == 0
    assert np.all(np.diff(irc.path_position) > 0) and irc.path_position[0] < 0 < irc.path_position[-1]
    ends = sorted([irc.forward_end.energy, irc.reverse_end.energy])
    assert ends == pytest.approx(sorted([reactant.energy, product.energy]), abs=2e-4)


def test_scf_failure_marks_the_reaction_failed_and_later_steps_skipped():
    from phl.geometries.jobs import ReactionJob, collect, summary_table

    r = load_reactions()[0]
    job = ReactionJob(r, Method(basis="sto-3g", grid=(30, 110), max_cycle=1, hessian_mode="analytic"))
    records = {"reactant": job.run("reactant")}
    assert records["reactant"].status == "failed" and "SCFConvergenceError" in records["reactant"].reason
    assert records["reactant"].provenance["versions"]["sella"]
    records["product"] = job.run("product")
    records["ts"] = job.run("ts", {"reactant": records["reactant"], "product": records["product"]})
    assert records["ts"].status == "skipped" and "reactant" in records["ts"].reason
    records["irc"] = job.run("irc", {"ts": records["ts"]})
    records["nms"] = job.run("nms", {"irc": records["irc"]})
    out = collect(r.id, records)
    assert out.status == "failed" and out.failed_step == "reactant" and out.structures == []
    table = summary_table([out])
    assert table.loc[0, "n_RTP"] == 0 and "SCF" in table.loc[0, "reason"]


def test_a_bad_reaction_is_reported_by_its_own_job(tmp_path):
    from phl.cli import main

    (tmp_path / "r.yaml").write_text(
        "reactions:\n  - id: good\n    reactant: |\n      H 0 0 -1.06\n      C 0 0 0\n"
        "      N 0 0 1.15\n    product: |\n      H 0 0 2.1\n      C 0 0 0\n      N 0 0 1.17\n"
        "  - id: mismatched\n    reactant: |\n      H 0 0 -1.06\n      C 0 0 0\n"
        "    product: |\n      H 0 0 2.1\n      C 0 0 0\n      N 0 0 1.17\n"
    )
    out = tmp_path / "reactant.json"
    assert main(["reaction", "reactant", str(tmp_path / "r.yaml"), "--id", "mismatched", "--json", str(out)]) == 0
    record = __import__("json").loads(out.read_text())
    assert record["status"] == "failed" and "mismatched" in record["reason"] and "atom counts" in record["reason"]


def test_evenly_spaced_picks():
    from phl.geometries.jobs import evenly_spaced

    assert evenly_spaced(list(range(10)), 0) == []
    assert evenly_spaced([1, 2], 5) == [1, 2]
    picks = evenly_spaced(list(range(1, 40)), 4)
    assert len(picks) == 4 == len(set(picks)) and picks == sorted(picks)


def test_structures_record_errors_are_named(tmp_path):
    from phl.geometries.jobs import read_structure

    good = tmp_path / "structures.json"
    good.write_text(
        json.dumps(
            {
                "reaction": "r1",
                "structures": [
                    {
                        "name": "r1_reactant",
                        "category": "reactant",
                        "symbols": ["H", "H"],
                        "positions": [[0, 0, 0], [0, 0, 0.74]],
                    }
                ],
            }
        )
    )
    atoms, meta = read_structure(good, 0)
    assert atoms.get_chemical_symbols() == ["H", "H"] and meta == {
        "name": "r1_reactant",
        "category": "reactant",
        "reaction": "r1",
        "charge": 0,
        "multiplicity": 1,
    }
    with pytest.raises(InputError, match="no structure 3 .it has 1."):
        read_structure(good, 3)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="not a readable structures record"):
        read_structure(bad, 0)
    with pytest.raises(InputError, match="not a readable structures record"):
        read_structure(tmp_path / "missing.json", 0)


def test_a_step_does_not_depend_on_the_step_before_it():
    """Each geometry step starts its SCFs afresh (not from the density the previous step left in
    the calculator): the HCN ⇌ HNC TS search (GFN2-xTB) run after the product step, after itself and
    in a new job gives the same geometry (measured 7e-15 Å; 3e-10 Å when the density carried over)."""
    pytest.importorskip("tblite")
    from phl.geometries.jobs import ReactionJob
    from phl.geometries.reactions import BUILTIN, load_reaction

    reaction, method = load_reaction(BUILTIN, "hcn_hnc"), Method.from_dict({"method": "gfn2-xtb"})
    job = ReactionJob(reaction, method)
    ends = {step: job.run(step) for step in ("reactant", "product")}
    runs = [job.run("ts", ends), job.run("ts", ends), ReactionJob(reaction, method).run("ts", ends)]
    assert all(r.status == "ok" for r in runs)
    for other in runs[1:]:
        np.testing.assert_allclose(np.asarray(other.positions), np.asarray(runs[0].positions), rtol=0, atol=1e-12)
        assert other.energy == pytest.approx(runs[0].energy, abs=1e-12)
