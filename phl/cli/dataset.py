"""``phl dataset``: inspect, merge, import, collect, export and split data sets (HDF5)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from phl.errors import InputError
from phl.io.atomic import check_distinct, check_output_path
from phl.registry import CATEGORIES


def cmd_dataset(args: argparse.Namespace) -> int:
    from phl.dataset import convert, splits, summary
    from phl.dataset.store import Dataset

    out = getattr(args, "out", None)
    if out and args.action == "export":
        check_output_path(out, "export")
    elif out:
        check_output_path(out, "data set")
    if out:
        inputs = [getattr(args, k, None) for k in ("dataset", "summary")] + list(getattr(args, "inputs", None) or [])
        check_distinct({"input": inputs, "--labels": getattr(args, "labels", None)}, {"--out": out})
    if args.action == "inspect":
        with Dataset(args.dataset) as ds:
            s = summary.summarize(ds)
        print(json.dumps(s, indent=1) if args.json else summary.format_summary(s))
    elif args.action == "collect":
        from phl.dataset.store import DatasetWriter

        shards, wanted, failures = convert.shards_of_geometries(args.summary, args.labels)
        with DatasetWriter(args.out, sources=[args.summary, *args.labels]) as writer:
            for label in convert.labels_of_shards(shards, wanted):
                writer.add(convert.structure_of_label(label, f"{label.reaction}/{label.name}"))
            n = writer.n_added
        for f in failures[:20]:
            print(f"not labelled: {f.reaction}/{f.name}: {f.reason}")
        lost = f"; {len(failures)} structure(s) could not be labelled (listed in the shards)" if failures else ""
        print(f"{args.out}: {n} structures from {len(shards)} label shard(s){lost}")
    elif args.action in ("merge", "import"):
        if args.action == "import":
            for p in args.inputs:
                if Path(p).suffix == ".json" or convert.is_phl_dataset(Path(p)):
                    raise InputError(
                        f"{p}: not an ANI-layout file (use 'phl dataset merge' for phl data sets and labels)"
                    )
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
        counts = splits.make_split(
            args.dataset, args.name or args.kind, args.kind, args.seed, tuple(args.fractions), tuple(args.heldout)
        )
        print(f"{args.dataset}: split {args.name or args.kind}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


def add_parsers(sub) -> None:
    p = sub.add_parser("dataset", help="inspect, merge, import, export and split data sets (HDF5)")
    acts = p.add_subparsers(dest="action", required=True)
    a = acts.add_parser("inspect", help="counts by category, element and size; label coverage; splits")
    a.add_argument("dataset")
    a.add_argument("--json", action="store_true", help="print JSON")
    for name, helptext in (
        ("merge", "merge phl data sets, label JSON files and ANI-layout files into one data set"),
        ("import", "import ANI-layout files (OpenREACT-CHON-EFH molecules-*.h5)"),
    ):
        a = acts.add_parser(name, help=helptext)
        a.add_argument("inputs", nargs="+")
        a.add_argument("--out", required=True, help="phl data set to write (atomically)")
        a.add_argument("--append", action="store_true", help="add to --out if it exists instead of replacing it")
        a.add_argument(
            "--category",
            choices=CATEGORIES,
            help="category of imported structures (default: from the file: RTP/IRC/NMS in its name, or the labels)",
        )
    a = acts.add_parser("collect", help="data set of every labelled structure of the geometry stage")
    a.add_argument("summary", help="geometry summary CSV of 'phl reaction summary'")
    a.add_argument(
        "--labels", required=True, nargs="+", help="label shards (.h5) of 'phl batch labels', or folders of them"
    )
    a.add_argument("--out", required=True, help="phl data set to write (atomically)")
    a = acts.add_parser("export", help="export to the ANI layout or extended XYZ")
    a.add_argument("dataset")
    a.add_argument("--format", choices=("ani", "extxyz"), required=True)
    a.add_argument("--out", required=True)
    a.add_argument("--no-hessian", action="store_true", help="ANI layout without Hessians")
    a = acts.add_parser("split", help="store a train/val/test split in the data set")
    a.add_argument("dataset")
    a.add_argument(
        "--kind",
        choices=("paper", "reaction"),
        default="paper",
        help="paper: RTP 80/10/10, IRC and NMS held out; reaction: whole reactions per part",
    )
    a.add_argument("--name", help="name of the split (default: the kind)")
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--fractions", type=float, nargs=3, default=(0.8, 0.1, 0.1), metavar=("TRAIN", "VAL", "TEST"))
    a.add_argument(
        "--heldout",
        nargs="*",
        default=["irc", "nms"],
        choices=CATEGORIES,
        help="categories kept out of training (reaction split)",
    )
    p.set_defaults(func=cmd_dataset)
