"""Public reaction sets as input: files in the Transition1x, RGD1 and Grambow 2020 layouts (written
here from the layouts the importers document) are imported exactly, every bad reaction is named in
the skipped CSV, whole-file problems stop with one message (exit 2), ``phl reaction show`` writes
the three geometries, the sampling design is seeded and predicts the paper's counts from
config/paper.yaml, and the geometry stage runs on an imported reaction."""

import json

import h5py
import numpy as np
import pandas as pd
import pytest
from ase.io import read

from phl.cli import main
from phl.errors import InputError
from phl.geometries.design import PAPER_COUNTS, SamplingDesign, predict_counts
from phl.geometries.jobs import GeometrySettings
from phl.geometries.reactions import h5_list_info, load_reaction, load_reactions, reaction_ids
from phl.geometries.testing import (
    builtin_raw,
    qchem_log,
    synthetic_reaction_list,
    write_grambow,
    write_rgd1,
    write_transition1x,
)

CHEAP = ["--basis", "sto-3g", "--grid", "30,110"]


def _bad_raw():
    """Reactions each broken in one way, with the words their skip reason must contain."""
    (_, z, r, p, ts) = builtin_raw()[0]  # HCN
    si = np.array([[0.0, 0.0, 0.0], [1.48, 0.0, 0.0], [-1.48, 0.0, 0.0], [0.0, 1.48, 0.0], [0.0, -1.48, 0.0]])
    nan = np.array(r, dtype=float)
    nan[1, 2] = np.nan
    overlap = np.array(r, dtype=float)
    overlap[1] = overlap[0] + 0.1
    return [
        (("bad_order", z, r, p[[1, 0, 2]], ts), None),  # same elements listed in another order: see _order
        (("bad_nan", z, nan, p, ts), "non-finite"),
        (("bad_overlap", z, overlap, p, ts), "overlap"),
        (("bad_radical", z[1:], r[1:], p[1:], ts[1:]), "multiplicity"),  # CN: 13 electrons
        (("big_si", np.array([14, 1, 1, 1, 1]), si, si * 1.01, si * 1.02), "outside --elements"),  # SiH4
    ]


def _imported(tmp_path, source, inputs, *extra):
    out = tmp_path / f"{source}-list.h5"
    skipped = tmp_path / f"{source}-list.skipped.csv"
    code = main(
        ["reaction", "import", source, *map(str, inputs), "--out", str(out), "--skipped", str(skipped), "-q", *extra]
    )
    assert code == 0
    return out, pd.read_csv(skipped, keep_default_na=False)


