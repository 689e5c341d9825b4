"""``phl train``: one regime and seed on a data set (resumes in the same --out)."""

from __future__ import annotations

import argparse

from phl.io.atomic import check_output_dir
from phl.settings import layered
from phl.training.config import TrainConfig


def cmd_train(args: argparse.Namespace) -> int:
    from phl.training.trainer import Trainer

    config = layered(TrainConfig, args.config, args.settings, TrainConfig.given(args))
    check_output_dir(args.out, "run folder")
    summary = Trainer(config, args.dataset, args.out).run(progress=not args.quiet)
    if not args.quiet:
        best = summary["best"]
        print(
            f"{args.out}: {summary['epochs']} epochs ({summary['stopped_by']}), best epoch {summary['best_epoch']}: "
            f"val E {best['val_energy_rmse']:.3f} kcal/mol, F {best['val_forces_rmse']:.3f} kcal/mol/Å"
        )
    return 0


def add_parsers(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train one regime and seed on a data set (resumes in the same --out)",
        description="Train an energy model (the paper's ANI by default, any class with --model). "
        "Options given here override --settings, which overrides the --config file "
        "(YAML with the keys of the options below).",
    )
    p.add_argument("dataset", help="phl data set (HDF5) with a split")
    p.add_argument("--out", required=True, help="run folder: log.csv, last.pt, best.pt, final.json")
    p.add_argument("--config", help="YAML file of training options")
    p.add_argument("--settings", help="JSON object of training options (over --config, under the options below)")
    p.add_argument("-q", "--quiet", action="store_true")
    TrainConfig.add_arguments(p.add_argument_group("training options"))
    p.set_defaults(func=cmd_train)
