"""The ``phl`` command line, one module per command group. Each command is thin: it parses
options (generated from the settings dataclasses, :mod:`phl.settings`), builds typed objects and
calls the library. Errors phl raises on purpose print one line ``phl: error: ...`` and exit 2."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from phl import __version__
from phl.cli import compute, dataset, reaction, results, train
from phl.errors import PHLError

COMMANDS = (compute, reaction, results, dataset, train)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="phl", description="Projected Hessian Learning: reference data, training and results."
    )
    parser.add_argument("--version", action="version", version=f"phl {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details (SCF fallbacks, steps)")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS:
        module.add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="phl: %(levelname)s: %(message)s"
    )
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