@pytest.mark.parametrize("source", ["transition1x", "rgd1", "grambow"])
def test_each_public_layout_imports_exactly_and_names_every_bad_reaction(tmp_path, source, capsys):
    good = builtin_raw()
    bad = [raw for raw, _ in _bad_raw()]
    # an atom order that differs between reactant and product (HCN vs CHN)
    (name, z, r, p, ts) = good[0]
    if source == "rgd1":  # one elements array per reaction: a mismatch is a shape problem instead
        bad[0] = ("bad_order", z, r, p[:2], ts)
    writers = {
        "transition1x": lambda: [write_transition1x(tmp_path / "t1x.h5", good + bad)],
        "rgd1": lambda: [write_rgd1(tmp_path / "rgd1.h5", good + bad)],
        "grambow": lambda: [write_grambow(tmp_path / "grambow", good + bad)],
    }
    inputs = writers[source]()
    if source == "transition1x":  # different element order in the product group
        with h5py.File(inputs[0], "a") as h5:
            del h5["data/CHNO/bad_order/product/atomic_numbers"]
            h5["data/CHNO/bad_order/product/atomic_numbers"] = z[[1, 0, 2]]
            for split in ("train",):
                del h5[f"{split}/CHNO/bad_order/product/atomic_numbers"]
                h5[f"{split}/CHNO/bad_order/product/atomic_numbers"] = z[[1, 0, 2]]
    if source == "grambow":  # element order changed in the product log
        log = tmp_path / "grambow" / "wb97xd3" / "rxn000003" / "p000003.log"
        log.write_text(qchem_log(z[[1, 0, 2]], [p]))
    out, skipped = _imported(tmp_path, source, inputs)
    assert f"3 reactions from {source}; 5 skipped" in capsys.readouterr().out
    names = {"transition1x": [g[0] for g in good], "rgd1": [g[0] for g in good]}
    names["grambow"] = [f"rxn{k:06d}" for k in range(3)]
    assert sorted(reaction_ids(out)) == sorted(names[source])
    for (gname, _, r, p, ts), rid in zip(good, names[source]):
        reaction = load_reaction(out, rid)
        assert reaction.source_id == rid
        assert np.array_equal(reaction.reactant.positions, r) and np.array_equal(reaction.product.positions, p)
        assert np.array_equal(reaction.ts_guess.positions, ts)
        assert (
            reaction.reactant.get_chemical_symbols() == load_reaction("builtin", gname).reactant.get_chemical_symbols()
        )
    reasons = dict(zip(skipped["source_id"], skipped["reason"]))
    bad_names = [raw[0] for raw in bad] if source != "grambow" else [f"rxn{k:06d}" for k in range(3, 8)]
    assert sorted(reasons) == sorted(bad_names)
    expected = ["element order|shape|atom counts", "non-finite", "overlap", "multiplicity", "outside --elements"]
    for bname, words in zip(bad_names, expected):
        assert pd.Series([reasons[bname]]).str.contains(words).all(), (bname, reasons[bname])
    info = h5_list_info(out)
    assert info["source"] == source and info["provenance"]["skipped"] == 5


def test_transition1x_keeps_one_copy_of_a_reaction_listed_under_two_splits(tmp_path):
    path = write_transition1x(tmp_path / "t1x.h5", builtin_raw()[:1])
    out, skipped = _imported(tmp_path, "transition1x", [path])
    assert reaction_ids(out) == ["hcn_hnc"] and skipped.empty


def test_selection_options(tmp_path, capsys):
    raw = builtin_raw()
    path = write_rgd1(tmp_path / "rgd1.h5", raw)
    out, skipped = _imported(tmp_path, "rgd1", [path], "--max-atoms", "3")
    assert reaction_ids(out) == ["hcn_hnc"]
    assert set(skipped["reason"].str.contains("--max-atoms 3")) == {True} and len(skipped) == 2
    out, _ = _imported(tmp_path, "rgd1", [path], "--ids", "hnco_hocn,hcn_hnc")
    assert sorted(reaction_ids(out)) == ["hcn_hnc", "hnco_hocn"]
    a, _ = _imported(tmp_path, "rgd1", [path], "--sample", "2", "--seed", "7")
    first = reaction_ids(a)
    b, _ = _imported(tmp_path, "rgd1", [path], "--sample", "2", "--seed", "7")
    assert reaction_ids(b) == first and len(first) == 2
    assert main(["reaction", "import", "rgd1", str(path), "--out", str(tmp_path / "x.h5"), "--ids", "nope", "-q"]) == 2
    assert "--ids: 1 id(s) not in the input, e.g. 'nope'" in capsys.readouterr().err
    assert not (tmp_path / "x.h5").exists()
    # a list longer than a file name may be (255 bytes) is read as ids, not as a path
    many = ",".join(["hcn_hnc", *(f"missing-reaction-{k:03d}" for k in range(20))])
    assert main(["reaction", "import", "rgd1", str(path), "--out", str(tmp_path / "x.h5"), "--ids", many, "-q"]) == 2
    assert "--ids: 20 id(s) not in the input" in capsys.readouterr().err


def test_an_element_the_level_of_theory_lacks_is_skipped(tmp_path):
    (_, z, r, p, ts) = builtin_raw()[0]
    path = write_rgd1(tmp_path / "rgd1.h5", [("og", np.array([118, 6, 6]), r, p, ts), builtin_raw()[0]])
    out, skipped = _imported(tmp_path, "rgd1", [path], "--elements", "all")
    assert reaction_ids(out) == ["hcn_hnc"]
    assert skipped.loc[0, "source_id"] == "og" and "Og" in skipped.loc[0, "reason"]


