"""Batch jobs and label shards: a label chunk with a failing structure keeps the others and records
the reason; a chunk killed half way resumes computing only what is missing; the shard format
round-trips every array exactly and refuses a damaged file; the data set is collected from shards;
blocks and chunks partition the work."""

import json

import h5py
import numpy as np
import pandas as pd
import pytest

from phl.batch.blocks import Batching, chunk
from phl.cli import main
from phl.errors import InputError
from phl.io.label_shards import Failure, read_shard, write_shard
from phl.labels import Label

CHEAP = ["--basis", "sto-3g", "--grid", "30,110"]
WATER = [[0, 0, 0.119], [0, 0.763, -0.477], [0, -0.763, -0.477]]


def _geometries(tmp_path, structures_of):
    """A geometry folder with one structures.json per reaction and a block table."""
    geo = tmp_path / "geo"
    rows = []
    for reaction, structures in structures_of.items():
        (geo / reaction).mkdir(parents=True)
        record = {"reaction": reaction, "status": "ok", "structures": structures}
        (geo / reaction / "structures.json").write_text(json.dumps(record))
        n = len(structures)
        rows.append(
            {
                "reaction": reaction,
                "status": "ok",
                "failed_step": "",
                "reason": "",
                "n_RTP": n,
                "n_IRC": 0,
                "n_NMS": 0,
                "seconds": 1.0,
            }
        )
    pd.DataFrame(rows).to_csv(geo / "block.csv", index=False)
    return geo


def _water(name, shift=0.0, symbols=("O", "H", "H")):
    pos = (np.array(WATER) * (1 + shift)).tolist()
    return {"name": name, "category": "reactant", "symbols": list(symbols), "positions": pos}


def _labels_cmd(geo, out, chunk_index=0, chunks=1):
    cmd = ["batch", "labels", str(geo / "block.csv"), "--geometries", str(geo), "--chunk", str(chunk_index)]
    return cmd + ["--label-jobs-per-block", str(chunks), "--out", str(out), *CHEAP, "--hvp", "1", "-q"]


def test_a_failing_structure_is_recorded_and_the_chunk_goes_on(tmp_path, capsys):
    # the second structure has an element the basis set lacks on purpose (Og): the engine refuses it
    geo = _geometries(tmp_path, {"w": [_water("a"), _water("b", 0.02, ("O", "H", "Og")), _water("c", -0.02)]})
    # Og has 118 electrons: with O and H that is 127, odd -> refused as a singlet
    out = tmp_path / "labels" / "0.h5"
    assert main(_labels_cmd(geo, out)) == 0
    shard = read_shard(out)
    assert [lb.name for lb in shard.labels] == ["a", "c"]
    assert len(shard.failures) == 1 and shard.failures[0].name == "b" and shard.failures[0].index == 1
    assert "multiplicity" in shard.failures[0].reason or "Og" in shard.failures[0].reason
    assert "3 structures (2 computed, 0 from an earlier run, 1 failed)" in capsys.readouterr().out
    assert not (tmp_path / "labels" / "0.h5.parts").exists()
    label = shard.labels[1]
    assert label.reaction == "w" and label.provenance["index"] == 2 and label.hvps.shape == (1, 3, 3)
    assert label.provenance["versions"]["pyscf"] and label.method["basis"] == "sto-3g"


def test_a_killed_chunk_resumes_and_recomputes_nothing(tmp_path, monkeypatch, capsys):
    import phl.batch.labels as batch_labels

    geo = _geometries(tmp_path, {"w": [_water("a"), _water("b", 0.02), _water("c", -0.02), _water("d", 0.01)]})
    out = tmp_path / "0.h5"
    real = batch_labels.compute_label
    calls = []

    def dies_on_the_third(*args, **kwargs):
        calls.append(args[4])
        if len(calls) == 3:
            raise KeyboardInterrupt  # the job is killed while labelling its third structure
        return real(*args, **kwargs)

    monkeypatch.setattr(batch_labels, "compute_label", dies_on_the_third)
    assert main(_labels_cmd(geo, out)) == 130
    parts = sorted((tmp_path / "0.h5.parts").glob("*.json"))
    assert [p.name for p in parts] == ["w.0.json", "w.1.json"] and not out.exists()
    created = {
        json.loads(p.read_text())["provenance"]["index"]: json.loads(p.read_text())["provenance"]["created_utc"]
        for p in parts
    }
    calls.clear()
    monkeypatch.setattr(batch_labels, "compute_label", lambda *a, **k: calls.append(a[4]) or real(*a, **k))
    assert main(_labels_cmd(geo, out)) == 0
    assert calls == [2, 3]  # only what was missing
    assert "4 structures (2 computed, 2 from an earlier run, 0 failed)" in capsys.readouterr().out
    shard = read_shard(out)
    assert [lb.provenance["index"] for lb in shard.labels] == [0, 1, 2, 3]
    assert {i: shard.labels[i].provenance["created_utc"] for i in (0, 1)} == created


