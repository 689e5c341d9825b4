"""``phl reaction``: reaction lists (import from public sets, show one, plan a design) and the
geometry stage (one step of one reaction, collecting a reaction's structures, the summary table)."""

from __future__ import annotations

import argparse
from pathlib import Path

from phl.cli.compute import PER_IMPORTED, PER_REACTION, add_method_options
from phl.errors import InputError
from phl.geometries import jobs
from phl.geometries.design import SamplingDesign
from phl.geometries.jobs import NEEDS, STEPS, GeometrySettings
from phl.geometries.records import RECORD_TYPES
from phl.io.atomic import check_distinct, check_output_path
from phl.qm.method import Method


def _read_record(path: str | None, what: str):
    if path is None:
        raise InputError(f"this step needs --{what}")
    return jobs.read_record(path, what)


def cmd_summary(args: argparse.Namespace) -> int:
    import pandas as pd

    from phl.geometries.reactions import reaction_ids, read_classes
    from phl.io.atomic import atomic_write_text

    files = args.inputs
    if args.dir:  # the reaction list names the reactions: DIR/{id}/structures.json
        if len(files) != 1:
            raise InputError("summary --dir takes one reaction list")
        files = [str(Path(args.dir) / rid / "structures.json") for rid in reaction_ids(files[0])]
    if not files or not args.out:
        raise InputError(
            "summary needs structures.json files, block tables (CSV) or a reaction list and --dir, and --out"
        )
    check_output_path(args.out, "table")
    check_distinct({"input": files, "--classes": args.classes}, {"--out": args.out})
    classes = read_classes(args.classes) if args.classes else None
    tables = [jobs.read_summary_rows(p) for p in files if Path(p).suffix.lower() == ".csv"]
    records = [_read_record(p, "structures") for p in files if Path(p).suffix.lower() != ".csv"]
    if records:
        tables.append(jobs.summary_table(records))
    table = pd.concat(tables, ignore_index=True)
    if classes is not None:
        unknown = sorted(set(table["reaction"]) - set(classes))
        if unknown:
            raise InputError(
                f"--classes {args.classes}: no class for reaction {unknown[0]} ({len(unknown)} reactions without one)"
            )
        table["class"] = table["reaction"].map(classes)
    atomic_write_text(args.out, table.to_csv(index=False))
    print(jobs.summary_report(table, details=args.details) + f" -> {args.out}")
    return 0


def cmd_collect(args: argparse.Namespace) -> int:
    from phl.io.atomic import atomic_write_json

    if not args.id or not args.json:
        raise InputError("the collect step needs --id and --json")
    check_output_path(args.json, "record")
    given = [s for s in STEPS if getattr(args, s) is not None]
    check_distinct({f"--{s}": getattr(args, s) for s in STEPS}, {"--json": args.json})
    out = jobs.collect(args.id, {s: _read_record(getattr(args, s), s) for s in ("reactant", "product", "ts", *given)})
    atomic_write_json(args.json, out.to_dict())
    counts = ", ".join(f"{g} {n}" for g, n in jobs.structure_counts(out).items())
    where = f" at {out.failed_step} ({out.reason})" if out.reason else ""
    print(f"{args.id}: {out.status}{where}; {counts} -> {args.json}")
    return 0


