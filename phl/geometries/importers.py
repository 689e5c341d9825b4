"""Reaction lists from public reaction sets (``phl reaction import``).

Each reader yields, per reaction of the file, either a :class:`~phl.geometries.reactions.Reaction`
(reactant, product and TS guess in one atom order, Å) or a :class:`Skipped` with the reason; a
file that is not in the layout it claims raises :class:`InputError` naming the file. The layouts:

* **Transition1x** (Schreiner et al. 2022, one HDF5 file): ``f[split][formula][rxn]`` with
  ``split`` in ``data``, ``train``, ``val``, ``test`` (a reaction can appear under ``data`` and
  under one split: the first occurrence is kept); each reaction has groups ``reactant``,
  ``product``, ``transition_state`` with ``atomic_numbers`` (N,) and ``positions`` (frames, N, 3)
  in Å, frame 0 taken. The TS is a NEB climbing image, used as the TS guess.
* **RGD1** (Zhao et al. 2023, one HDF5 file): one group per reaction id with ``elements`` (N,)
  and ``RG``, ``PG``, ``TSG`` (N, 3) in Å sharing one atom order.
* **Grambow et al. 2020** (``wb97xd3.csv`` with ``idx, rsmi, psmi, ea, dh`` and the folder
  ``wb97xd3/rxnNNNNNN/{rNNNNNN,pNNNNNN,tsNNNNNN}.log``): the last "Standard Nuclear Orientation"
  of each Q-Chem output, read with cclib.
* **Atom-mapped reaction SMILES** (a CSV with ``id, smiles`` and optionally ``charge,
  multiplicity, class``): geometries embedded with RDKit, :mod:`phl.geometries.smiles`.

:func:`import_reactions` then checks every reaction (same elements in the same order, finite
coordinates, no overlapping atoms, an even electron count (the public sets are neutral closed-shell
molecules, imported as singlets), elements the level of theory covers), applies the selection and
returns what is kept and what was skipped.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.data import chemical_symbols

from phl.checks import check_atomic_numbers
from phl.errors import InputError, PHLError
from phl.geometries.reactions import Reaction, id_problem
from phl.qm.method import Method

TRANSITION1X_SPLITS = ("data", "train", "val", "test")


@dataclass(frozen=True)
class Skipped:
    source_id: str
    reason: str


Item = Reaction | Skipped


def phl_id(name: str) -> str:
    """A reaction id phl accepts (:data:`~phl.geometries.reactions.ID_RULE`) from a set's name:
    other characters become ``_``; a name that still cannot name a folder (``..``, too long)
    raises ValueError, and its reaction is skipped with that reason."""
    rid = re.sub(r"[^A-Za-z0-9_.-]", "_", str(name).strip())
    problem = id_problem(rid)
    if problem:
        raise ValueError(problem)
    return rid


def _atoms(numbers: np.ndarray, positions: np.ndarray, what: str) -> Atoms:
    """Atoms from a set's arrays; finiteness, overlaps and the atom count are checked with the
    reaction (:meth:`Reaction.check`)."""
    numbers = check_atomic_numbers(numbers, what)
    positions = np.asarray(positions, dtype=np.float64)
    if positions.shape != (len(numbers), 3):
        raise ValueError(f"{what}: positions have shape {positions.shape}, expected ({len(numbers)}, 3)")
    return Atoms(numbers=numbers, positions=positions)


def _open_h5(path: Path):
    import h5py

    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise InputError(f"{path}: not a readable HDF5 file (empty, truncated or not HDF5): {exc}") from None


def _reaction(name: str, geoms: dict[str, Atoms]) -> Reaction:
    return Reaction(phl_id(name), geoms["reactant"], geoms["product"], ts_guess=geoms["ts"], source_id=name)


# ---- Transition1x ------------------------------------------------------------------------------------
def read_transition1x(paths: list[Path]) -> Iterator[Item]:
    roles = {"reactant": "reactant", "product": "product", "ts": "transition_state"}
    if len(paths) != 1:
        raise InputError(f"transition1x takes one HDF5 file (Transition1x.h5), got {len(paths)}")
    path = paths[0]
    seen: set[str] = set()
    with _open_h5(path) as h5:
        splits = [s for s in TRANSITION1X_SPLITS if s in h5]
        if not splits:
            raise InputError(
                f"{path}: not the Transition1x layout: no group {', '.join(TRANSITION1X_SPLITS)} "
                f"at the top (found {', '.join(list(h5)[:5]) or 'nothing'})"
            )
        for split in splits:
            for formula, group in h5[split].items():
                for name, rxn in group.items():
                    if name in seen:
                        continue
                    seen.add(name)
                    try:
                        geoms = {}
                        for role, key in roles.items():
                            if key not in rxn:
                                raise ValueError(f"no group {key!r} (in {split}/{formula}/{name})")
                            sub = rxn[key]
                            for ds in ("atomic_numbers", "positions"):
                                if ds not in sub:
                                    raise ValueError(f"no dataset {key}/{ds}")
                            frames = np.asarray(sub["positions"])
                            if frames.ndim != 3 or len(frames) == 0:
                                raise ValueError(f"{key}/positions must be (frames, N, 3), got shape {frames.shape}")
                            geoms[role] = _atoms(sub["atomic_numbers"][()], frames[0], key)
                        yield _reaction(name, geoms)
                    except (ValueError, InputError) as exc:
                        yield Skipped(name, str(exc))


# ---- RGD1 --------------------------------------------------------------------------------------------
def read_rgd1(paths: list[Path]) -> Iterator[Item]:
    import h5py

    if len(paths) != 1:
        raise InputError(f"rgd1 takes one HDF5 file (RGD1_CHNO.h5), got {len(paths)}")
    path = paths[0]
    with _open_h5(path) as h5:
        groups = [(name, g) for name, g in h5.items() if isinstance(g, h5py.Group)]
        if not groups or not any("elements" in g for _, g in groups[:50]):
            raise InputError(f"{path}: not the RGD1 layout: no reaction group with 'elements', 'RG', 'PG', 'TSG'")
        for name, rxn in groups:
            try:
                missing = [k for k in ("elements", "RG", "PG", "TSG") if k not in rxn]
                if missing:
                    raise ValueError(f"no dataset {', '.join(missing)}")
                numbers = rxn["elements"][()]
                geoms = {
                    role: _atoms(numbers, rxn[key][()], key)
                    for role, key in (("reactant", "RG"), ("product", "PG"), ("ts", "TSG"))
                }
                yield _reaction(name, geoms)
            except (ValueError, InputError) as exc:
                yield Skipped(name, str(exc))


# ---- Grambow 2020 ------------------------------------------------------------------------------------
def _last_orientation(path: Path) -> Atoms:
    import contextlib
    import io
    import logging

    import cclib

    if not path.is_file():
        raise ValueError(f"missing {path.name}")
    try:  # cclib prints its own complaints about unknown files: kept off the user's terminal
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            data = cclib.io.ccread(str(path), loglevel=logging.CRITICAL)
    except Exception as exc:  # cclib raises many kinds on a damaged log
        raise ValueError(f"{path.name}: cclib cannot parse it ({type(exc).__name__}: {exc})") from None
    if data is None or not hasattr(data, "atomcoords") or not hasattr(data, "atomnos"):
        raise ValueError(f"{path.name}: no Q-Chem 'Standard Nuclear Orientation' block")
    return _atoms(np.asarray(data.atomnos, dtype=int), np.asarray(data.atomcoords)[-1], path.name)


def _grambow_reaction(folder: Path, idx: object) -> Item:
    """One reaction of the Grambow set: its three Q-Chem logs (a process-pool worker)."""
    try:
        number = int(idx)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return Skipped(str(idx), f"idx {idx!r} is not an integer")
    name = f"rxn{number:06d}"
    try:
        geoms = {
            role: _last_orientation(folder / name / f"{prefix}{number:06d}.log")
            for role, prefix in (("reactant", "r"), ("product", "p"), ("ts", "ts"))
        }
    except (ValueError, InputError) as exc:
        return Skipped(name, str(exc))
    return _reaction(name, geoms)


def read_grambow(paths: list[Path], workers: int = 1) -> Iterator[Item]:
    import functools

    import pandas as pd

    csvs = [p for p in paths if p.suffix.lower() == ".csv"]
    folders = [p for p in paths if p.is_dir()]
    if len(csvs) != 1 or len(folders) > 1 or len(paths) != len(csvs) + len(folders):
        raise InputError(
            "grambow takes wb97xd3.csv and, optionally, its folder of logs (default: beside it, same stem)"
        )
    csv = csvs[0]
    folder = folders[0] if folders else csv.with_suffix("")
    if not csv.is_file():
        raise InputError(f"{csv}: no such file")
    if not folder.is_dir():
        raise InputError(f"{folder}: no such folder of Q-Chem logs (rxnNNNNNN/rNNNNNN.log ...)")
    try:
        table = pd.read_csv(csv)
    except (OSError, ValueError) as exc:
        raise InputError(f"{csv}: not a readable CSV: {exc}") from None
    missing = [c for c in ("idx", "rsmi", "psmi") if c not in table.columns]
    if missing:
        raise InputError(f"{csv}: not the Grambow layout: no column(s) {', '.join(missing)}")
    one = functools.partial(_grambow_reaction, folder)
    if workers <= 1:
        yield from map(one, table["idx"])
        return
    # cclib takes ~0.3 s for a 200 kB log: 36,000 logs are hours on one core
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawned, not forked: a fork of a process with threads (BLAS, JAX) can deadlock
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield from pool.map(one, table["idx"], chunksize=16)


def read_smiles(paths: list[Path]) -> Iterator[Item]:
    from phl.geometries.smiles import read_smiles as read

    return read(paths)


READERS: dict[str, Callable[..., Iterator[Item]]] = {
    "transition1x": read_transition1x,
    "rgd1": read_rgd1,
    "grambow": read_grambow,
    "smiles": read_smiles,
}


# ---- checks and selection ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Selection:
    """Which reactions of a set to keep: at most ``max_atoms`` atoms, only ``elements``, only the
    listed ``ids`` (phl ids or the set's own names), then a seeded random ``sample`` of the rest."""

    max_atoms: int | None = None
    elements: tuple[str, ...] | None = ("H", "C", "N", "O")
    sample: int | None = None
    seed: int = 0
    ids: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.max_atoms is not None and self.max_atoms < 1:
            raise InputError(f"--max-atoms must be at least 1, got {self.max_atoms}")
        if self.sample is not None and self.sample < 1:
            raise InputError(f"--sample must be at least 1, got {self.sample}")
        unknown = [e for e in self.elements or () if e not in chemical_symbols[1:]]
        if unknown:
            raise InputError(f"--elements: unknown element {unknown[0]!r}")

    def reason_to_drop(self, reaction: Reaction) -> str:
        if self.ids is not None and reaction.id not in self.ids and reaction.source_id not in self.ids:
            return "not in --ids"
        if self.max_atoms is not None and len(reaction.reactant) > self.max_atoms:
            return f"not selected: {len(reaction.reactant)} atoms > --max-atoms {self.max_atoms}"
        if self.elements is not None:
            other = sorted(set(reaction.reactant.get_chemical_symbols()) - set(self.elements))
            if other:
                return f"not selected: element(s) {' '.join(other)} outside --elements {','.join(self.elements)}"
        return ""


@dataclass
class ImportResult:
    reactions: list[Reaction] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    not_sampled: int = 0

    def skipped_table(self):
        import pandas as pd

        return pd.DataFrame([(s.source_id, s.reason) for s in self.skipped], columns=["source_id", "reason"])


def covered(method: Method, reaction: Reaction) -> str:
    """Why the level of theory cannot compute this reaction ('' when it can)."""
    from phl.qm.interface import make_engine

    try:
        make_engine(method.replace(charge=reaction.charge, multiplicity=reaction.multiplicity)).check(
            reaction.reactant, "reactant"
        )
    except PHLError as exc:
        return str(exc)
    return ""


def import_reactions(
    source: str,
    inputs: list[str | Path],
    selection: Selection | None = None,
    method: Method | None = None,
    progress: bool = False,
    workers: int = 1,
) -> ImportResult:
    """Read a public set, check every reaction, apply the selection. Whole-file problems raise
    :class:`InputError`; a bad reaction is skipped with its reason."""
    if source not in READERS:
        raise InputError(f"unknown reaction set {source!r} (one of {', '.join(READERS)})")
    selection = selection or Selection()
    method = method or Method()
    result = ImportResult()
    seen: dict[str, str] = {}
    if workers < 1:
        raise InputError(f"--workers must be at least 1, got {workers}")
    paths = [Path(p) for p in inputs]
    items = read_grambow(paths, workers) if source == "grambow" else READERS[source](paths)
    first = next(items, None)  # the reader's whole-file checks run here, before any progress bar
    items = itertools.chain([] if first is None else [first], items)
    if progress:
        from tqdm import tqdm

        items = tqdm(items, desc=f"importing {source}", unit=" reactions", mininterval=2.0)
    for item in items:
        if isinstance(item, Skipped):
            result.skipped.append(item)
            continue
        reason = selection.reason_to_drop(item)
        if not reason:
            if item.id in seen:
                reason = f"duplicate id {item.id!r} (also {seen[item.id]})"
            else:
                try:
                    item.check(f"reaction {item.source_id}")
                except InputError as exc:
                    reason = str(exc).removeprefix(f"reaction {item.source_id}: ")
        if not reason:
            reason = covered(method, item)
        if reason:
            result.skipped.append(Skipped(item.source_id, reason))
            continue
        seen[item.id] = item.source_id
        result.reactions.append(item)
    if selection.ids is not None:
        found = {r.id for r in result.reactions} | {r.source_id for r in result.reactions}
        found |= {s.source_id for s in result.skipped if s.reason != "not in --ids"}
        absent = [i for i in selection.ids if i not in found]
        if absent:
            raise InputError(f"--ids: {len(absent)} id(s) not in the input, e.g. {absent[0]!r}")
        result.skipped = [s for s in result.skipped if s.reason != "not in --ids"]
    if selection.sample is not None and selection.sample < len(result.reactions):
        rng = np.random.default_rng(selection.seed)
        keep = np.sort(rng.choice(len(result.reactions), size=selection.sample, replace=False))
        result.not_sampled = len(result.reactions) - selection.sample
        result.reactions = [result.reactions[k] for k in keep]
    return result
