"""The ``phl`` command line. Each subcommand is thin: it parses options, builds typed objects and
calls the library. Errors phl raises on purpose print one line ``phl: error: ...`` and exit 2."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from phl import __version__
from phl.errors import PHLError, InputError


def _grid(text: str) -> tuple[int, int]:
    try:
        radial, angular = (int(v) for v in text.replace("x", ",").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"grid must be RADIAL,ANGULAR (e.g. 99,590), got {text!r}") from None
    return radial, angular


def add_method_options(p: argparse.ArgumentParser) -> None:
    """Options of :class:`phl.qm.method.Method`, shared by every command that runs the reference."""
    g = p.add_argument_group("level of theory (default: Gaussian 16 wB97XD/6-31G(d), UltraFine grid)")
    g.add_argument("--functional", default="wB97X-D", help="functional (default %(default)s, dispersion included)")
    g.add_argument("--basis", default="6-31G(d)", help="Gaussian-style basis name, e.g. 6-31G(d), 6-31+G(d,p), 3-21G, def2-TZVP")
    g.add_argument("--cartesian", choices=("auto", "yes", "no"), default="auto",
                   help="Cartesian (6D) d functions; auto takes Gaussian's default for the basis")
    g.add_argument("--charge", type=int, default=0)
    g.add_argument("--multiplicity", type=int, default=1, help="2S+1; UKS when > 1")
    g.add_argument("--grid", type=_grid, default=(99, 590), help="RADIAL,ANGULAR points per atom (default 99,590)")
    g.add_argument("--backend", choices=("auto", "cpu", "gpu"), default="auto",
                   help="auto: gpu4pyscf when CUDA and gpu4pyscf are present, else PySCF on CPU")
    g.add_argument("--hessian-mode", choices=("auto", "analytic", "fd"), default="auto",
                   help="fd: 6N displaced gradients with grid response (Gaussian-exact); analytic: "
                        "faster on CPU but without grid response; auto: analytic on GPU, fd on CPU")
    g.add_argument("--fd-step", type=float, default=1e-3, help="finite-difference step in Å (default %(default)s)")
    g.add_argument("--max-cycle", type=int, default=100, help="SCF iterations per attempt (default %(default)s)")


def method_from_args(args: argparse.Namespace):
    from phl.qm.method import Method

    return Method(
        functional=args.functional, basis=args.basis, charge=args.charge, multiplicity=args.multiplicity,
        cartesian={"auto": None, "yes": True, "no": False}[args.cartesian], grid=args.grid,
        backend=args.backend, hessian_mode=args.hessian_mode, fd_step=args.fd_step, max_cycle=args.max_cycle,
    )


def cmd_compute(args: argparse.Namespace) -> int:
    from phl.geometry import read_xyz
    from phl.probes import draw_probes
    from phl.provenance import atomic_write_json
    from phl.qm.engine import ReferenceEngine

    if args.hvp < 0:
        raise InputError(f"--hvp must be >= 0, got {args.hvp}")
    meta: dict = {}
    if args.index is not None:
        from phl.geometries.jobs import read_structure

        atoms, meta = read_structure(args.geometry, args.index)
    else:
        atoms = read_xyz(args.geometry)
    engine = ReferenceEngine(method_from_args(args), progress=not args.quiet)
    probes = None
    if args.hvp:
        probes = draw_probes(np.random.default_rng(args.seed), len(atoms), args.hvp, args.probe)
    result = engine.compute(atoms, forces=True, hessian=args.hessian, probes=probes, where=str(args.geometry))
    data = result.to_dict(engine.method, engine.backend)
    data.update(meta)
    data["provenance"].update(input=str(args.geometry), index=args.index, probe_kind=args.probe if args.hvp else None,
                              seed=args.seed)
    if args.json:
        atomic_write_json(args.json, data)
    if not args.quiet:
        f = np.asarray(data["forces"])
        print(f"{args.geometry}: E = {data['energy']:.10f} Eh (dispersion {data['dispersion_energy']:.10f} Eh), "
              f"max |F| = {np.abs(f).max():.6f} Eh/Å, {engine.backend}, "
              f"{sum(result.timings.values()):.1f} s" + (f" -> {args.json}" if args.json else ""))
    if not args.json:
        json.dump(data, sys.stdout, indent=1)
        print()
    return 0


def cmd_optimize(args: argparse.Namespace) -> int:
    import warnings

    from phl.calculator import ReferenceCalculator
    from phl.geometries.pathways import IMAGINARY_THRESHOLD_CM1, minimize
    from phl.geometry import read_xyz
    from phl.provenance import atomic_write_json, provenance

    atoms = read_xyz(args.geometry)
    calc = ReferenceCalculator(method_from_args(args))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        point = minimize(atoms, calc, fmax=args.fmax, steps=args.steps)
    data = {
        "energy": point.energy, "converged": point.converged, "steps": point.steps,
        "n_imaginary": point.n_imaginary, "frequencies_cm1": point.vibrations.frequencies.tolist(),
        "symbols": point.atoms.get_chemical_symbols(), "positions": point.atoms.get_positions().tolist(),
        "units": {"energy": "Eh", "positions": "Angstrom", "fmax": "eV/Angstrom"},
        "method": calc.engine.method.to_dict(),
        "provenance": provenance(extra_packages=("sella",), input=str(args.geometry), fmax=args.fmax,
                                 imaginary_threshold_cm1=IMAGINARY_THRESHOLD_CM1, backend=calc.engine.backend,
                                 hessian_mode=calc.engine.hessian_mode, scf_calls=calc.n_scf),
    }
    if args.json:
        atomic_write_json(args.json, data)
    print(f"{args.geometry}: E = {point.energy:.10f} Eh, converged {point.converged} in {point.steps} steps, "
          f"{point.n_imaginary} imaginary mode(s)" + (f" -> {args.json}" if args.json else ""))
    return 0 if point.converged else 1


def _read_record(path: str | None, what: str) -> dict:
    from phl.geometries.jobs import read_record

    if path is None:
        raise InputError(f"this step needs --{what}")
    return read_record(path, what)


def cmd_reaction(args: argparse.Namespace) -> int:
    from phl.geometries import jobs
    from phl.provenance import atomic_write_json

    if args.step == "summary":
        files = ([args.reactions] if args.reactions else []) + args.inputs
        if args.dir:  # the reaction list names the reactions: DIR/{id}/structures.json
            from phl.geometries.reactions import BUILTIN, reaction_ids

            if len(files) != 1:
                raise InputError("summary --dir takes one reaction list")
            listing = BUILTIN if files[0] == "builtin" else files[0]
            files = [str(Path(args.dir) / rid / "structures.json") for rid in reaction_ids(listing)]
        if not files or not args.out:
            raise InputError("summary needs structures.json files (or a reaction list and --dir) and --out")
        collected = [_read_record(p, "structures") for p in files]
        table = jobs.summary_table(collected)
        from phl.provenance import atomic_path

        with atomic_path(args.out) as tmp:
            table.to_csv(tmp, index=False)
        print(table.drop(columns=["reason"]).to_string(index=False))
        failed = table[table.status != "ok"]
        for _, row in failed.iterrows():
            print(f"failed: {row.reaction} at {row.failed_step}: {row.reason}")
        print(f"{len(table) - len(failed)} of {len(table)} reactions ok; structures: RTP {table.n_RTP.sum()}, "
              f"IRC {table.n_IRC.sum()}, NMS {table.n_NMS.sum()} -> {args.out}")
        return 0
    if not args.id or not args.json:
        raise InputError(f"the {args.step} step needs --id and --json")
    if args.step == "collect":
        records = {s: _read_record(getattr(args, s), s) for s in jobs.STEPS}
        out = jobs.collect(args.id, records)
        atomic_write_json(args.json, out)
        counts = jobs.structure_counts(out)
        print(f"{args.id}: {out['status']}" + (f" at {out['failed_step']} ({out['reason']})" if out["reason"] else "")
              + f"; RTP {counts['RTP']}, IRC {counts['IRC']}, NMS {counts['NMS']} -> {args.json}")
        return 0
    from phl.geometries.reactions import load_reaction

    settings = jobs.GeometrySettings(**{f.name: getattr(args, f.name) for f in dataclasses.fields(jobs.GeometrySettings)})
    needs = {"reactant": (), "product": (), "ts": ("reactant", "product"), "irc": ("ts", "reactant", "product"),
             "nms": ("irc",)}[args.step]
    inputs = {name: _read_record(getattr(args, name), name) for name in needs}
    try:
        from phl.geometries.reactions import BUILTIN

        reaction = load_reaction(BUILTIN if args.reactions in (None, "builtin") else args.reactions, args.id)
    except InputError as exc:  # a bad reaction is reported and skipped; the rest of the run goes on
        record = {"reaction": args.id, "step": args.step, "status": "failed", "reason": " ".join(str(exc).split())}
    else:
        record = jobs.ReactionJob(reaction, method_from_args(args), settings).run(args.step, inputs)
    atomic_write_json(args.json, record)
    extra = f", {record['n_imaginary']} imaginary mode(s)" if "n_imaginary" in record else ""
    print(f"{args.id} {args.step}: {record['status']}{extra}" + (f" ({record['reason']})" if record["reason"] else "")
          + f" -> {args.json}")
    return 0


def _add_reaction_parser(sub) -> None:
    import dataclasses as dc

    from phl.geometries.jobs import STEPS, GeometrySettings

    p = sub.add_parser("reaction", help="geometry stage for one reaction: minimise, TS, IRC, NMS, collect; summary",
                       description="One step of the geometry stage for one reaction of a reaction list (YAML, see "
                                   "phl/geometries/reactions.py), written as one JSON record with status ok/failed/"
                                   "skipped. A failing reaction is recorded, never fatal (exit 0).")
    p.add_argument("step", choices=STEPS + ("collect", "summary"))
    p.add_argument("reactions", nargs="?", help="reaction list (YAML); 'builtin' for the built-in set")
    p.add_argument("--id", help="reaction id")
    p.add_argument("inputs", nargs="*", help="summary: structures.json files of 'collect'")
    for name in STEPS:
        p.add_argument(f"--{name}", help=f"JSON record of the {name} step")
    p.add_argument("--json", help="record to write (atomically)")
    p.add_argument("--out", help="summary: CSV table to write")
    p.add_argument("--dir", help="summary: folder with REACTION/structures.json for the reactions of the list")
    add_method_options(p)
    g = p.add_argument_group("geometry settings (phl.geometries.jobs.GeometrySettings)")
    for f in dc.fields(GeometrySettings):
        g.add_argument("--" + f.name.replace("_", "-"), dest=f.name, type=type(f.default), default=f.default,
                       help=f"default {f.default}")
    p.set_defaults(func=cmd_reaction)


def _label_files(paths: list[str], allow_empty: bool = False) -> list[Path]:
    """Label files given directly or as directories (searched recursively for *.json)."""
    files: list[Path] = []
    for p in map(Path, paths):
        files.extend(sorted(p.rglob("*.json")) if p.is_dir() else [p])
    if not files and not allow_empty:
        raise InputError(f"no label files in {', '.join(paths)}")
    return files


def cmd_summarize(args: argparse.Namespace) -> int:
    from phl.reports import summarize_labels

    summarize_labels(_label_files(args.labels, args.allow_empty), Path(args.out))
    return 0


def _checkpoint(run: str) -> Path:
    """best.pt of a training run folder, or the checkpoint file given."""
    path = Path(run)
    checkpoint = path / "best.pt" if path.is_dir() else path
    if not checkpoint.is_file():
        raise InputError(f"{checkpoint}: no trained model (best.pt of a 'phl train' run)")
    return checkpoint


def cmd_evaluate(args: argparse.Namespace) -> int:
    from phl.provenance import atomic_write_text
    from phl.results.evaluate import evaluate_model, group_of, metrics
    from phl.training.trainer import load_trained_model

    checkpoint = _checkpoint(args.run)

    model = load_trained_model(checkpoint, args.device)
    rows = evaluate_model(model, args.dataset, split=args.split, parts=tuple(args.parts))
    atomic_write_text(args.out, rows.to_csv(index=False))
    for group, g in rows.groupby(rows["category"].map(group_of)):
        m = metrics(g)
        print(f"{group}: {m['n_structures']} structures, RMSE E {m['energy_rmse']:.3f} kcal/mol, "
              f"F {m['forces_rmse']:.3f} kcal/mol/Å, H {m['hessian_rmse']:.3f} kcal/mol/Å²")
    return 0


def cmd_ts_search(args: argparse.Namespace) -> int:
    from phl.geometries.reactions import BUILTIN
    from phl.provenance import atomic_write_text
    from phl.results.ts_search import search_all

    checkpoint = _checkpoint(args.run)
    reactions = BUILTIN if args.reactions == "builtin" else args.reactions
    table = search_all(checkpoint, reactions, args.geometries)
    atomic_write_text(args.out, table.to_csv(index=False))
    print(table.drop(columns=["note"]).to_string(index=False) if len(table) else "no reaction with a reference TS")
    return 0


def cmd_results(args: argparse.Namespace) -> int:
    runs, seeds = args.runs, args.seeds
    if args.what == "tables":
        from phl.results.tables import write_tables

        tables = write_tables(args.evaluations, args.training, runs, seeds, args.out_dir, ts_dir=args.ts_search)
        print(f"{args.out_dir}: " + ", ".join(f"{k} ({len(v)} rows)" for k, v in tables.items()))
    else:
        from phl.results.figures import write_figures

        paths = write_figures(args.evaluations, args.training, runs, seeds, args.out_dir, args.reference_summary,
                              dpi=args.dpi)
        print(f"{args.out_dir}: {len(paths)} figure files")
    return 0


def _add_results_parsers(sub) -> None:
    p = sub.add_parser("evaluate", help="per-structure errors of a trained model on the test split and held-out data")
    p.add_argument("run", help="training run folder (its best.pt) or a checkpoint file")
    p.add_argument("dataset", help="phl data set with the split used in training")
    p.add_argument("--out", required=True, help="CSV of per-structure errors")
    p.add_argument("--split", default="paper")
    p.add_argument("--parts", nargs="+", default=["test", "heldout"], choices=("train", "val", "test", "heldout"))
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=cmd_evaluate)
    p = sub.add_parser("ts-search", help="TS search with a trained model's own Hessian against the reference TSs",
                       description="Sella (order 1) on the model from each reaction's TS guess; success (one "
                                   "imaginary mode), RMSD to the reference TS and barrier error per reaction.")
    p.add_argument("run", help="training run folder (its best.pt) or a checkpoint file")
    p.add_argument("--reactions", default="builtin", help="reaction list (YAML) or 'builtin'")
    p.add_argument("--geometries", required=True, help="folder with REACTION/{reactant,product,ts,structures}.json")
    p.add_argument("--out", required=True, help="CSV, one row per reaction")
    p.set_defaults(func=cmd_ts_search)
    p = sub.add_parser("results", help="tables (CSV, Markdown) and figures (PNG, PDF) over all runs")
    p.add_argument("what", choices=("tables", "figures"))
    p.add_argument("--evaluations", required=True, help="folder with RUN/seedS.csv from 'phl evaluate'")
    p.add_argument("--training", required=True, help="folder with RUN/seedS/log.csv from 'phl train'")
    p.add_argument("--runs", nargs="+", required=True, help="run names: ef, efh, hvp-onehot-randomized, ...")
    p.add_argument("--seeds", nargs="+", type=int, required=True)
    p.add_argument("--out-dir", required=True)
    p.add_argument("--reference-summary", help="figures: CSV of 'phl summarize' for the reference-cost figure")
    p.add_argument("--dpi", type=int, default=150, help="figures: PNG resolution (default %(default)s)")
    p.add_argument("--ts-search", help="tables: folder with RUN/seedS.csv from 'phl ts-search'")
    p.set_defaults(func=cmd_results)


def cmd_dataset(args: argparse.Namespace) -> int:
    from phl.dataset import convert, splits, summary
    from phl.dataset.store import Dataset

    if args.action == "inspect":
        with Dataset(args.dataset) as ds:
            s = summary.summarize(ds)
        print(json.dumps(s, indent=1) if args.json else summary.format_summary(s))
    elif args.action == "collect":
        files = convert.label_files_of_geometries(args.summary, args.labels)
        n = convert.merge(args.out, files)
        print(f"{args.out}: {n} structures from the labels of {args.summary}")
    elif args.action in ("merge", "import"):
        if args.action == "import":
            for p in args.inputs:
                if Path(p).suffix == ".json" or convert.is_phl_dataset(Path(p)):
                    raise InputError(f"{p}: not an ANI-layout file (use 'phl dataset merge' for phl data sets and labels)")
        n = convert.merge(args.out, args.inputs, append=args.append, category=args.category)
        print(f"{args.out}: added {n} structures from {len(args.inputs)} file(s)")
    elif args.action == "export":
        with Dataset(args.dataset) as ds:
            if args.format == "ani":
                n = convert.write_ani_layout(ds, args.out, hessians=not args.no_hessian)
                print(f"{args.out}: {len(ds)} structures in {n} ANI-layout groups")
            else:
                n = convert.write_extxyz(ds, args.out)
                print(f"{args.out}: {n} frames (energy eV, forces eV/Å)")
    elif args.action == "split":
        counts = splits.make_split(args.dataset, args.name or args.kind, args.kind, args.seed,
                                   tuple(args.fractions), tuple(args.heldout))
        print(f"{args.dataset}: split {args.name or args.kind}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from phl.training.config import TrainConfig
    from phl.training.trainer import Trainer

    settings: dict = {}
    if args.config:
        import yaml

        try:
            settings = yaml.safe_load(Path(args.config).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise InputError(f"{args.config}: cannot read the training configuration: {exc}") from None
        if not isinstance(settings, dict):
            raise InputError(f"{args.config}: the training configuration must be a mapping")
    if args.settings:
        try:
            extra = json.loads(args.settings)
        except json.JSONDecodeError as exc:
            raise InputError(f"--settings is not JSON: {exc}") from None
        if not isinstance(extra, dict):
            raise InputError("--settings must be a JSON object of TrainConfig keys")
        settings.update(extra)
    for key in ("regime", "probes", "seed", "max_epochs", "batch_size", "split", "device"):
        value = getattr(args, key)
        if value is not None:
            settings[key] = value
    config = TrainConfig.from_dict(settings)
    summary = Trainer(config, args.dataset, args.out).run(progress=not args.quiet)
    if not args.quiet:
        best = summary["best"]
        print(f"{args.out}: {summary['epochs']} epochs ({summary['stopped_by']}), best epoch {summary['best_epoch']}: "
              f"val E {best['val_energy_rmse']:.3f} kcal/mol, F {best['val_forces_rmse']:.3f} kcal/mol/Å")
    return 0


def _add_train_parser(sub) -> None:
    from phl.training.config import PROBE_MODES, REGIMES

    p = sub.add_parser("train", help="train one regime and seed on a data set (resumes in the same --out)",
                       description="Train the ANI model. Options given here override the --config file "
                                   "(YAML with the keys of phl.training.config.TrainConfig).")
    p.add_argument("dataset", help="phl data set (HDF5) with a split")
    p.add_argument("--out", required=True, help="run folder: log.csv, last.pt, best.pt, final.json")
    p.add_argument("--config", help="YAML file of training options")
    p.add_argument("--settings", help="JSON object of training options (over --config, under the options below)")
    p.add_argument("--regime", choices=REGIMES)
    p.add_argument("--probes", choices=PROBE_MODES, help="randomized, fixed or stored probes (HVP regimes)")
    p.add_argument("--seed", type=int)
    p.add_argument("--max-epochs", dest="max_epochs", type=int)
    p.add_argument("--batch-size", dest="batch_size", type=int)
    p.add_argument("--split", help="name of the split stored in the data set (default paper)")
    p.add_argument("--device", help="auto, cpu or cuda[:N] (default auto: CUDA when present)")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=cmd_train)


def _add_dataset_parser(sub) -> None:
    from phl.dataset.schema import CATEGORIES

    p = sub.add_parser("dataset", help="inspect, merge, import, export and split data sets (HDF5)")
    acts = p.add_subparsers(dest="action", required=True)
    a = acts.add_parser("inspect", help="counts by category, element and size; label coverage; splits")
    a.add_argument("dataset")
    a.add_argument("--json", action="store_true", help="print JSON")
    for name, helptext in (("merge", "merge phl data sets, label JSON files and ANI-layout files into one data set"),
                           ("import", "import ANI-layout files (OpenREACT-CHON-EFH molecules-*.h5)")):
        a = acts.add_parser(name, help=helptext)
        a.add_argument("inputs", nargs="+")
        a.add_argument("--out", required=True, help="phl data set to write (atomically)")
        a.add_argument("--append", action="store_true", help="add to --out if it exists instead of replacing it")
        a.add_argument("--category", choices=CATEGORIES,
                       help="category of imported structures (default: from the file: RTP/IRC/NMS in its name, or the labels)")
    a = acts.add_parser("collect", help="data set of every labelled structure of the geometry stage")
    a.add_argument("summary", help="geometry summary CSV of 'phl reaction summary'")
    a.add_argument("--labels", required=True, help="folder of labels REACTION/INDEX.json")
    a.add_argument("--out", required=True, help="phl data set to write (atomically)")
    a = acts.add_parser("export", help="export to the ANI layout or extended XYZ")
    a.add_argument("dataset")
    a.add_argument("--format", choices=("ani", "extxyz"), required=True)
    a.add_argument("--out", required=True)
    a.add_argument("--no-hessian", action="store_true", help="ANI layout without Hessians")
    a = acts.add_parser("split", help="store a train/val/test split in the data set")
    a.add_argument("dataset")
    a.add_argument("--kind", choices=("paper", "reaction"), default="paper",
                   help="paper: RTP 80/10/10, IRC and NMS held out; reaction: whole reactions per part")
    a.add_argument("--name", help="name of the split (default: the kind)")
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--fractions", type=float, nargs=3, default=(0.8, 0.1, 0.1), metavar=("TRAIN", "VAL", "TEST"))
    a.add_argument("--heldout", nargs="*", default=["irc", "nms"], choices=CATEGORIES,
                   help="categories kept out of training (reaction split)")
    p.set_defaults(func=cmd_dataset)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="phl", description="Projected Hessian Learning: reference data, training and results.")
    parser.add_argument("--version", action="version", version=f"phl {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details (SCF fallbacks, steps)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("compute", help="energy, forces, Hessian and reference HVPs of one geometry",
                       description="Reference calculation at wB97X-D/6-31G(d) (Gaussian-exact) by default. "
                                   "Units: Eh, Eh/Å, Eh/Å².")
    p.add_argument("geometry", help="XYZ file (Å), or a structures.json of 'phl reaction collect' with --index")
    p.add_argument("--index", type=int, help="structure number in a structures.json (its name, category and reaction "
                                             "are copied into the label)")
    add_method_options(p)
    p.add_argument("--hessian", action="store_true", help="also compute the Cartesian Hessian (Eh/Å²)")
    p.add_argument("--hvp", type=int, default=0, metavar="N",
                   help="also compute N reference Hessian-vector products by finite differences of gradients (no Hessian)")
    p.add_argument("--probe", choices=("gaussian", "rademacher", "onehot"), default="gaussian", help="probe distribution")
    p.add_argument("--seed", type=int, default=0, help="seed of the probe draw")
    p.add_argument("--json", metavar="OUT", help="write the result as JSON (atomically); else print it")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress or summary line")
    p.set_defaults(func=cmd_compute)

    p = sub.add_parser("optimize", help="minimise a geometry at the reference level (Sella, exact Hessian)",
                       description="Minimise with Sella (internal coordinates, reference Hessian), then count imaginary "
                                   "modes. Exit status 1 if not converged.")
    p.add_argument("geometry", help="XYZ file (Å)")
    add_method_options(p)
    p.add_argument("--fmax", type=float, default=0.01, help="force convergence in eV/Å (default %(default)s)")
    p.add_argument("--steps", type=int, default=200, help="maximum optimisation steps (default %(default)s)")
    p.add_argument("--json", metavar="OUT", help="write energy, converged, n_imaginary, frequencies and the geometry")
    p.set_defaults(func=cmd_optimize)

    p = sub.add_parser("summarize", help="table (CSV) of reference label files")
    p.add_argument("labels", nargs="*", help="JSON files written by 'phl compute --json', or folders of them")
    p.add_argument("--allow-empty", action="store_true", help="write a table without rows when there is no label")
    p.add_argument("--out", required=True, help="CSV file to write")
    p.set_defaults(func=cmd_summarize)

    _add_reaction_parser(sub)
    _add_results_parsers(sub)
    _add_dataset_parser(sub)
    _add_train_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="phl: %(levelname)s: %(message)s")
    try:
        return args.func(args)
    except PHLError as exc:
        print("phl: error: " + " ".join(str(exc).split()), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("phl: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