def cmd_step(args: argparse.Namespace) -> int:
    from phl.geometries.reactions import load_each
    from phl.io.atomic import atomic_write_json

    if not args.id or not args.json:
        raise InputError(f"the {args.step} step needs --id and --json")
    check_output_path(args.json, "record")
    check_distinct(
        {"reaction list": args.reactions, **{f"--{n}": getattr(args, n, None) for n in NEEDS[args.step]}},
        {"--json": args.json},
    )
    settings = GeometrySettings.from_args(args)
    method = Method.from_args(args)
    inputs = {name: _read_record(getattr(args, name, None), name) for name in NEEDS[args.step]}
    reaction = load_each(args.reactions, [args.id])[0]
    if isinstance(reaction, InputError):  # a bad reaction is reported and skipped; the rest of the run goes on
        record = RECORD_TYPES[args.step](args.id, args.step, "failed", " ".join(str(reaction).split()))
    else:
        record = jobs.ReactionJob(reaction, method, settings).run(args.step, inputs)
    atomic_write_json(args.json, record.to_dict())
    n_imaginary = getattr(record, "n_imaginary", None)
    extra = f", {n_imaginary} imaginary mode(s)" if n_imaginary is not None else ""
    reason = f" ({record.reason})" if record.reason else ""
    print(f"{args.id} {args.step}: {record.status}{extra}{reason} -> {args.json}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from phl.geometries.importers import Selection, import_reactions
    from phl.geometries.reactions import write_h5_list
    from phl.io.atomic import atomic_write_text
    from phl.provenance import provenance

    if Path(args.out).suffix.lower() not in (".h5", ".hdf5"):
        raise InputError(f"--out {args.out}: an imported list is written as HDF5 (.h5)")
    check_output_path(args.out, "reaction list")
    skipped = args.skipped or str(Path(args.out).with_suffix("")) + ".skipped.csv"
    check_output_path(skipped, "table")
    check_distinct({"input": args.inputs, "--ids": args.ids}, {"--out": args.out, "--skipped": skipped})
    ids = None
    if args.ids:
        path = Path(args.ids)
        try:
            is_file = path.is_file()
        except OSError:  # a long comma-separated list is no file name (ENAMETOOLONG)
            is_file = False
        text = path.read_text() if is_file else args.ids.replace(",", " ")
        ids = tuple(text.split())
        if not ids:
            raise InputError(f"--ids {args.ids}: no id given")
    elements = (
        None if args.elements.lower() == "all" else tuple(e.strip() for e in args.elements.split(",") if e.strip())
    )
    selection = Selection(args.max_atoms, elements, args.sample, args.seed, ids)
    method = Method.from_args(args)
    result = import_reactions(
        args.source, args.inputs, selection, method, progress=not args.quiet, workers=args.workers
    )
    if not result.reactions:
        raise InputError(
            f"no reaction of {', '.join(map(str, args.inputs))} passed the checks and the selection "
            f"({len(result.skipped)} skipped; first reason: {result.skipped[0].reason if result.skipped else '-'})"
        )
    atomic_write_text(skipped, result.skipped_table().to_csv(index=False))
    write_h5_list(
        args.out,
        result.reactions,
        args.source,
        provenance(
            inputs=[str(Path(p).resolve()) for p in args.inputs],
            selection={
                "max_atoms": args.max_atoms,
                "elements": list(elements) if elements else "all",
                "sample": args.sample,
                "seed": args.seed,
                "ids": list(ids) if ids else None,
            },
            level_of_theory_checked=method.to_dict(),
            skipped=len(result.skipped),
            not_sampled=result.not_sampled,
        ),
    )
    sampled = f", {result.not_sampled} left out by --sample" if result.not_sampled else ""
    print(
        f"{args.out}: {len(result.reactions)} reactions from {args.source}; {len(result.skipped)} skipped "
        f"(reasons in {skipped}){sampled}"
    )
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from ase.io import write

    from phl.geometries.reactions import load_reaction
    from phl.io.atomic import atomic_path

    check_output_path(args.xyz, "XYZ file")
    check_distinct({"reaction list": args.reactions}, {"--xyz": args.xyz})
    reaction = load_reaction(args.reactions, args.id)
    frames = [("reactant", reaction.reactant), ("ts_guess", reaction.ts_guess), ("product", reaction.product)]
    images = []
    for role, atoms in frames:
        if atoms is None:
            continue
        atoms = atoms.copy()
        atoms.info = {"reaction": reaction.id, "role": role, "source_id": reaction.source_id or reaction.id}
        images.append(atoms)
    with atomic_path(args.xyz) as tmp:
        write(str(tmp), images, format="extxyz")
    roles = ", ".join(a.info["role"] for a in images)
    print(
        f"{reaction.id}: {reaction.reactant.get_chemical_formula()}, {len(reaction.reactant)} atoms; "
        f"{roles} -> {args.xyz}"
    )
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    from phl.geometries.design import predict_counts, prediction_report
    from phl.geometries.reactions import reaction_ids
    from phl.settings import read_settings_file

    base_design, base_settings = {}, {}
    if args.config:
        config = read_settings_file(args.config)
        geometries = config.get("geometries", {}) if isinstance(config, dict) else {}
        base_design = geometries.get("sampling") or {}
        base_settings = geometries.get("settings") or {}
        if args.reactions is None:
            args.reactions = geometries.get("reactions")
    if args.reactions is None:
        raise InputError("plan needs a reaction list (or --config with geometries.reactions)")
    design = SamplingDesign.from_args(args, base_design)
    settings = GeometrySettings.from_args(args, base_settings)
    ids = reaction_ids(args.reactions)
    counts = predict_counts(ids, design, settings)
    print(f"{args.reactions}: {len(ids):,} reactions")
    print(prediction_report(counts, design, compare_paper=not args.no_paper))
    return 0


def add_parsers(sub) -> None:
    p = sub.add_parser(
        "reaction",
        help="reaction lists (import, show, plan) and the geometry stage (minimise, TS, IRC, NMS, collect, summary)",
        description="Reaction lists and the geometry stage. Each step writes one JSON record with status "
        "ok/failed/skipped; a failing reaction is recorded, never fatal (exit 0).",
    )
    steps = p.add_subparsers(dest="step", required=True, metavar="STEP")
    for step in STEPS:
        s = steps.add_parser(
            step, help=f"the {step} step of one reaction", description=f"The {step} step of one reaction."
        )
        s.add_argument("reactions", help="reaction list (YAML or HDF5); 'builtin' for the built-in set")
        s.add_argument("--id", help="reaction id")
        for name in NEEDS[step]:
            s.add_argument(f"--{name}", help=f"JSON record of the {name} step")
        s.add_argument("--json", help="record to write (atomically)")
        add_method_options(s, charge_from=PER_REACTION)
        GeometrySettings.add_arguments(s.add_argument_group("geometry settings"))
        s.set_defaults(func=cmd_step)

    s = steps.add_parser("collect", help="the structures a reaction contributes (structures.json)")
    s.add_argument("--id", help="reaction id")
    for name in STEPS:
        s.add_argument(
            f"--{name}",
            help=f"JSON record of the {name} step" + (" (if the design ran it)" if name in ("irc", "nms") else ""),
        )
    s.add_argument("--json", help="record to write (atomically)")
    s.set_defaults(func=cmd_collect)

    s = steps.add_parser("summary", help="table of the geometry stage (CSV): outcome and structures per reaction")
    s.add_argument(
        "inputs",
        nargs="*",
        help="structures.json files, block tables (CSV) of 'phl batch geometries', or a reaction list with --dir",
    )
    s.add_argument("--dir", help="folder with REACTION/structures.json for the reactions of the list")
    s.add_argument("--out", help="CSV table to write")
    s.add_argument("--details", type=int, default=50, help="reactions listed one by one at most (default %(default)s)")
    s.add_argument(
        "--classes",
        help="CSV with columns id, class (e.g. the SMILES list the reactions were imported from): a class column "
        "and the reactions kept per class",
    )
    s.set_defaults(func=cmd_summary)

    s = steps.add_parser(
        "import",
        help="a reaction list (HDF5) from a public reaction set (transition1x, rgd1, grambow) or mapped SMILES",
        description="Read a public reaction set, check every reaction (same elements in the same order in "
        "reactant, product and TS; finite coordinates; no overlapping atoms; closed shell; elements the level "
        "of theory covers), apply the selection, and write phl's compact HDF5 reaction list. Each skipped "
        "reaction is listed with its reason in the skipped CSV. See README 'Paper scale' for the files.",
    )
    s.add_argument("source", choices=("transition1x", "rgd1", "grambow", "smiles"))
    s.add_argument(
        "inputs",
        nargs="+",
        help="transition1x: Transition1x.h5; rgd1: RGD1_CHNO.h5; grambow: wb97xd3.csv [wb97xd3/]; "
        "smiles: a CSV with columns id, smiles (R>>P, every atom mapped) [, charge, multiplicity, class]",
    )
    s.add_argument("--out", required=True, help="reaction list to write (.h5)")
    s.add_argument("--skipped", help="CSV of skipped reactions and reasons (default: OUT without .h5 + .skipped.csv)")
    s.add_argument("--max-atoms", type=int, help="keep reactions with at most this many atoms")
    s.add_argument(
        "--elements",
        default="H,C,N,O",
        help="keep reactions of these elements only, comma-separated, or 'all' (default %(default)s)",
    )
    s.add_argument(
        "--sample", type=int, help="keep a seeded random sample of this many reactions (after the other filters)"
    )
    s.add_argument("--seed", type=int, default=0, help="seed of --sample (default %(default)s)")
    s.add_argument(
        "--ids", help="keep only these reactions: a file of ids (phl ids or the set's names) or a comma-separated list"
    )
    s.add_argument(
        "--workers", type=int, default=1, help="processes parsing Q-Chem logs (grambow; ~0.3 s per log each)"
    )
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_method_options(s, charge_from=PER_IMPORTED)
    s.set_defaults(func=cmd_import)

    s = steps.add_parser("show", help="one reaction of a list as a three-frame XYZ: reactant, TS guess, product")
    s.add_argument("reactions", help="reaction list (YAML or HDF5) or 'builtin'")
    s.add_argument("--id", required=True, help="reaction id")
    s.add_argument(
        "--xyz", required=True, help="extended XYZ file to write (one frame per geometry, role in the comment)"
    )
    s.set_defaults(func=cmd_show)

    s = steps.add_parser(
        "plan",
        help="the structures a sampling design makes of a reaction list (RTP, IRC, NMS), before anything runs",
        description="Expected structure counts per group for a reaction list, sampling design and geometry "
        "settings, beside the paper's counts. Settings come from --config (a workflow configuration file: "
        "its geometries section) and the options below.",
    )
    s.add_argument("reactions", nargs="?", help="reaction list (default: geometries.reactions of --config)")
    s.add_argument("--config", help="workflow configuration (YAML) whose geometries section is used")
    s.add_argument("--no-paper", action="store_true", help="do not compare with the paper's counts")
    SamplingDesign.add_arguments(s.add_argument_group("sampling design"))
    GeometrySettings.add_arguments(s.add_argument_group("geometry settings"))
    s.set_defaults(func=cmd_plan)
