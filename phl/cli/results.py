"""``phl evaluate``, ``phl ts-search`` and ``phl results``: accuracy of trained models, TS
searches with their Hessians, and the tables and figures over all runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from phl.errors import InputError
from phl.io.atomic import check_distinct, check_output_dir, check_output_path


def checkpoint_of(run: str) -> Path:
    """best.pt of a training run folder, or the checkpoint file given."""
    path = Path(run)
    checkpoint = path / "best.pt" if path.is_dir() else path
    if not checkpoint.is_file():
        raise InputError(f"{checkpoint}: no trained model (best.pt of a 'phl train' run)")
    return checkpoint


def cmd_evaluate(args: argparse.Namespace) -> int:
    from phl.io.atomic import atomic_write_text
    from phl.models.checkpoint import model_of, read_checkpoint, trained_level_of_theory
    from phl.models.device import resolve_device
    from phl.results.evaluate import HESSIAN_BATCH_SIZE, evaluate_model, group_summaries

    check_output_path(args.out, "table")
    check_distinct({"run": args.run, "dataset": args.dataset}, {"--out": args.out})
    path, device = checkpoint_of(args.run), resolve_device(args.device)
    record = read_checkpoint(path, device)
    hessian_batch_size = HESSIAN_BATCH_SIZE if args.hessian_batch_size is None else args.hessian_batch_size
    rows = evaluate_model(
        model_of(record, path, device),
        args.dataset,
        split=args.split,
        parts=tuple(args.parts),
        hessian_batch_size=hessian_batch_size,
        trained_on=trained_level_of_theory(record, path),
    )
    atomic_write_text(args.out, rows.to_csv(index=False))
    print(group_summaries(rows))
    return 0


def cmd_ts_search(args: argparse.Namespace) -> int:
    from phl.io.atomic import atomic_write_text
    from phl.results.ts_search import search_all

    check_output_path(args.out, "table")
    check_distinct({"run": args.run, "--reactions": args.reactions}, {"--out": args.out})
    table = search_all(checkpoint_of(args.run), args.reactions, args.geometries)
    atomic_write_text(args.out, table.to_csv(index=False))
    print(table.drop(columns=["note"]).to_string(index=False) if len(table) else "no reaction with a reference TS")
    return 0


def cmd_results(args: argparse.Namespace) -> int:
    from phl.results.seeds import parse_run_seeds

    runs = args.runs
    seeds = parse_run_seeds(runs, args.seeds, args.run_seeds)
    check_output_dir(args.out_dir)
    if args.what == "tables":
        from phl.results.findings import headline, write_findings
        from phl.results.tables import write_tables

        if args.landing:
            check_output_path(args.landing, "page")
            check_distinct({"--geometry-summary": args.geometry_summary}, {"--landing": args.landing})
        if args.geometry_summary and not Path(args.geometry_summary).is_file():
            raise InputError(f"--geometry-summary {args.geometry_summary}: no such file ('phl reaction summary')")
        tables = write_tables(args.evaluations, args.training, runs, seeds, args.out_dir, ts_dir=args.ts_search)
        print(f"{args.out_dir}: " + ", ".join(f"{k} ({len(v)} rows)" for k, v in tables.items()))
        found = write_findings(args.out_dir, args.out_dir, args.geometry_summary, args.landing)
        print(
            f"{Path(args.out_dir) / 'findings.md'}: {len(found.rows)} numbers; "
            + ("not reported: " + "; ".join(found.missing) if found.missing else "every table present")
        )
        for line in headline(found.table()):
            print(f"  {line}")
    else:
        from phl.results.figures import write_figures

        paths = write_figures(
            args.evaluations, args.training, runs, seeds, args.out_dir, args.reference_summary, dpi=args.dpi
        )
        print(f"{args.out_dir}: {len(paths)} figure files")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from phl.results.compare import READS, parse_tables, write_comparison

    out = check_output_path(args.out, "comparison")
    tables = parse_tables(args.tables)
    inputs = {f"{label}=": [folder / name for name in READS] for label, folder in tables.items()}
    check_distinct(inputs, {"--out": out, "--out (its CSV)": out.with_suffix(".csv")})
    df, notes = write_comparison(tables, out)
    print(f"{args.out}: {len(df)} rows ({', '.join(tables)}); the same as CSV: {Path(args.out).with_suffix('.csv')}")
    for note in notes:
        print(f"  warning: {note}")
    return 0


def add_parsers(sub) -> None:
    p = sub.add_parser("evaluate", help="per-structure errors of a trained model on the test split and held-out data")
    p.add_argument("run", help="training run folder (its best.pt) or a checkpoint file")
    p.add_argument("dataset", help="phl data set with the split used in training")
    p.add_argument("--out", required=True, help="CSV of per-structure errors")
    p.add_argument("--split", default="paper")
    p.add_argument("--parts", nargs="+", default=["test", "heldout"], choices=("train", "val", "test", "heldout"))
    p.add_argument("--device", default="cpu")
    p.add_argument(
        "--hessian-batch-size",
        type=int,
        default=None,
        help="structures per batch when model Hessians are computed (default 8; larger can pay on a GPU)",
    )
    p.set_defaults(func=cmd_evaluate)
    p = sub.add_parser(
        "ts-search",
        help="TS search with a trained model's own Hessian against the reference TSs",
        description="Sella (order 1) on the model from each reaction's TS guess; success (one "
        "imaginary mode), RMSD to the reference TS and barrier error per reaction.",
    )
    p.add_argument("run", help="training run folder (its best.pt) or a checkpoint file")
    p.add_argument("--reactions", default="builtin", help="reaction list (YAML) or 'builtin'")
    p.add_argument("--geometries", required=True, help="folder with REACTION/{reactant,product,ts,structures}.json")
    p.add_argument("--out", required=True, help="CSV, one row per reaction")
    p.set_defaults(func=cmd_ts_search)
    p = sub.add_parser(
        "results",
        help="tables (CSV, Markdown) with the findings page (findings.md, findings.csv), and figures (PNG, PDF)",
    )
    p.add_argument("what", choices=("tables", "figures"))
    p.add_argument("--evaluations", required=True, help="folder with RUN/seedS.csv from 'phl evaluate'")
    p.add_argument("--training", required=True, help="folder with RUN/seedS/log.csv from 'phl train'")
    p.add_argument("--runs", nargs="+", required=True, help="run names: ef, efh, hvp-onehot-randomized, ...")
    p.add_argument("--seeds", nargs="+", type=int, required=True, help="seeds of every run")
    p.add_argument(
        "--run-seeds",
        nargs="+",
        metavar="RUN=S,S",
        help="other seeds for some runs, e.g. efh=0,1,2 (E-F-H epochs cost ~20x an HVP epoch)",
    )
    p.add_argument("--out-dir", required=True)
    p.add_argument("--reference-summary", help="figures: CSV of 'phl summarize' for the reference-cost figure")
    p.add_argument("--dpi", type=int, default=150, help="figures: PNG resolution (default %(default)s)")
    p.add_argument("--ts-search", help="tables: folder with RUN/seedS.csv from 'phl ts-search'")
    p.add_argument(
        "--geometry-summary", help="tables: the geometry stage's summary.csv, for the findings' reaction yields"
    )
    p.add_argument("--landing", help="tables: also write the findings as the report's landing page (.rst)")
    p.set_defaults(func=cmd_results)
    p = sub.add_parser(
        "compare",
        help="runs side by side (e.g. ANI and MACE on the same data): RMSEs, Hessian change vs E-F, epoch cost",
    )
    p.add_argument("tables", nargs="+", metavar="LABEL=FOLDER", help="a label and the tables folder of a run")
    p.add_argument("--out", required=True, help="Markdown file (the same rows as CSV beside it)")
    p.set_defaults(func=cmd_compare)
