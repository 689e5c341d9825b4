"""The seeds each training run of a study was trained with: one list for all runs, or one per run
(``training.seeds_per_regime`` in the workflow; E-F-H often has fewer, its epochs cost more)."""

from __future__ import annotations

from phl.errors import InputError

#: Seeds of a study: the same for every run, or per run (E-F-H often has fewer: its epochs cost more).
Seeds = list[int] | dict[str, list[int]]


def seeds_of(seeds: Seeds, run: str) -> list[int]:
    """The seeds ``run`` was trained with."""
    if isinstance(seeds, dict):
        if run not in seeds:
            raise InputError(f"no seeds given for run {run}")
        return list(seeds[run])
    return list(seeds)


def parse_run_seeds(runs: list[str], seeds: list[int], overrides: list[str] | None) -> Seeds:
    """``--seeds`` for every run, with ``--run-seeds RUN=S,S,...`` overriding it for some."""
    if not overrides:
        return list(seeds)
    out = {run: list(seeds) for run in runs}
    for text in overrides:
        run, _, values = str(text).partition("=")
        if run not in out or not values:
            raise InputError(f"--run-seeds {text!r}: expected RUN=S,S,... with RUN one of {', '.join(runs)}")
        try:
            out[run] = [int(v) for v in values.split(",") if v.strip()]
        except ValueError:
            raise InputError(f"--run-seeds {text!r}: seeds must be integers") from None
    return out