@pytest.mark.parametrize(
    "case,message",
    [
        ("empty", "not a readable HDF5 file"),
        ("truncated", "not a readable HDF5 file"),
        ("not_t1x", "not the Transition1x layout"),
        ("missing", "no such file"),
    ],
)
def test_a_file_not_in_its_layout_stops_with_one_message(tmp_path, case, message, capsys):
    good = write_transition1x(tmp_path / "good.h5", builtin_raw())
    path = tmp_path / f"{case}.h5"
    if case == "empty":
        path.write_bytes(b"")
    elif case == "truncated":
        path.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    elif case == "not_t1x":
        write_rgd1(path, builtin_raw())
    out = tmp_path / "out.h5"
    assert main(["reaction", "import", "transition1x", str(path), "--out", str(out), "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and str(path) in err[0]
    assert not out.exists()


def test_grambow_csv_without_its_columns_and_broken_logs(tmp_path, capsys):
    csv = write_grambow(tmp_path / "g", builtin_raw())
    bad = tmp_path / "g" / "bad.csv"
    bad.write_text("id,smiles\n0,C\n")
    assert (
        main(
            [
                "reaction",
                "import",
                "grambow",
                str(bad),
                str(tmp_path / "g" / "wb97xd3"),
                "--out",
                str(tmp_path / "o.h5"),
            ]
        )
        == 2
    )
    assert "no column(s) idx" in capsys.readouterr().err
    (tmp_path / "g" / "wb97xd3" / "rxn000001" / "ts000001.log").unlink()
    (tmp_path / "g" / "wb97xd3" / "rxn000002" / "r000002.log").write_text("garbage\n")
    out, skipped = _imported(tmp_path, "grambow", [csv])
    assert reaction_ids(out) == ["rxn000000"]
    reasons = dict(zip(skipped["source_id"], skipped["reason"]))
    assert "missing ts000001.log" in reasons["rxn000001"] and "r000002.log" in reasons["rxn000002"]
    parallel, skipped2 = _imported(tmp_path, "grambow", [csv], "--workers", "2")  # logs parsed by 2 processes
    assert reaction_ids(parallel) == ["rxn000000"] and skipped2.equals(skipped)
    assert np.array_equal(load_reaction(parallel, "rxn000000").product.positions, builtin_raw()[0][3])


def test_the_list_cannot_replace_its_input(tmp_path, capsys):
    path = write_rgd1(tmp_path / "rgd1.h5", builtin_raw())
    before = path.read_bytes()
    assert main(["reaction", "import", "rgd1", str(path), "--out", str(path), "-q"]) == 2
    assert "is an input" in capsys.readouterr().err and path.read_bytes() == before


def test_show_writes_reactant_ts_guess_and_product(tmp_path, capsys):
    path = write_rgd1(tmp_path / "rgd1.h5", builtin_raw())
    out, _ = _imported(tmp_path, "rgd1", [path])
    xyz = tmp_path / "show.xyz"
    assert main(["reaction", "show", str(out), "--id", "hnco_hocn", "--xyz", str(xyz)]) == 0
    frames = read(xyz, index=":")
    ref = load_reaction("builtin", "hnco_hocn")
    assert [f.info["role"] for f in frames] == ["reactant", "ts_guess", "product"]
    for frame, atoms in zip(frames, (ref.reactant, ref.ts_guess, ref.product)):
        assert frame.get_chemical_symbols() == atoms.get_chemical_symbols()
        np.testing.assert_allclose(frame.positions, atoms.positions, atol=1e-8)
    assert main(["reaction", "show", str(out), "--id", "nope", "--xyz", str(xyz)]) == 2


def test_hdf5_list_round_trip_and_a_damaged_list(tmp_path):
    path = synthetic_reaction_list(tmp_path / "syn.h5", 7)
    reactions = load_reactions(path)
    assert [r.id for r in reactions] == [f"syn{k:06d}" for k in range(7)]
    assert np.array_equal(reactions[4].product.positions, load_reaction("builtin", "h2co_h2_co").product.positions)
    with h5py.File(path, "a") as h5:
        h5["reactant"][0, 0] = np.nan
    with pytest.raises(InputError, match="syn000000.*non-finite"):
        load_reaction(path, "syn000000")
    assert load_reaction(path, "syn000001").id == "syn000001"  # a bad neighbour does not stop it
    assert main(["reaction", "plan", str(tmp_path / "missing.h5")]) == 2


def test_sampling_design_is_seeded_nested_and_independent_of_list_order():
    ids = [f"r{k}" for k in range(1000)]
    design = SamplingDesign(irc_reactions=60, nms_reactions=50, subset_seed=1)
    irc, nms = design.subsets(ids)
    assert len(irc) == 60 and len(nms) == 50 and nms <= irc
    assert design.subsets(ids[::-1]) == (irc, nms)
    assert SamplingDesign(irc_reactions=70, subset_seed=1).subsets(ids)[0] >= irc  # growing keeps the chosen
    assert SamplingDesign(irc_reactions=60, subset_seed=2).subsets(ids)[0] != irc
    steps = design.steps(ids)
    assert sum(s[-1] == "nms" for s in steps.values()) == 50 and sum(s[-1] == "irc" for s in steps.values()) == 10
    with pytest.raises(InputError, match="cannot exceed"):
        SamplingDesign(irc_reactions=5, nms_reactions=6)


def test_paper_configuration_predicts_the_papers_counts_for_12000_reactions(tmp_path, repo_root, capsys):
    path = synthetic_reaction_list(tmp_path / "paper.h5", 12_000)
    assert main(["reaction", "plan", str(path), "--config", str(repo_root / "config" / "paper.yaml")]) == 0
    out = capsys.readouterr().out
    print(out)
    import yaml

    config = yaml.safe_load((repo_root / "config" / "paper.yaml").read_text())["geometries"]
    counts = predict_counts(
        reaction_ids(path), SamplingDesign.from_dict(config["sampling"]), GeometrySettings.from_dict(config["settings"])
    )
    for group, paper in PAPER_COUNTS.items():
        assert abs(counts[group]["expected"] - paper) / paper < 0.05, (group, counts[group])
        assert f"{paper:,}" in out


def test_geometry_stage_runs_on_an_imported_reaction_and_a_rerun_recomputes_nothing(tmp_path, capsys):
    path = write_transition1x(tmp_path / "t1x.h5", builtin_raw()[:1])
    out, _ = _imported(tmp_path, "transition1x", [path])
    geo = tmp_path / "geo"
    cmd = ["batch", "geometries", str(out), "--block", "0", "--dir", str(geo), "--out", str(geo / "b0.csv")]
    cmd += [*CHEAP, "--irc-reactions", "0", "-q"]
    assert main(cmd) == 0
    table = pd.read_csv(geo / "b0.csv")
    assert table.loc[0, "status"] == "ok" and table.loc[0, "n_RTP"] == 3 and table.loc[0, "n_IRC"] == 0
    ts = json.loads((geo / "hcn_hnc" / "ts.json").read_text())
    assert ts["n_imaginary"] == 1 and ts["guess"] == "given"
    stamps = {p: p.stat().st_mtime_ns for p in geo.glob("hcn_hnc/*.json") if p.name != "structures.json"}
    assert main(cmd) == 0  # everything reused
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    # a record is reused only for the same reaction geometry, level of theory and settings
    from phl.batch.geometry import _reusable

    ts_path = geo / "hcn_hnc" / "ts.json"
    same = (ts["method"], ts["settings"], ts["provenance"]["reaction_sha256"])
    assert _reusable(ts_path, "ts", *same) is not None
    assert _reusable(ts_path, "ts", same[0], {**same[1], "fmax": 0.02}, same[2]) is None
    assert _reusable(ts_path, "ts", {**same[0], "basis": "3-21G"}, *same[1:]) is None
    assert _reusable(ts_path, "ts", same[0], same[1], "another geometry") is None
