"""``phl reaction``: one step of the geometry stage for one reaction, collecting a reaction's
structures, and the summary table of a run."""

from __future__ import annotations

import argparse
from pathlib import Path

from phl.cli.compute import add_method_options
from phl.errors import InputError
from phl.geometries import jobs
from phl.geometries.jobs import STEPS, GeometrySettings
from phl.geometries.records import RECORD_TYPES
from phl.io.atomic import check_output_path
from phl.qm.method import Method


def _read_record(path: str | None, what: str):
    if path is None:
        raise InputError(f"this step needs --{what}")
    return jobs.read_record(path, what)


def _summary(args: argparse.Namespace) -> int:
    from phl.io.atomic import atomic_write_text

    files = ([args.reactions] if args.reactions else []) + args.inputs
    if args.dir:  # the reaction list names the reactions: DIR/{id}/structures.json
        from phl.geometries.reactions import reaction_ids, reaction_list_path

        if len(files) != 1:
            raise InputError("summary --dir takes one reaction list")
        files = [str(Path(args.dir) / rid / "structures.json") for rid in reaction_ids(reaction_list_path(files[0]))]
    if not files or not args.out:
        raise InputError("summary needs structures.json files (or a reaction list and --dir) and --out")
    check_output_path(args.out, "table")
    table = jobs.summary_table([_read_record(p, "structures") for p in files])
    atomic_write_text(args.out, table.to_csv(index=False))
    print(jobs.summary_report(table) + f" -> {args.out}")
    return 0


def cmd_reaction(args: argparse.Namespace) -> int:
    from phl.io.atomic import atomic_write_json

    if args.step == "summary":
        return _summary(args)
    if not args.id or not args.json:
        raise InputError(f"the {args.step} step needs --id and --json")
    check_output_path(args.json, "record")
    settings = GeometrySettings.from_args(args)
    method = Method.from_args(args)
    if args.step == "collect":
        out = jobs.collect(args.id, {s: _read_record(getattr(args, s), s) for s in STEPS})
        atomic_write_json(args.json, out.to_dict())
        counts = ", ".join(f"{g} {n}" for g, n in jobs.structure_counts(out).items())
        print(
            f"{args.id}: {out.status}"
            + (f" at {out.failed_step} ({out.reason})" if out.reason else "")
            + f"; {counts} -> {args.json}"
        )
        return 0
    from phl.geometries.reactions import load_reaction, reaction_list_path

    needs = {
        "reactant": (),
        "product": (),
        "ts": ("reactant", "product"),
        "irc": ("ts", "reactant", "product"),
        "nms": ("irc",),
    }[args.step]
    inputs = {name: _read_record(getattr(args, name), name) for name in needs}
    try:
        reaction = load_reaction(reaction_list_path(args.reactions or "builtin"), args.id)
    except InputError as exc:  # a bad reaction is reported and skipped; the rest of the run goes on
        record = RECORD_TYPES[args.step](args.id, args.step, "failed", " ".join(str(exc).split()))
    else:
        record = jobs.ReactionJob(reaction, method, settings).run(args.step, inputs)
    atomic_write_json(args.json, record.to_dict())
    n_imaginary = getattr(record, "n_imaginary", None)
    extra = f", {n_imaginary} imaginary mode(s)" if n_imaginary is not None else ""
    print(
        f"{args.id} {args.step}: {record.status}{extra}"
        + (f" ({record.reason})" if record.reason else "")
        + f" -> {args.json}"
    )
    return 0


def add_parsers(sub) -> None:
    p = sub.add_parser(
        "reaction",
        help="geometry stage for one reaction: minimise, TS, IRC, NMS, collect; summary",
        description="One step of the geometry stage for one reaction of a reaction list (YAML, see "
        "docs/geometries.md), written as one JSON record with status ok/failed/"
        "skipped. A failing reaction is recorded, never fatal (exit 0).",
    )
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
    GeometrySettings.add_arguments(p.add_argument_group("geometry settings"))
    p.set_defaults(func=cmd_reaction)
