"""phl HDF5 data sets: schema checks, round trips, splits, batching."""

import json

import h5py
import numpy as np
import pytest
import torch
from ase.io import read

from phl.cli import main
from phl.dataset import Dataset, DatasetWriter, Structure
from phl.dataset.batching import BatchLoader
from phl.dataset.convert import category_from_filename, merge, read_ani_layout, write_ani_layout, write_extxyz
from phl.dataset.splits import make_split
from phl.dataset.synthetic import synthetic_structures
from phl.errors import InputError
from phl.probes import fixed_probes
from phl.units import HARTREE_TO_EV


def _assert_same(a: Structure, b: Structure, hessian=True):
    np.testing.assert_array_equal(a.species, b.species)
    np.testing.assert_array_equal(a.coordinates, b.coordinates)
    np.testing.assert_array_equal(a.forces, b.forces)
    assert a.energy == b.energy and a.category == b.category and a.reaction == b.reaction
    if hessian:
        assert (a.hessian is None) == (b.hessian is None)
        if a.hessian is not None:
            np.testing.assert_array_equal(a.hessian, b.hessian)


@pytest.fixture
def structures():
    s = list(synthetic_structures(37, seed=1, median_atoms=6, max_atoms=12, hvp_pairs=2))
    s[3].hessian = None  # mixed coverage
    s[5].probes = s[5].hvps = None
    return s


@pytest.fixture
def dataset_path(tmp_path, structures):
    path = tmp_path / "data.h5"
    with DatasetWriter(path) as w:
        w.FLUSH_EVERY = 10  # exercise several flushes
        w.add_many(structures)
    return path


def test_write_read_round_trip(dataset_path, structures):
    with Dataset(dataset_path) as ds:
        assert len(ds) == len(structures)
        for i, s in enumerate(structures):
            got = ds.structure(i)
            _assert_same(s, got)
            if s.probes is not None:
                np.testing.assert_array_equal(got.probes, s.probes)
                np.testing.assert_array_equal(got.hvps, s.hvps)
            else:
                assert got.probes is None
        assert ds.provenance["versions"]["h5py"]
        assert ds.has_hessian.sum() == len(structures) - 1


def test_append_and_merge(tmp_path, dataset_path, structures):
    more = list(synthetic_structures(5, seed=9, median_atoms=5, max_atoms=8))
    with DatasetWriter(dataset_path, append=True) as w:
        w.add_many(more)
    with Dataset(dataset_path) as ds:
        assert len(ds) == len(structures) + 5
        _assert_same(ds.structure(len(structures) + 4), more[4])
        _assert_same(ds.structure(0), structures[0])
    merged = tmp_path / "merged.h5"
    assert merge(merged, [dataset_path, dataset_path]) == 2 * (len(structures) + 5)
    with Dataset(merged) as ds:
        assert len(ds) == 2 * (len(structures) + 5)
        assert len(ds.reactions) == len({s.reaction for s in structures + more})


def test_failed_write_publishes_nothing(tmp_path, structures):
    path = tmp_path / "data.h5"
    bad = structures[2]
    bad.forces = bad.forces[:-1]
    with pytest.raises(InputError, match=r"structure: forces has shape"):
        with DatasetWriter(path) as w:
            w.add_many(structures)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda s: setattr(s, "hessian", np.zeros((3, 3))), "hessian has shape"),
        (lambda s: setattr(s, "forces", np.full_like(s.forces, np.nan)), "forces has non-finite"),
        (lambda s: setattr(s, "energy", float("inf")), "energy is not finite"),
        (lambda s: setattr(s, "category", "saddle"), "unknown category 'saddle'"),
        (lambda s: setattr(s, "hvps", None), "probes and hvps must be given together"),
        (lambda s: setattr(s, "species", np.array([0] * len(s.species))), "atomic numbers"),
    ],
)
def test_structure_checks(structures, change, message):
    s = structures[0]
    change(s)
    with pytest.raises(InputError, match=message):
        s.validate("structure 0")


