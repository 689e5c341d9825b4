"""Hostile but realistic input to every command: each case must be refused before any work with
exit status 2, one line ``phl: error: ...`` naming the problem, and no file created or changed.
Plus: outputs that are not regular files, symlinked outputs, concurrent appends to one data set,
a killed computation, piping into ``head``, and what an unexpected error prints."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from phl.cli import main

CHEAP = ["--basis", "sto-3g", "--grid", "30,110"]
SLOW = ["--hessian", "--hessian-mode", "fd"]  # 6-31G(d), UltraFine grid, FD Hessian: ~15 s on 2 cores


def _start_and_wait(cmd, stderr=subprocess.DEVNULL):
    """Start a phl job and return once it is well inside its work (still running)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=stderr)
    time.sleep(3)
    assert proc.poll() is None, "the job ended before it could be interrupted"
    return proc


KETO_ENOL = "[C:1]([C:2](=[O:3])[H:7])([H:4])([H:5])[H:6]>>[C:1](=[C:2]([O:3][H:4])[H:7])([H:5])[H:6]"
WATER = "3\nwater\nO 0 0 0.119\nH 0 0.763 -0.477\nH 0 -0.763 -0.477\n"


def _ani(path: Path, species=(b"O", b"H", b"H"), coords=None, energies=None, forces=None, drop=()):
    m = 2
    coords = np.array([[[0, 0, 0.119], [0, 0.763, -0.477], [0, -0.763, -0.477]]] * m) if coords is None else coords
    data = {
        "species": np.array(species),
        "coordinates": coords,
        "energies": np.full(m, -76.0) if energies is None else energies,
        "forces": np.zeros((m, 3, 3)) if forces is None else forces,
    }
    with h5py.File(path, "w") as h5:
        g = h5.create_group("water")
        for k, v in data.items():
            if k not in drop:
                g.create_dataset(k, data=v)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Good and bad inputs, made once; the cases must leave this folder as it is."""
    from phl.testing import teacher_dataset

    d = tmp_path_factory.mktemp("hostile")
    f = {"dir": d, "folder": d / "folder", "out": d / "out.json", "out_csv": d / "out.csv", "out_h5": d / "out.h5"}
    f["folder"].mkdir()
    (d / "water.xyz").write_text(WATER)
    f["water"] = d / "water.xyz"
    for name, text in {
        "empty": "",
        "bad_count": "three\n\nO 0 0 0\n",
        "short": "5\n\nO 0 0 0\nH 0 0 1\n",
        "unknown_element": "2\n\nXx 0 0 0\nH 0 0 1\n",
        "not_numbers": "2\n\nO 0 0 zero\nH 0 0 1\n",
        "nan": "2\n\nO 0 0 nan\nH 0 0 1\n",
        "overlap": "2\n\nO 0 0 0\nH 0 0 0.1\n",
        "zero_atoms": "0\n\n",
    }.items():
        (d / f"{name}.xyz").write_text(text)
        f[name] = d / f"{name}.xyz"
    structures = {
        "reaction": "r1",
        "status": "ok",
        "structures": [
            {
                "name": "reactant",
                "category": "reactant",
                "symbols": ["O", "H", "H"],
                "positions": [[0, 0, 0.119], [0, 0.763, -0.477], [0, -0.763, -0.477]],
            },
            {
                "name": "bad_element",
                "category": "reactant",
                "symbols": ["Xx", "H"],
                "positions": [[0, 0, 0], [0, 0, 1]],
            },
            {"name": "no_positions", "category": "reactant", "symbols": ["H", "H"]},
        ],
    }
    f["structures"] = d / "structures.json"
    f["structures"].write_text(json.dumps(structures))
    f["not_json"] = d / "not.json"
    f["not_json"].write_text("{not json")
    f["label"] = d / "label.json"
    f["label"].write_text(
        json.dumps(
            {
                "symbols": ["H", "H"],
                "positions": [[0, 0, 0], [0, 0, 0.74]],
                "energy": -1.1,
                "forces": [[0, 0, 0.1], [0, 0, -0.1]],
            }
        )
    )
    f["label_missing"] = d / "label_missing.json"
    f["label_missing"].write_text(json.dumps({"symbols": ["H", "H"], "positions": [[0, 0, 0], [0, 0, 0.74]]}))
    f["ds"] = teacher_dataset(d / "ds.h5", 24, seed=1, median_atoms=4, max_atoms=5)
    f["nan_ds"] = d / "nan.h5"
    f["nan_ds"].write_bytes(f["ds"].read_bytes())
    with h5py.File(f["nan_ds"], "r+") as h5:
        h5["structures/energy"][3] = np.nan
    f["ani_overlap"] = _ani(d / "overlap-RTP.h5", coords=np.zeros((2, 3, 3)))
    f["ani_energy_shape"] = _ani(d / "shape-RTP.h5", energies=np.zeros((2, 2)))
    f["ani_element"] = _ani(d / "element-RTP.h5", species=(b"O", b"Qq", b"H"))
    f["ani_no_forces"] = _ani(d / "noforces-RTP.h5", drop=("forces",))
    f["ani_nan_forces"] = _ani(d / "nanforces-RTP.h5", forces=np.full((2, 3, 3), np.nan))
    f["good_ani"] = _ani(d / "good-RTP.h5")
    f["yaml_eight"] = d / "eight.yaml"
    f["yaml_eight"].write_text("batch_size: eight\n")
    f["yaml_frac"] = d / "frac.yaml"
    f["yaml_frac"].write_text("batch_size: 2.5\n")
    f["yaml_fast"] = d / "fast.yaml"
    f["yaml_fast"].write_text("lr: fast\n")
    f["yaml_list"] = d / "list.yaml"
    f["yaml_list"].write_text("- regime: ef\n")
    f["corrupt_ckpt"] = d / "corrupt.pt"
    f["corrupt_ckpt"].write_bytes(b"\x00not a checkpoint" * 10)
    from phl.models import ModelSpec, model_record, save_checkpoint
    from phl.models.pair import PairModel

    f["ckpt"] = d / "pair.pt"
    save_checkpoint(model_record(PairModel(seed=0), ModelSpec.of(PairModel, seed=0)), f["ckpt"])
    f["reactions"] = d / "reactions.yaml"
    f["reactions"].write_text("reactions: []\n")
    # --- round 2: SMILES lists, unsafe ids, data of another level of theory ---
    f["smiles_csv"] = d / "smiles.csv"
    f["smiles_csv"].write_text(f"id,smiles\nketo-enol,{KETO_ENOL}\n")
    hcn = "reactant: |\n    H 0 0 -1.066\n    C 0 0 0\n    N 0 0 1.156\n  product: |\n    H 0 0 2.15\n    C 0 0 0\n    N 0 0 1.17\n"
    for name, rid in (("dotdot", ".."), ("dot", "."), ("dash", "-x"), ("long_id", "r" * 2000), ("slash", "a/b")):
        f[name] = d / f"{name}.yaml"
        f[name].write_text(f"reactions:\n- id: {json.dumps(rid)}\n  {hcn}")
    f["mult0"] = d / "mult0.yaml"
    f["mult0"].write_text(f"reactions:\n- id: r\n  multiplicity: 0\n  {hcn}")
    f["xtb_ckpt"] = d / "xtb.pt"
    save_checkpoint(
        model_record(PairModel(seed=0), ModelSpec.of(PairModel, seed=0), level_of_theory="GFN2-xTB"), f["xtb_ckpt"]
    )
    f["dft_geometries"] = d / "dft_geometries"  # the geometry stage of hcn_hnc at wB97X-D/6-31G(d)
    from phl.geometries.records import PointRecord, StructuresRecord
    from phl.qm.method import Method

    (f["dft_geometries"] / "hcn_hnc").mkdir(parents=True)
    hcn = {"symbols": ["H", "C", "N"], "positions": [[0, 0, -1.066], [0, 0, 0], [0, 0, 1.156]]}
    for step in ("reactant", "product", "ts"):
        record = PointRecord("hcn_hnc", step, "ok", method=Method().to_dict(), energy=-93.0, **hcn)
        (f["dft_geometries"] / "hcn_hnc" / f"{step}.json").write_text(json.dumps(record.to_dict()))
    (f["dft_geometries"] / "hcn_hnc" / "structures.json").write_text(json.dumps(StructuresRecord("hcn_hnc").to_dict()))
    f["one_reaction"] = d / "one.yaml"
    f["one_reaction"].write_text(
        "reactions:\n- id: hcn_hnc\n  reactant: |\n    H 0 0 -1.066\n    C 0 0 0\n    N 0 0 1.156\n"
        "  product: |\n    H 0 0 2.15\n    C 0 0 0\n    N 0 0 1.17\n"
    )
    f["dft_ds"] = d / "dft.h5"
    f["dft_ds"].write_bytes(f["ds"].read_bytes())
    with h5py.File(f["dft_ds"], "r+") as h5:
        h5.attrs["level_of_theory"] = "wB97X-D/6-31G(d)"
    return f


# (argv template, message regex); {name} is replaced by the path of that input
CASES = {
    # --- phl compute: geometry files ---
    "compute-missing-file": ("compute {dir}/nope.xyz", r"nope.xyz: no such file"),
    "compute-directory": ("compute {folder}", r"folder: is a directory"),
    "compute-empty": ("compute {empty}", r"empty geometry file"),
    "compute-bad-count": ("compute {bad_count}", r"number of atoms"),
    "compute-short": ("compute {short}", r"header says 5 atoms"),
    "compute-unknown-element": ("compute {unknown_element}", r"unknown element 'Xx'"),
    "compute-not-numbers": ("compute {not_numbers}", r"not numbers"),
    "compute-nan": ("compute {nan}", r"non-finite coordinates"),
    "compute-overlap": ("compute {overlap}", r"overlap"),
    "compute-zero-atoms": ("compute {zero_atoms}", r"number of atoms is 0"),
    # --- phl compute: method ---
    "basis-open-paren": ("compute {water} --basis 6-31G(d --json {out}", r"basis set '6-31G\(d'"),
    "basis-open-paren-p": ("compute {water} --basis 6-31G(d,p --json {out}", r"basis set '6-31G\(d,p'"),
    "basis-trailing": ("compute {water} --basis 6-31G(d)x --json {out}", r"basis set '6-31G\(d\)x'"),
    "basis-unknown": ("compute {water} --basis nonsense-basis --json {out}", r"unknown basis set 'nonsense-basis'"),
    "basis-polarisation": ("compute {water} --basis 6-31G(q) --json {out}", r"basis set '6-31G\(q\)'"),
    "grid-not-lebedev": ("compute {water} --grid 50,7 --json {out}", r"Lebedev"),
    "grid-one-number": ("compute {water} --grid 99 --json {out}", r"RADIAL,ANGULAR"),
    "grid-zero-radial": ("compute {water} --grid 0,590 --json {out}", r"grid"),
    "multiplicity-parity": ("compute {water} --multiplicity 2 --json {out}", r"inconsistent"),
    "multiplicity-zero": ("compute {water} --multiplicity 0 --json {out}", r"multiplicity"),
    "charge-not-integer": ("compute {water} --charge 1.5 --json {out}", r"charge must be an integer"),
    "functional-unknown": ("compute {water} --functional B3LYP-X --json {out}", r"unknown functional"),
    "fd-step-zero": ("compute {water} --fd-step 0 --json {out}", r"fd_step must be positive"),
    "fd-step-negative": ("compute {water} --fd-step -0.001 --json {out}", r"fd_step must be positive"),
    "max-cycle-zero": ("compute {water} --max-cycle 0 --json {out}", r"max_cycle must be at least 1"),
    "conv-tol-negative": ("compute {water} --conv-tol=-1e-9 --json {out}", r"conv_tol must be positive"),
    "max-memory-zero": ("compute {water} --max-memory-mb 0 --json {out}", r"max_memory_mb"),
    "backend-unknown": ("compute {water} --backend tpu --json {out}", r"backend"),
    "hessian-mode-unknown": ("compute {water} --hessian-mode exact --json {out}", r"hessian_mode"),
    # --- phl compute: labels, index, outputs ---
    "hvp-negative": ("compute {water} --hvp -1 --json {out}", r"--hvp"),
    "probe-unknown": ("compute {water} --hvp 1 --probe uniform --json {out}", r"probe must be one of"),
    "index-negative": ("compute {structures} --index -1 --json {out}", r"index must be >= 0"),
    "index-too-large": ("compute {structures} --index 9 --json {out}", r"no structure 9 \(it has 3\)"),
    "index-unknown-element": ("compute {structures} --index 1 --json {out}", r"unknown element 'Xx'"),
    "index-missing-key": ("compute {structures} --index 2 --json {out}", r"'positions'"),
    "index-on-xyz": ("compute {water} --index 0 --json {out}", r"not a readable structures record"),
    "index-not-json": ("compute {not_json} --index 0 --json {out}", r"not a readable structures record"),
    "json-is-directory": ("compute {water} " + " ".join(CHEAP) + " --json {folder}", r"folder: is a directory"),
    "json-parent-is-file": ("compute {water} " + " ".join(CHEAP) + " --json {water}/out.json", r"not a directory"),
    "json-is-device": ("compute {water} " + " ".join(CHEAP) + " --json /dev/null", r"/dev/null: not a regular file"),
    # --- phl optimize ---
    "optimize-fmax-negative": ("optimize {water} --fmax -1", r"--fmax must be positive"),
    "optimize-steps-zero": ("optimize {water} --steps 0", r"--steps .*at least 1"),
    "optimize-missing": ("optimize {dir}/nope.xyz", r"no such file"),
    "optimize-json-directory": ("optimize {water} " + " ".join(CHEAP) + " --json {folder}", r"is a directory"),
    # --- phl reaction ---
    "reaction-irc-dx-zero": (
        "reaction reactant builtin --id hcn_hnc --irc-dx 0 --json {out}",
        r"irc_dx must be positive",
    ),
    "reaction-nms-negative": ("reaction nms builtin --id hcn_hnc --nms-samples -1 --json {out}", r"nms_samples"),
    "reaction-steps-text": (
        "reaction reactant builtin --id hcn_hnc --steps many --json {out}",
        r"steps must be an integer",
    ),
    "reaction-ts-needs-inputs": ("reaction ts builtin --id hcn_hnc --json {out}", r"needs --reactant"),
    "reaction-wrong-record": (
        "reaction ts builtin --id hcn_hnc --reactant {structures} --product {structures} --json {out}",
        r"not a PointRecord",
    ),
    "reaction-record-not-json": (
        "reaction nms builtin --id hcn_hnc --irc {not_json} --json {out}",
        r"not a readable irc record",
    ),
    "reaction-needs-id": ("reaction reactant builtin --json {out}", r"needs --id and --json"),
    "reaction-json-directory": ("reaction reactant builtin --id hcn_hnc --json {folder}", r"is a directory"),
    "reaction-summary-needs-out": ("reaction summary {structures}", r"--out"),
    "reaction-collect-needs-all": (
        "reaction collect --id r1 --reactant {structures} --json {out}",
        r"not a PointRecord|needs --",
    ),
    # --- phl summarize ---
    "summarize-missing-key": ("summarize {label_missing} --out {out_csv}", r"missing required key 'energy'"),
    "summarize-not-json": ("summarize {not_json} --out {out_csv}", r"not a readable label file"),
    "summarize-empty-folder": ("summarize {folder} --out {out_csv}", r"no label files"),
    "summarize-out-directory": ("summarize {label} --out {folder}", r"is a directory"),
    # --- phl dataset ---
    "inspect-not-hdf5": ("dataset inspect {water}", r"not a readable HDF5 file"),
    "inspect-missing": ("dataset inspect {dir}/nope.h5", r"no such data set"),
    "inspect-directory": ("dataset inspect {folder}", r"is a directory"),
    "inspect-nan-energy": ("dataset inspect {nan_ds}", r"structure 3: energy is not finite"),
    "import-overlap": ("dataset import {ani_overlap} --out {out_h5}", r"overlap"),
    "import-energy-shape": ("dataset import {ani_energy_shape} --out {out_h5}", r"energies have shape"),
    "import-unknown-element": ("dataset import {ani_element} --out {out_h5}", r"unknown element 'Qq'"),
    "import-missing-forces": ("dataset import {ani_no_forces} --out {out_h5}", r"missing required key 'forces'"),
    "import-nan-forces": ("dataset import {ani_nan_forces} --out {out_h5}", r"forces has non-finite values"),
    "import-label-json": ("dataset import {label} --out {out_h5}", r"not an ANI-layout file"),
    "import-out-directory": ("dataset import {good_ani} --out {folder}", r"is a directory"),
    "merge-out-directory": ("dataset merge {label} --out {folder}", r"is a directory"),
    "merge-missing-input": ("dataset merge {dir}/nope.h5 --out {out_h5}", r"no such file"),
    "merge-label-missing-key": ("dataset merge {label_missing} --out {out_h5}", r"missing required key"),
    "split-fractions": ("dataset split {ds} --name x --fractions 0.9 0.2 0.1", r"fractions"),
    "split-negative-fraction": ("dataset split {ds} --name x --fractions 1.2 -0.1 -0.1", r"fractions"),
    "export-out-directory": ("dataset export {ds} --format extxyz --out {folder}", r"is a directory"),
    "collect-missing-summary": (
        "dataset collect {dir}/nope.csv --labels {folder} --out {out_h5}",
        r"not a readable geometry summary",
    ),
    # --- reaction lists, plans and batch jobs ---
    "import-not-hdf5": ("reaction import rgd1 {water} --out {dir}/list.h5", r"not a readable HDF5 file"),
    "import-out-not-h5": ("reaction import rgd1 {ds} --out {out}", r"written as HDF5"),
    "plan-nms-over-irc": ("reaction plan builtin --irc-reactions 5 --nms-reactions 6", r"cannot exceed"),
    "plan-missing-list": ("reaction plan {dir}/nope.h5", r"no such reaction list"),
    "show-unknown-id": ("reaction show builtin --id nope --xyz {dir}/r.xyz", r"no reaction 'nope'"),
    "batch-block-out-of-range": (
        "batch geometries builtin --block 9 --dir {dir}/geo --out {out_csv}",
        r"block 9 does not exist: 3 reactions make 1 block\(s\) of 100",
    ),
    "batch-chunk-out-of-range": (
        "batch labels {out_csv} --geometries {folder} --chunk 8 --out {out_h5}",
        r"--chunk must be in 0..7",
    ),
    "batch-labels-not-a-table": (
        "batch labels {water} --geometries {folder} --chunk 0 --out {out_h5}",
        r"not a block table",
    ),
    # --- phl train ---
    "train-batch-text": ("train {ds} --out {dir}/run1 --config {yaml_eight}", r"batch_size must be an integer"),
    "train-batch-fraction": ("train {ds} --out {dir}/run2 --config {yaml_frac}", r"batch_size must be an integer"),
    "train-lr-text": ("train {ds} --out {dir}/run3 --config {yaml_fast}", r"lr must be a number, got 'fast'"),
    "train-config-list": ("train {ds} --out {dir}/run4 --config {yaml_list}", r"must hold a mapping"),
    "train-config-missing": ("train {ds} --out {dir}/run5 --config {dir}/nope.yaml", r"cannot read"),
    "train-settings-not-json": ("train {ds} --out {dir}/run6 --settings {{lr", r"--settings is not JSON"),
    "train-settings-list": ("train {ds} --out {dir}/run7 --settings [1]", r"JSON object"),
    "train-batch-flag": ("train {ds} --out {dir}/run8 --batch-size 2.5", r"batch_size must be an integer"),
    "train-nan-dataset": ("train {nan_ds} --out {dir}/run9", r"structure 3: energy is not finite"),
    "train-no-split": ("train {ds} --out {dir}/run10 --split nosuch", r"no split 'nosuch'"),
    "train-unknown-model": ("train {ds} --out {dir}/run11 --model phl.models.nothing:Model", r"cannot import model"),
    "train-out-is-file": ("train {ds} --out {water}", r"not a directory"),
    "train-static-step": (
        "train {ds} --out {dir}/run13 --static-step always",
        r"static_step must be one of",
    ),
    "train-graph-on-cpu": (
        "train {ds} --out {dir}/run14 --device cpu --static-step graph",
        r"'graph' needs a CUDA device",
    ),
    "train-hessian-chunk": ("train {ds} --out {dir}/run15 --hessian-chunk -2", r"must be >= -1"),
    "train-cuda-missing": ("train {ds} --out {dir}/run12 --device cuda:0", r"CUDA is not available"),
    # --- phl evaluate, ts-search, results ---
    "evaluate-corrupt-checkpoint": ("evaluate {corrupt_ckpt} {ds} --out {out_csv}", r"not a readable phl checkpoint"),
    "evaluate-no-model": ("evaluate {folder} {ds} --out {out_csv}", r"no trained model"),
    "evaluate-out-directory": ("evaluate {corrupt_ckpt} {ds} --out {folder}", r"is a directory"),
    "ts-search-corrupt": (
        "ts-search {corrupt_ckpt} --geometries {folder} --out {out_csv}",
        r"not a readable phl checkpoint",
    ),
    "ts-search-empty-list": (
        "ts-search {ckpt} --reactions {reactions} --geometries {folder} --out {out_csv}",
        r"non-empty 'reactions' list",
    ),
    "ts-search-no-geometries": ("ts-search {ckpt} --geometries {dir}/nope --out {out_csv}", r"no such folder"),
    "ts-search-missing-records": (
        "ts-search {ckpt} --geometries {folder} --out {out_csv}",
        r"not a readable structures record",
    ),
    "evaluate-unknown-split": ("evaluate {ckpt} {ds} --split nosuch --out {out_csv}", r"no split 'nosuch'"),
    "evaluate-nan-dataset": ("evaluate {ckpt} {nan_ds} --out {out_csv}", r"structure 3: energy is not finite"),
    "evaluate-hessian-batch": ("evaluate {ckpt} {ds} --hessian-batch-size 0 --out {out_csv}", r"at least 1, got 0"),
    "evaluate-device": ("evaluate {ckpt} {ds} --device cuda:0 --out {out_csv}", r"CUDA"),
    "results-bad-run": (
        "results tables --evaluations {folder} --training {folder} --runs hvp --seeds 0 --out-dir {dir}/tables",
        r"not a run name: 'hvp'",
    ),
    "results-missing": (
        "results tables --evaluations {folder} --training {folder} --runs ef --seeds 0 --out-dir {dir}/tables",
        r"missing evaluation of run ef",
    ),
}

# === round 2: what the last round added. Templates of the commands most cases share ===
XTB = "compute {{water}} --method gfn2-xtb {} --json {{out}}"  # a GFN2-xTB single point with one option
DFT = "compute {{water}} {} --json {{out}}"
BLOCK = "batch geometries {} --block 0 --dir {{dir}}/geo --out {{out_csv}}"  # the geometry job of a list
IMPORT = "reaction import smiles {{smiles_csv}} --out {{dir}}/list.h5 {}"
LABELS = "batch labels {{out_csv}} --geometries {{folder}} --chunk 0 --out {{out_h5}} {}"
CASES |= {
    # --- data loss: an output that is an input or another output ---
    "smiles-skipped-is-input": (IMPORT.format("--skipped {smiles_csv}"), r"--skipped .*smiles.csv is an input"),
    "smiles-skipped-is-out": (
        IMPORT.format("--skipped {dir}/list.h5"),
        r"--skipped .*list.h5 is another output \(--out",
    ),
    "compute-json-is-input": ("compute {water} " + " ".join(CHEAP) + " --json {water}", r"--json .* is an input"),
    "summary-out-is-input": ("reaction summary {structures} --out {structures}", r"--out .* is an input"),
    "evaluate-out-is-dataset": ("evaluate {ckpt} {ds} --out {ds}", r"--out .*ds.h5 is an input \(dataset"),
    "export-out-is-dataset": ("dataset export {ds} --format extxyz --out {ds}", r"is an input"),
    "merge-append-to-input": ("dataset merge {ds} --out {ds} --append", r"is an input"),
    # --- reaction ids that are not safe file names ---
    "id-dotdot": (BLOCK.format("{dotdot}"), r"'id' '\.\.' is not a safe file name"),
    "id-dot": (BLOCK.format("{dot}"), r"'id' '\.' is not a safe file name"),
    "id-option-like": ("reaction plan {dash}", r"'id' '-x' is not a safe file name"),
    "id-2000-chars": (BLOCK.format("{long_id}"), r"\(2000 chars\) is not a safe file name: it must be 1-128"),
    "id-separator": ("reaction show {slash} --id a/b --xyz {dir}/r.xyz", r"'id' 'a/b' is not a safe file name"),
    # --- options that would be dropped ---
    "smiles-charge": (IMPORT.format("--charge 1"), r"--charge: not an option of this command: .*SMILES"),
    "smiles-multiplicity": (IMPORT.format("--multiplicity 3"), r"--multiplicity: not an option"),
    "reactant-charge": (
        "reaction reactant builtin --id hcn_hnc --charge 1 --json {out}",
        r"--charge: not an option of this command: .*reaction list",
    ),
    "batch-geometries-charge": (BLOCK.format("builtin") + " --charge -1", r"--charge: not an option"),
    "labels-xtb-charge": (
        LABELS.format("--method gfn2-xtb --multiplicity 3"),
        r"--multiplicity: not an option of this command: each structure is computed at its reaction's",
    ),
    "compute-index-charge": ("compute {structures} --index 0 --charge 1 --json {out}", r"--charge with --index"),
    # every DFT option with GFN2-xTB (a nonsense basis too: refused as unused, not validated and dropped)
    **{
        f"xtb-{case}": (XTB.format(option), rf"method gfn2-xtb does not use the DFT option\(s\) {field};")
        for case, option, field in (
            ("basis", "--basis def2-TZVP", "basis"),
            ("basis-nonsense", "--basis nonsense", "basis"),
            ("grid", "--grid 75,302", "grid"),
            ("functional", "--functional b3lyp", "functional"),
            ("no-grid-response", "--no-grid-response", "grid_response"),
            ("conv-tol", "--conv-tol 1e-8", "conv_tol"),
        )
    },
    "dft-xtb-accuracy": (
        DFT.format("--xtb-accuracy 0.1"),
        r"method wb97x-d does not use the GFN2-xTB option\(s\) xtb_accuracy",
    ),
    "dft-xtb-temperature": ("optimize {water} --xtb-temperature 500", r"GFN2-xTB option\(s\) xtb_temperature"),
    # --- unphysical settings ---
    "xtb-accuracy-1e6": (XTB.format("--xtb-accuracy 1e6"), r"xtb_accuracy must be in \[1e-05, 1\]"),
    "xtb-accuracy-inf": (XTB.format("--xtb-accuracy inf"), r"xtb_accuracy must be a finite number"),
    "xtb-temperature-1e9": (XTB.format("--xtb-temperature 1e9"), r"xtb_temperature must be in \[0, 5000\] K"),
    "xtb-temperature-inf": (XTB.format("--xtb-temperature inf"), r"xtb_temperature must be a finite number"),
    "xtb-temperature-negative": (XTB.format("--xtb-temperature -1"), r"xtb_temperature must be in"),
    "fd-step-inf": (DFT.format("--fd-step inf"), r"fd_step must be a finite number"),
    "fd-step-huge": (DFT.format("--fd-step 0.5"), r"fd_step must be in"),
    "conv-tol-loose": (DFT.format("--conv-tol 0.1"), r"conv_tol must be in"),
    "max-cycle-huge": (DFT.format("--max-cycle 100000000"), r"max_cycle must be at least 1 and at most"),
    "train-lr-nan": ("train {ds} --out {dir}/run20 --lr nan", r"lr must be a finite number"),
    "in-flight-unbounded": (LABELS.format("--molecules-in-flight 1000"), r"molecules_in_flight must be at most 64"),
    # --- data of another level of theory ---
    "evaluate-other-level": (
        "evaluate {xtb_ckpt} {dft_ds} --out {out_csv}",
        r"trained on GFN2-xTB labels and .*dft.h5 holds wB97X-D/6-31G\(d\) labels",
    ),
    "ts-search-other-level": (
        "ts-search {xtb_ckpt} --reactions {one_reaction} --geometries {dft_geometries} --out {out_csv}",
        r"trained on GFN2-xTB labels and the reference records in .* are wB97X-D/6-31G\(d\)",
    ),
    # --- messages that name the problem and the fix ---
    "multiplicity-zero-in-list": (
        "reaction show {mult0} --id r --xyz {dir}/r.xyz",
        r"multiplicity must be 2S\+1 >= 1, got 0",
    ),
    "csv-as-reaction-list": (
        BLOCK.format("{smiles_csv}"),
        r"a CSV is not a reaction list; import a SMILES list first: phl reaction import smiles",
    ),
    "plan-irc-over-list": (
        "reaction plan builtin --irc-reactions 5",
        r"irc_reactions is 5 but the reaction list has 3 reactions",
    ),
    "plan-nms-over-list": (
        "reaction plan builtin --nms-reactions 4",
        r"nms_reactions is 4 but the reaction list has 3",
    ),
    "batch-irc-over-list": (BLOCK.format("builtin") + " --irc-reactions 9", r"irc_reactions is 9"),
}


def _snapshot(folder: Path) -> dict:
    return {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse
        rc = exc.code
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.fixture
def no_work(monkeypatch):
    """Any SCF, training epoch or TS search that starts is a failure of the case: inputs and outputs
    must be checked before work."""

    def started(*args, **kwargs):
        raise AssertionError("expensive work started before the input was refused")

    monkeypatch.setattr("phl.qm.engine.ReferenceEngine.run_scf", started)
    monkeypatch.setattr("phl.training.trainer.Trainer.train_epoch", started)
    monkeypatch.setattr("phl.results.ts_search.search_reaction", started)
    monkeypatch.setattr("phl.results.evaluate.energy_forces", started)


@pytest.mark.parametrize("case", list(CASES))
def test_refused_before_work_with_one_line_and_no_file(case, files, capsys, no_work):
    import re
    import shlex

    template, message = CASES[case]
    argv = shlex.split(template.format(**{k: str(v) for k, v in files.items()}))
    before = _snapshot(files["dir"])
    rc, out, err = run_cli(argv, capsys)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc == 2, (rc, err, out[-500:])
    assert len(lines) == 1 and lines[0].startswith("phl: error: "), err
    assert re.search(message, lines[0]), lines[0]
    assert _snapshot(files["dir"]) == before, "a file was created or changed"


# --- outputs that are not regular files ----------------------------------------------------------
def test_fifo_output_is_refused_and_left_alone(files, tmp_path, capsys):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    rc, _, err = run_cli(["summarize", str(files["label"]), "--out", str(fifo)], capsys)
    assert rc == 2 and "not a regular file" in err
    assert fifo.is_fifo() and os.listdir(tmp_path) == ["pipe.json"]


def test_symlinked_output_replaces_its_target_and_keeps_the_link(files, tmp_path, capsys):
    target = tmp_path / "real" / "table.csv"
    target.parent.mkdir()
    target.write_text("old\n")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    rc, _, err = run_cli(["summarize", str(files["label"]), "--out", str(link)], capsys)
    assert rc == 0, err
    assert link.is_symlink() and link.resolve() == target.resolve()
    assert target.read_text().startswith("name,") and sorted(os.listdir(target.parent)) == ["table.csv"]


def test_broken_symlink_output_is_refused(files, tmp_path, capsys):
    link = tmp_path / "dangling.csv"
    link.symlink_to(tmp_path / "missing-folder" / "x.csv")
    rc, _, err = run_cli(["summarize", str(files["label"]), "--out", str(link)], capsys)
    assert rc == 2 and "broken symbolic link" in err and link.is_symlink()


# --- concurrent writers, kills, pipes, bugs -------------------------------------------------------
def test_concurrent_appends_lose_nothing(files, tmp_path):
    """Four writers append a label each to one data set, three rounds, all at once: every
    structure lands (the writers wait for each other), the file stays valid."""
    from phl.dataset import Dataset

    out = tmp_path / "shared.h5"
    assert main(["dataset", "merge", str(files["label"]), "--out", str(out)]) == 0
    cmd = [sys.executable, "-m", "phl.cli", "dataset", "merge", str(files["label"]), "--out", str(out), "--append"]
    for _ in range(3):
        procs = [subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for _ in range(4)]
        for p in procs:
            _, err = p.communicate(timeout=300)
            assert p.returncode == 0, err.decode()
    with Dataset(out) as ds:
        assert len(ds) == 1 + 3 * 4
    assert sorted(os.listdir(tmp_path)) == ["shared.h5"]  # no temporary or lock file left


def test_killed_computation_leaves_nothing_and_reruns_clean(files, tmp_path):
    out = tmp_path / "water.json"
    cmd = [sys.executable, "-m", "phl.cli", "compute", str(files["water"]), *SLOW, "--json", str(out), "-q"]
    proc = _start_and_wait(cmd)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert os.listdir(tmp_path) == []
    assert subprocess.run(cmd, capture_output=True, timeout=900).returncode == 0
    assert sorted(os.listdir(tmp_path)) == ["water.json"] and "hessian" in json.loads(out.read_text())


def test_interrupt_is_one_line_and_exit_130(files, tmp_path):
    out = tmp_path / "water.json"
    cmd = [sys.executable, "-m", "phl.cli", "compute", str(files["water"]), *SLOW, "--json", str(out), "-q"]
    proc = _start_and_wait(cmd, stderr=subprocess.PIPE)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and err.decode().strip() == "phl: interrupted"
    assert os.listdir(tmp_path) == []


def test_output_piped_into_a_reader_that_quits_ends_quietly(files):
    proc = subprocess.Popen(
        [sys.executable, "-m", "phl.cli", "dataset", "inspect", str(files["ds"]), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.close()  # like `| head` that has read enough
    err = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert proc.returncode == 141 and "Traceback" not in err and "Error" not in err, err


def test_unexpected_error_prints_one_line_and_writes_a_report(files, capsys, monkeypatch):
    def bug(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr("phl.io.label_summary.summarize_labels", bug)
    rc, _, err = run_cli(["summarize", str(files["label"]), "--out", str(files["dir"] / "never.csv")], capsys)
    lines = err.strip().splitlines()
    assert rc == 1 and len(lines) == 1 and "unexpected ZeroDivisionError: a bug" in lines[0] and "--debug" in lines[0]
    report = Path(lines[0].split("the full report is in ")[1].split(",")[0])
    assert "Traceback" in report.read_text() and "ZeroDivisionError" in report.read_text()
    report.unlink()
    with pytest.raises(ZeroDivisionError):
        main(["--debug", "summarize", str(files["label"]), "--out", str(files["dir"] / "never.csv")])


# --- round 2: results that must be what was asked ---------------------------------------------------
SMILES_ROWS = {  # id -> (smiles, charge, multiplicity, the reason it is skipped or None)
    "keto-enol": (KETO_ENOL, "", "", None),
    "ch3-h2": ("[H:1][H:2].[C:3]([H:4])([H:5])[H:6]>>[H:1].[H:2][C:3]([H:4])([H:5])[H:6]", "", "", None),
    "methoxide": (
        "[C:1]([O:2][H:6])([H:3])([H:4])[H:5]>>[C:1]([O-:2])([H:3])([H:4])[H:5].[H:6]",
        "",
        "",
        r"charge not conserved: the reactant side has charge \+0, the product side -1",
    ),
    "ammonium": (
        "[N+:1]([H:2])([H:3])([H:4])[H:5]>>[N:1]([H:2])([H:3])[H:4].[H+:5]",
        "-1",
        "",
        r"charge column says -1 but the SMILES has formal charge \+1",
    ),
    "deuterium": (KETO_ENOL.replace("[H:7]", "[2H:7]"), "", "", r"isotope label \[2H\] \(atom map 7\)"),
    "e-to-z": (
        "[F:1]/[C:2]([H:5])=[C:3](/[F:4])[H:6]>>[F:1]/[C:2]([H:5])=[C:3](\\[F:4])[H:6]",
        "",
        "",
        r"differ only in stereochemistry \(E/Z or R/S\)",
    ),
    "mult-zero": (KETO_ENOL, "", "0", r"multiplicity column: 0 is not a spin multiplicity"),
    "triplet-closed-shell": (KETO_ENOL, "", "3", r"multiplicity column says 3 .* 0 radical electron"),
    "charge-text": (KETO_ENOL, "abc", "", r"charge column: 'abc' is not an integer"),
    "..": (KETO_ENOL, "", "", r"'id' '\.\.' is not a safe file name"),
    "r" * 2000: (KETO_ENOL, "", "", r"\(2000 chars\) is not a safe file name"),
}


def test_smiles_rows_that_disagree_with_their_text_are_skipped_with_the_reason(tmp_path, capsys):
    """Charge on both sides and in the column, multiplicity against the radicals, isotopes, a
    stereo-only change and unsafe ids: each such row skipped with its reason; the rest imported at
    the charge and multiplicity their SMILES says (CH3 + H2: a doublet without a column)."""
    import re

    import pandas as pd

    from phl.geometries.reactions import load_reactions

    table = pd.DataFrame(
        [(rid, smi, q, m) for rid, (smi, q, m, _) in SMILES_ROWS.items()],
        columns=["id", "smiles", "charge", "multiplicity"],
    )
    table.to_csv(tmp_path / "rows.csv", index=False)
    rc, _, err = run_cli(
        ["reaction", "import", "smiles", str(tmp_path / "rows.csv"), "--out", str(tmp_path / "l.h5"), "-q"], capsys
    )
    assert rc == 0, err
    kept = {r.id: (r.charge, r.multiplicity) for r in load_reactions(tmp_path / "l.h5")}
    assert kept == {"keto-enol": (0, 1), "ch3-h2": (0, 2)}
    skipped = pd.read_csv(tmp_path / "l.skipped.csv", keep_default_na=False)
    reasons = dict(zip(skipped["source_id"], skipped["reason"]))
    for rid, (*_, why) in SMILES_ROWS.items():
        if why is not None:
            shown = rid[:80]
            assert shown in reasons and re.search(why, reasons[shown]), (rid[:20], reasons.get(shown))


def test_yaml_off_reads_as_the_documented_string_and_other_booleans_name_the_quoting(tmp_path):
    from phl.qm.method import Method
    from phl.settings import layered
    from phl.training.config import TrainConfig

    (tmp_path / "t.yaml").write_text("static_step: off\n")
    assert layered(TrainConfig, tmp_path / "t.yaml").static_step == "off"
    (tmp_path / "t.yaml").write_text("static_step: yes\n")
    with pytest.raises(Exception, match="static_step must be one of"):
        layered(TrainConfig, tmp_path / "t.yaml")
    with pytest.raises(Exception, match="YAML reads an unquoted on/off/yes/no as true/false: quote the value"):
        Method.from_dict({"functional": False})


def test_xtb_at_another_electronic_temperature_is_another_level_of_theory():
    """A hotter Fermi smearing changes the energy surface (benzene: 0.5 mEh at 5000 K): its labels
    carry another level of theory, so data sets refuse to mix them with 300 K ones."""
    from phl.qm.method import Method

    assert Method(method="gfn2-xtb").level_of_theory == "GFN2-xTB"
    assert Method(method="gfn2-xtb", xtb_temperature=1000).level_of_theory == "GFN2-xTB (electronic temperature 1000 K)"


def test_dft_options_inherited_from_the_base_config_are_left_out_for_xtb_and_given_ones_refused():
    from phl.errors import InputError
    from phl.qm.method import Method

    base = {"functional": "wB97X-D", "basis": "6-31G(d)", "grid": [75, 302], "hessian_mode": "analytic"}
    merged = {**base, "method": "gfn2-xtb", "hessian_mode": "auto"}
    method = Method.from_dict(merged, inherited=base)
    assert method.is_xtb and "basis" not in method.to_cli() and "--xtb-accuracy" in method.to_cli()
    assert "--charge" not in method.to_cli(per_molecule=False)
    with pytest.raises(InputError, match="does not use the DFT option\\(s\\) basis"):
        Method.from_dict({**merged, "basis": "def2-TZVP"}, inherited=base)


def test_resuming_a_run_on_data_of_another_level_of_theory_is_refused(files, tmp_path, capsys):
    """A run trained on one data set, started again in its folder with labels of another level:
    refused before any epoch, the run folder as it was (config.json and final.json still agree)."""
    run = tmp_path / "run"
    argv = ["train", str(files["ds"]), "--out", str(run), "--model", "phl.models.pair:PairModel", "-q"]
    rc, _, err = run_cli([*argv, "--max-epochs", "1", "--batch-size", "8"], capsys)
    assert rc == 0, err
    before = _snapshot(run)
    other = [*argv[:1], str(files["dft_ds"]), *argv[2:], "--max-epochs", "1", "--batch-size", "8"]
    rc, _, err = run_cli(other, capsys)
    assert rc == 2 and "holds a run trained on other data (level_of_theory" in err and "wB97X-D/6-31G(d)" in err, err
    assert _snapshot(run) == before