def test_chunks_partition_a_block_round_robin(tmp_path):
    geo = _geometries(tmp_path, {"r1": [_water("a"), _water("b")], "r2": [_water("c"), _water("d"), _water("e")]})
    from phl.batch.labels import block_structures

    items = block_structures(geo / "block.csv", geo)
    assert items == [("r1", 0), ("r1", 1), ("r2", 0), ("r2", 1), ("r2", 2)]
    parts = [chunk(items, c, 2) for c in range(2)]
    assert parts == [[("r1", 0), ("r2", 0), ("r2", 2)], [("r1", 1), ("r2", 1)]]
    b = Batching(reactions_per_job=2)
    ids = [f"r{k}" for k in range(5)]
    assert b.n_blocks(5) == 3 and [b.block(ids, k) for k in range(3)] == [["r0", "r1"], ["r2", "r3"], ["r4"]]
    with pytest.raises(InputError, match="block 3 does not exist"):
        b.block(ids, 3)
    with pytest.raises(InputError, match="chunk 2 does not exist"):
        chunk(items, 2, 2)


def _random_label(rng, n, name, hessian=True, k=2):
    dim = 3 * n
    h = rng.normal(size=(dim, dim))
    return Label(
        symbols=list(rng.choice(["H", "C", "N", "O"], size=n)),
        positions=rng.normal(size=(n, 3)),
        energy=float(rng.normal()),
        forces=rng.normal(size=(n, 3)),
        dispersion_energy=float(rng.normal()),
        hessian=h + h.T if hessian else None,
        probes=rng.normal(size=(k, n, 3)) if k else None,
        hvps=rng.normal(size=(k, n, 3)) if k else None,
        probe_kinds=["gaussian", "onehot"][:k] if k else None,
        name=name,
        category="irc",
        reaction="rx",
        units={"energy": "Eh"},
        method={"basis": "6-31G(d)", "charge": 0, "multiplicity": 1},
        provenance={
            "versions": {"phl": "x"},
            "host": "h",
            "platform": "p",
            "cpu_count": 2,
            "index": int(name[1:]),
            "wall_seconds": {"scf": 1.5},
        },
    )


def test_shard_round_trip_is_exact_and_a_damaged_shard_is_named(tmp_path):
    rng = np.random.default_rng(0)
    labels = [_random_label(rng, 3, "s0"), _random_label(rng, 5, "s1", hessian=False), _random_label(rng, 2, "s2", k=0)]
    failures = [Failure("s3", "rx", 3, "SCFConvergenceError: no convergence")]
    path = tmp_path / "shard.h5"
    write_shard(path, labels, failures, {"hessian": True, "hvp": 1})
    shard = read_shard(path)
    assert shard.failures == failures and shard.attrs["labels"] == {"hessian": True, "hvp": 1}
    for a, b in zip(labels, shard.labels):
        for key in ("positions", "forces", "hessian", "probes", "hvps"):
            x, y = getattr(a, key), getattr(b, key)
            assert (x is None and y is None) or np.array_equal(x, y), key
        assert (a.symbols, a.energy, a.dispersion_energy, a.probe_kinds) == (
            b.symbols,
            b.energy,
            b.dispersion_energy,
            b.probe_kinds,
        )
        assert (a.name, a.reaction, a.category, a.method, a.provenance) == (
            b.name,
            b.reaction,
            b.category,
            b.method,
            b.provenance,
        )
    with h5py.File(path, "a") as h5:
        del h5["hessian"]
        h5["hessian"] = np.zeros(5)
    with pytest.raises(InputError, match="hessian holds 5 values"):
        read_shard(path)
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(InputError, match="not a readable label shard"):
        read_shard(path)


def test_data_set_collected_from_shards_needs_every_structure(tmp_path, capsys):
    rng = np.random.default_rng(1)
    labels = [_random_label(rng, 3, f"s{i}") for i in range(3)]
    for lb in labels:
        lb.symbols = ["O", "H", "H"]
        lb.positions = np.array(WATER) + rng.normal(scale=0.01, size=(3, 3))
    (tmp_path / "labels").mkdir()
    write_shard(tmp_path / "labels" / "a.h5", labels[:2], [], {})
    write_shard(tmp_path / "labels" / "b.h5", labels[2:], [Failure("s3", "rx", 3, "SCF failed")], {})
    summary = tmp_path / "summary.csv"
    row = {
        "reaction": "rx",
        "status": "ok",
        "failed_step": "",
        "reason": "",
        "n_RTP": 3,
        "n_IRC": 1,
        "n_NMS": 0,
        "seconds": 1,
    }
    pd.DataFrame([row]).to_csv(summary, index=False)
    out = tmp_path / "ds.h5"
    assert main(["dataset", "collect", str(summary), "--labels", str(tmp_path / "labels"), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "3 structures" in text and "not labelled: rx/s3: SCF failed" in text
    from phl.dataset.store import Dataset

    with Dataset(out) as ds:
        assert len(ds) == 3
        np.testing.assert_array_equal(ds.structure(0).hessian, labels[0].hessian)
    stale = tmp_path / "labels" / "old" / "a.h5"  # a shard left from other batching settings
    stale.parent.mkdir()
    stale.write_bytes((tmp_path / "labels" / "a.h5").read_bytes())
    assert main(["dataset", "collect", str(summary), "--labels", str(tmp_path / "labels"), "--out", str(out)]) == 2
    assert "structure rx/0 is in two label shards" in capsys.readouterr().err
    shards = [str(tmp_path / "labels" / f) for f in ("a.h5", "b.h5")]  # the shards named one by one
    assert main(["dataset", "collect", str(summary), "--labels", *shards, "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["dataset", "collect", str(summary), "--labels", shards[0], "--out", str(out)]) == 2
    assert "2 structure(s)" in capsys.readouterr().err
