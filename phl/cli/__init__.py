"""The ``phl`` command line, one module per command group. Each command is thin: it parses
options (generated from the settings dataclasses, :mod:`phl.settings`), checks every input and
output path before any work, builds typed objects and calls the library.

One error path: a failure phl anticipates (bad input, an SCF that never converges, ...) prints
one line ``phl: error: ...`` and exits 2, also for a bad option. Anything else is a bug: one line
says where the full report (traceback) was written, exit 1; ``--debug`` prints the traceback
instead. Output piped into a program that stops reading (``| head``) ends quietly."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import traceback
from collections.abc import Sequence
from datetime import datetime

from phl import __version__
from phl.cli import batch, compute, dataset, reaction, results, train
from phl.errors import PHLError

COMMANDS = (compute, reaction, batch, results, dataset, train)


class ArgumentParser(argparse.ArgumentParser):
    """argparse with phl's one-line errors (the usage is one ``--help`` away)."""

    def error(self, message: str):  # type: ignore[override]
        _error(f"{self.prog}: {message} (see '{self.prog} --help')")
        raise SystemExit(2)


def _error(message: str) -> None:
    print("phl: error: " + " ".join(str(message).split()), file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="phl", description="Projected Hessian Learning: reference data, training and results.")
    parser.add_argument("--version", action="version", version=f"phl {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details (SCF fallbacks, steps)")
    parser.add_argument("--debug", action="store_true", help="print the traceback of an unexpected error")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=ArgumentParser)
    for module in COMMANDS:
        module.add_parsers(sub)
    return parser


def _crash_report(argv: Sequence[str] | None) -> str:
    """Write the traceback of the exception being handled to a report file; return its path."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    fd, path = tempfile.mkstemp(prefix=f"phl-error-{stamp}-", suffix=".log")
    with os.fdopen(fd, "w") as fh:
        fh.write(f"phl {__version__}\ncommand: phl {' '.join(argv if argv is not None else sys.argv[1:])}\n\n")
        fh.write(traceback.format_exc())
    return path


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="phl: %(levelname)s: %(message)s"
    )
    try:
        return args.func(args)
    except PHLError as exc:
        _error(str(exc))
        return 2
    except KeyboardInterrupt:
        print("phl: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (| head): no traceback, and none at interpreter exit either
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except Exception as exc:
        if args.debug:
            raise
        report = _crash_report(argv)
        _error(
            f"unexpected {type(exc).__name__}: {exc} (a bug in phl; the full report is in {report}, "
            "rerun with --debug to print it)"
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