def test_corrupt_truncated_and_foreign_files_are_named(tmp_path, dataset_path):
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5 at all" * 10)
    with pytest.raises(InputError, match="not a readable HDF5 file"):
        Dataset(junk)
    truncated = tmp_path / "trunc.h5"
    truncated.write_bytes(dataset_path.read_bytes()[: dataset_path.stat().st_size // 2])
    with pytest.raises(InputError, match="trunc.h5"):
        Dataset(truncated)
    with h5py.File(dataset_path, "r+") as h5:
        h5.attrs["units_energy"] = "kcal/mol"
    with pytest.raises(InputError, match="units_energy is 'kcal/mol'"):
        Dataset(dataset_path)
    with h5py.File(dataset_path, "r+") as h5:
        h5.attrs["units_energy"] = "Eh"
        del h5["atoms/forces"]
    with pytest.raises(InputError, match="missing required key.*atoms/forces"):
        Dataset(dataset_path)
    with pytest.raises(InputError, match="not a phl data set"):
        ani = tmp_path / "ani.h5"
        with h5py.File(ani, "w") as h5:
            h5.create_group("mol")
        Dataset(ani)


def _openreact_like(path, n_groups=3, m=4, rng=None, with_hessian=True, **attrs):
    """A small file in the OpenREACT-CHON-EFH / pyanitools layout (bytes species, iform)."""
    rng = rng or np.random.default_rng(0)
    with h5py.File(path, "w") as h5:
        for g in range(n_groups):
            species = [b"C", b"H", b"O", b"H"][: 2 + g % 3]
            n = len(species)
            grp = h5.create_group(f"r{g:03d}")
            grp.create_dataset("species", data=np.array(species))
            coords = np.tile(np.arange(n)[:, None] * 1.2, (m, 1, 3)) + rng.normal(scale=0.02, size=(m, n, 3))
            grp.create_dataset("coordinates", data=coords)
            grp.create_dataset("energies", data=rng.normal(-100, 1, size=m))
            grp.create_dataset("forces", data=rng.normal(size=(m, n, 3)))
            if with_hessian:
                a = rng.normal(size=(m, 3 * n, 3 * n))
                grp.create_dataset("hessian", data=a + a.transpose(0, 2, 1))
            grp.create_dataset("iform", data=np.arange(m))
            for k, v in attrs.items():
                grp["energies"].attrs[k] = v


def test_import_openreact_layout(tmp_path):
    src = tmp_path / "molecules-NMS.h5"
    _openreact_like(src)
    out = tmp_path / "d.h5"
    assert main(["dataset", "import", str(src), "--out", str(out)]) == 0
    with Dataset(out) as ds, h5py.File(src) as h5:
        assert len(ds) == 12 and set(ds.category_names) == {"nms"} and ds.reactions == ["r000", "r001", "r002"]
        s = ds.structure(5)  # group r001, structure 1
        np.testing.assert_array_equal(s.coordinates, h5["r001/coordinates"][1])
        np.testing.assert_array_equal(s.hessian, h5["r001/hessian"][1])
        assert s.symbols == ["C", "H", "O"]
    assert category_from_filename(src) == "nms"
    assert category_from_filename(tmp_path / "molecules-RTP.h5") == "rtp"
    assert category_from_filename(tmp_path / "foo.h5") == "other"


def test_import_flags_units_and_shapes(tmp_path):
    src = tmp_path / "kcal.h5"
    _openreact_like(src, units="kcal/mol")
    with pytest.raises(InputError, match="energies: units 'kcal/mol'"):
        list(read_ani_layout(src))
    bad = tmp_path / "bad.h5"
    _openreact_like(bad)
    with h5py.File(bad, "r+") as h5:
        del h5["r001/hessian"]
        h5["r001"].create_dataset("hessian", data=np.zeros((4, 5, 5)))
    with pytest.raises(InputError, match=r"r001\[0\]: hessian has shape \(5, 5\), expected \(9, 9\)"):
        list(read_ani_layout(bad))


def test_ani_and_extxyz_round_trips(tmp_path, dataset_path):
    ani = tmp_path / "export.h5"
    with Dataset(dataset_path) as ds:
        write_ani_layout(ds, ani)
        back = list(read_ani_layout(ani))
        assert len(back) == len(ds)
        # groups reorder structures: match by coordinates
        key = {ds.coordinates[ds.atom_slice(i)].tobytes(): i for i in range(len(ds))}
        for s in back:
            _assert_same(ds.structure(key[s.coordinates.tobytes()]), s)
        xyz = tmp_path / "export.extxyz"
        write_extxyz(ds, xyz)
        frames = read(xyz, index=":")
        assert len(frames) == len(ds)
        for i, atoms in enumerate(frames):
            s = ds.structure(i)
            assert atoms.get_potential_energy() == pytest.approx(s.energy * HARTREE_TO_EV, rel=1e-12)
            # ASE writes per-atom columns with 8 decimals
            np.testing.assert_allclose(atoms.get_forces(), s.forces * HARTREE_TO_EV, rtol=0, atol=5.1e-9)
            np.testing.assert_allclose(atoms.positions, s.coordinates, rtol=0, atol=5.1e-9)
            assert atoms.info["category"] == s.category


def test_merge_label_json(tmp_path, repo_root):
    label = tmp_path / "water.json"
    assert (
        main(
            [
                "compute",
                str(repo_root / "resources/molecules/water.xyz"),
                "--basis",
                "sto-3g",
                "--grid",
                "30,110",
                "--hessian",
                "--hvp",
                "2",
                "--json",
                str(label),
                "-q",
            ]
        )
        == 0
    )
    out = tmp_path / "d.h5"
    assert main(["dataset", "merge", str(label), "--out", str(out), "--category", "reactant"]) == 0
    data = json.loads(label.read_text())
    with Dataset(out) as ds:
        s = ds.structure(0)
        assert s.symbols == ["O", "H", "H"] and s.category == "reactant" and s.energy == data["energy"]
        np.testing.assert_array_equal(s.hvps, np.asarray(data["hvps"]))


def test_splits_are_deterministic_and_disjoint(tmp_path):
    path = tmp_path / "d.h5"
    with DatasetWriter(path) as w:
        w.add_many(synthetic_structures(300, seed=4, median_atoms=4, max_atoms=6, hessian=False, n_reactions=40))
    counts = make_split(path, "paper", "paper", seed=7)
    make_split(path, "paper2", "paper", seed=7)
    make_split(path, "other_seed", "paper", seed=8)
    make_split(path, "by_reaction", "reaction", seed=7)
    with Dataset(path) as ds:
        cats = ds.category_names
        paper = ds.split("paper")
        np.testing.assert_array_equal(paper, ds.split("paper2"))
        assert not np.array_equal(paper, ds.split("other_seed"))
        rtp = np.isin(cats, ["reactant", "product", "ts", "rtp"])
        assert np.all(paper[~rtp] == 3) and np.all(paper[rtp] != 3)
        assert counts["train"] == round(0.8 * rtp.sum()) and counts["val"] == round(0.1 * rtp.sum())
        parts = [set(ds.indices("paper", p)) for p in ("train", "val", "test", "heldout")]
        assert sum(map(len, parts)) == len(ds) and len(set().union(*parts)) == len(ds)
        rxn = ds.split("by_reaction")
        seen = {}
        for i in range(len(ds)):
            if cats[i] in ("irc", "nms"):
                assert rxn[i] == 3
                continue
            assert seen.setdefault(ds.reaction_of(i), rxn[i]) == rxn[i], "a reaction is in two splits"
        assert len(set(seen.values())) == 3
        assert json.loads(ds.split_attrs("by_reaction")["fractions"]) == [0.8, 0.1, 0.1]
    with pytest.raises(InputError, match="no split 'nope'"):
        Dataset(path).split("nope")


def test_batches_pad_without_leaking(dataset_path, structures):
    with Dataset(dataset_path) as ds:
        idx = [i for i in range(len(ds)) if ds.has_hessian[i]]
        loader = BatchLoader(ds, idx, batch_size=8, shuffle=True, seed=3, hessian=True)
        seen = []
        for batch in loader:
            n_max = int(batch.n_atoms.max())
            assert batch.species.shape == (len(batch), n_max) and batch.hessian.shape == (
                len(batch),
                3 * n_max,
                3 * n_max,
            )
            for b, i in enumerate(batch.index.tolist()):
                n = structures[i].n_atoms
                assert torch.all(batch.species[b, n:] == -1) and torch.all(batch.forces[b, n:] == 0)
                assert torch.all(batch.coordinates[b, n:] == 0) and torch.all(~batch.mask[b, n:])
                assert torch.all(batch.hessian[b, 3 * n :, :] == 0) and torch.all(batch.hessian[b, :, 3 * n :] == 0)
                np.testing.assert_array_equal(batch.hessian[b, : 3 * n, : 3 * n].numpy(), structures[i].hessian)
                np.testing.assert_array_equal(batch.forces[b, :n].numpy(), structures[i].forces)
                assert batch.energy[b].item() == structures[i].energy
            seen += batch.index.tolist()
        assert sorted(seen) == sorted(idx)
        order0 = [b.index.tolist() for b in loader]
        loader.set_epoch(1)
        assert [b.index.tolist() for b in loader] != order0
        loader.set_epoch(0)
        assert [b.index.tolist() for b in loader] == order0
        with pytest.raises(InputError, match="structure 3 has no Hessian"):
            BatchLoader(ds, range(len(ds)), hessian=True)


def test_stored_and_fixed_probes(dataset_path, structures):
    with Dataset(dataset_path) as ds:
        idx = [i for i in range(len(ds)) if ds.columns["n_hvp"][i] > 0]
        k = int(ds.columns["n_hvp"][idx[0]])
        stored = BatchLoader(ds, idx, batch_size=16, hvp="stored", k_probes=k)
        for batch in stored:
            for b, i in enumerate(batch.index.tolist()):
                n = structures[i].n_atoms
                np.testing.assert_array_equal(batch.probes[b, :, :n].numpy(), structures[i].probes)
                np.testing.assert_array_equal(batch.hvps[b, :, :n].numpy(), structures[i].hvps)
                assert torch.all(batch.probes[b, :, n:] == 0)
        first = next(iter(BatchLoader(ds, idx, batch_size=16, hvp="stored")))  # K = 1 unless asked
        assert first.probes.shape[1] == 1
        with pytest.raises(InputError, match="no stored"):
            BatchLoader(ds, range(len(ds)), hvp="stored")
        with pytest.raises(InputError, match="needs onehot pairs"):
            BatchLoader(ds, idx, hvp="stored", probe_kind="onehot")
        a = BatchLoader(ds, range(len(ds)), batch_size=5, hvp="fixed", probe_seed=11, seed=0)
        b = BatchLoader(ds, range(len(ds)), batch_size=7, hvp="fixed", probe_seed=11, seed=1)
        pa = {int(i): p for batch in a for i, p in zip(batch.index, batch.probes)}
        pb = {int(i): p for batch in b for i, p in zip(batch.index, batch.probes)}
        for i, s in enumerate(structures):  # same probes whatever the batch composition and order
            n = s.n_atoms
            torch.testing.assert_close(pa[i][:, :n], pb[i][:, :n], rtol=0, atol=0)
            np.testing.assert_array_equal(pa[i][:, :n].numpy(), fixed_probes(11, i, n))


def test_inspect_and_export_cli(tmp_path, dataset_path, capsys):
    assert main(["dataset", "split", str(dataset_path), "--kind", "reaction", "--seed", "1"]) == 0
    capsys.readouterr()
    assert main(["dataset", "inspect", str(dataset_path), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["structures"] == 37 and s["with_hessian"] == 36 and s["with_hvp_pairs"] == 36
    assert sum(s["by_category"].values()) == 37 and set(s["splits"]) == {"reaction"}
    assert main(["dataset", "inspect", str(dataset_path)]) == 0
    assert "split reaction: train" in capsys.readouterr().out
    assert main(["dataset", "export", str(dataset_path), "--format", "extxyz", "--out", str(tmp_path / "x.xyz")]) == 0
    assert main(["dataset", "inspect", str(tmp_path / "missing.h5")]) == 2
