"""``phl batch``: the workflow's batch jobs, many reactions or structures in one process.

phl batch geometries LIST --block B  every step of the reactions of block B (the sampling
                                     design's steps per reaction), resumable; block table CSV
phl batch labels BLOCK.csv --chunk C every C-th structure of a block labelled into one HDF5
                                     shard, resumable
"""

from __future__ import annotations

import argparse

from phl.cli.compute import PER_REACTION, PER_STRUCTURE, add_method_options
from phl.errors import InputError
from phl.io.atomic import check_distinct, check_output_dir, check_output_path
from phl.labels import LabelSettings
from phl.qm.method import Method


def cmd_batch(args: argparse.Namespace) -> int:
    from phl.batch.blocks import Batching, chunk

    batching = Batching.from_args(args)
    method = Method.from_args(args)
    check_output_path(args.out, "block table" if args.action == "geometries" else "label shard")
    check_distinct(
        {"reaction list": getattr(args, "reactions", None), "block table": getattr(args, "block_table", None)},
        {"--out": args.out},
    )
    if args.action == "geometries":
        from phl.batch.geometry import run_block
        from phl.geometries.design import SamplingDesign
        from phl.geometries.jobs import GeometrySettings, summary_report
        from phl.geometries.reactions import reaction_ids
        from phl.io.atomic import atomic_write_text

        settings = GeometrySettings.from_args(args)
        design = SamplingDesign.from_args(args)
        check_output_dir(args.dir, "geometry folder")
        ids = reaction_ids(args.reactions)
        block = batching.block(ids, args.block)
        table = run_block(args.reactions, block, design.steps(ids), method, settings, args.dir, not args.quiet)
        atomic_write_text(args.out, table.to_csv(index=False))
        print(f"block {args.block} ({len(block)} reactions):\n" + summary_report(table) + f" -> {args.out}")
        return 0
    from phl.batch.labels import block_structures, run_chunk

    labels = LabelSettings.from_args(args)
    if not 0 <= args.chunk < batching.label_jobs_per_block:
        raise InputError(f"--chunk must be in 0..{batching.label_jobs_per_block - 1}, got {args.chunk}")
    items = chunk(block_structures(args.block_table, args.geometries), args.chunk, batching.label_jobs_per_block)
    computed, reused, failed = run_chunk(
        items,
        args.geometries,
        method,
        labels,
        args.out,
        progress=not args.quiet,
        in_flight=batching.molecules_in_flight,
    )
    print(f"{args.out}: {len(items)} structures ({computed} computed, {reused} from an earlier run, {failed} failed)")
    return 0


def add_parsers(sub) -> None:
    from phl.batch.blocks import Batching
    from phl.geometries.design import SamplingDesign
    from phl.geometries.jobs import GeometrySettings

    p = sub.add_parser(
        "batch",
        help="batch jobs of the workflow: a block of reactions' geometry stage, a chunk of a block's labels",
        description="Many reactions or structures in one process (one start-up of Python, PySCF, CUDA). "
        "Results are written as they finish; a rerun computes only what is missing; a failing reaction "
        "or structure is recorded with its reason and the batch goes on.",
    )
    acts = p.add_subparsers(dest="action", required=True)
    a = acts.add_parser("geometries", help="the geometry stage of one block of reactions")
    a.add_argument("reactions", help="reaction list (YAML or HDF5) or 'builtin'")
    a.add_argument("--block", type=int, required=True, help="block number (0-based)")
    a.add_argument("--dir", required=True, help="folder of the records: DIR/REACTION/STEP.json")
    a.add_argument("--out", required=True, help="block table (CSV) to write: one row per reaction")
    a.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    Batching.add_arguments(a.add_argument_group("batching"), exclude=("label_jobs_per_block", "molecules_in_flight"))
    SamplingDesign.add_arguments(a.add_argument_group("sampling design"))
    add_method_options(a, charge_from=PER_REACTION)
    GeometrySettings.add_arguments(a.add_argument_group("geometry settings"))
    a.set_defaults(func=cmd_batch)

    a = acts.add_parser("labels", help="reference labels of one chunk of a block's structures, as one HDF5 shard")
    a.add_argument("block_table", help="block table (CSV) of 'phl batch geometries'")
    a.add_argument("--geometries", required=True, help="folder of REACTION/structures.json")
    a.add_argument("--chunk", type=int, required=True, help="chunk number (0-based)")
    a.add_argument("--out", required=True, help="label shard to write (.h5)")
    a.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    Batching.add_arguments(a.add_argument_group("batching"), exclude=("reactions_per_job",))
    add_method_options(a, charge_from=PER_STRUCTURE)
    LabelSettings.add_arguments(a.add_argument_group("what the label holds"))
    a.set_defaults(func=cmd_batch)
