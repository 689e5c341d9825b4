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


def _arrays(label):
    return [label.energy, label.forces, label.hessian, label.probes, label.hvps]


def test_molecules_in_flight_give_the_labels_of_one_at_a_time(tmp_path, capsys):
    """Two worker processes: the same labels (every array) as one at a time, in block order, the
    refused structure recorded with its reason and kept out."""
    structures = [_water("a"), _water("b", 0.02, ("O", "H", "Og")), _water("c", -0.02), _water("d", 0.01)]
    geo = _geometries(tmp_path, {"w": structures})
    one, two = tmp_path / "one.h5", tmp_path / "two.h5"
    hess = ["--hessian", "--hessian-mode", "analytic"]
    assert main([*_labels_cmd(geo, one), *hess]) == 0
    assert main([*_labels_cmd(geo, two), *hess, "--molecules-in-flight", "2"]) == 0
    assert "4 structures (3 computed, 0 from an earlier run, 1 failed)" in capsys.readouterr().out
    a, b = read_shard(one), read_shard(two)
    assert [lb.name for lb in b.labels] == [lb.name for lb in a.labels] == ["a", "c", "d"]
    assert [(f.name, f.index) for f in b.failures] == [("b", 1)] and b.failures[0].reason == a.failures[0].reason
    for x, y in zip(a.labels, b.labels):
        for u, v in zip(_arrays(x), _arrays(y)):
            np.testing.assert_allclose(v, u, rtol=0, atol=1e-9)
        assert y.provenance["label_settings"] == x.provenance["label_settings"]


def test_a_killed_job_with_molecules_in_flight_resumes(tmp_path):
    """SIGINT to a job with two workers once two labels are written: the rerun computes only
    the rest, and the finished labels keep their original timestamps."""
    import os
    import signal
    import subprocess
    import sys
    import time

    geo = _geometries(tmp_path, {"w": [_water(n, 0.01 * k) for k, n in enumerate("abcdef")]})
    out = tmp_path / "0.h5"
    cmd = [sys.executable, "-m", "phl", *_labels_cmd(geo, out), "--hessian", "--molecules-in-flight", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    parts = tmp_path / "0.h5.parts"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None and len(list(parts.glob("w.*.json"))) < 2:
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    os.killpg(proc.pid, signal.SIGINT)
    proc.communicate(timeout=120)
    assert proc.returncode != 0 and not out.exists()
    kept = {p.name: json.loads(p.read_text())["provenance"]["created_utc"] for p in parts.glob("w.*.json")}
    assert 2 <= len(kept) < 6
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"6 structures ({6 - len(kept)} computed, {len(kept)} from an earlier run, 0 failed)" in again.stdout
    shard = read_shard(out)
    assert [lb.name for lb in shard.labels] == list("abcdef")
    for label in shard.labels:
        name = f"w.{label.provenance['index']}.json"
        if name in kept:
            assert label.provenance["created_utc"] == kept[name]


def test_out_of_memory_is_retried_with_fewer_molecules_in_flight(monkeypatch):
    """A molecule out of memory with 4 in flight is tried again with 2, then 1; at 1 it is
    recorded as failed with its reason; a molecule that fits is written once."""
    from concurrent.futures import ThreadPoolExecutor

    import phl.batch.labels as batch_labels
    from phl.batch.labels import LabelJob, Outcome, compute_concurrently, out_of_memory
    from phl.labels import LabelSettings
    from phl.qm.method import Method

    assert out_of_memory(MemoryError()) and not out_of_memory(ValueError())
    assert out_of_memory(type("OutOfMemoryError", (RuntimeError,), {})())
    tried: list[tuple[str, int]] = []
    rounds: list[int] = []

    def work(job):
        tried.append((job.meta["name"], rounds[-1]))
        if job.meta["name"] == "big" or (job.meta["name"] == "medium" and rounds[-1] > 2):
            return Outcome(reason="OutOfMemoryError: out of memory allocating", out_of_memory=True)
        return Outcome(label={"name": job.meta["name"]})

    def pool(n):
        rounds.append(n)
        return ThreadPoolExecutor(n)

    monkeypatch.setattr(batch_labels, "_work", work)
    jobs = [LabelJob("r", i, None, {"name": name}, "") for i, name in enumerate(["small", "big", "medium"])]
    written = []
    compute_concurrently(jobs, 4, Method(), LabelSettings(), lambda job, o: written.append((job.meta["name"], o)), pool)
    assert rounds == [4, 2, 1]
    assert sorted(tried) == sorted([("small", 4), ("big", 4), ("medium", 4), ("big", 2), ("medium", 2), ("big", 1)])
    assert [name for name, _ in written] == ["small", "medium", "big"]
    assert written[-1][1].label is None and "out of memory" in written[-1][1].reason


def test_molecules_in_flight_must_be_positive(tmp_path):
    geo = _geometries(tmp_path, {"w": [_water("a")]})
    assert main([*_labels_cmd(geo, tmp_path / "0.h5"), "--molecules-in-flight", "0"]) == 2
    assert not (tmp_path / "0.h5").exists() and not (tmp_path / "0.h5.parts").exists()


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
