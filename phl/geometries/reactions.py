"""Reaction lists: the input of the geometry stage, in one of two formats.

**YAML** (written by hand): a top-level ``reactions`` list; each entry has

    id: hcn_hnc                  # unique, a file name: letters, digits, '_', '-', '.' (at most 128,
                                 # starting with a letter, a digit or '_')
    charge: 0                    # optional, default 0
    multiplicity: 1              # optional, default 1
    reactant: |                  # XYZ block (symbol x y z per line, Å) ...
      H 0.0 0.0 -1.066
      ...
    product: products/x.xyz      # ... or a path, relative to the YAML file
    ts_guess: |                  # optional transition-state guess, same atom order
      ...

Reactant, product and TS guess must list the same elements in the same order. Everything is
checked at load, with the reaction named in each message.

**HDF5** (``.h5``, written by ``phl reaction import`` from public reaction sets, compact at
12,000 reactions: ids are read in milliseconds, one reaction by slicing): attributes ``format``
(``phl-reactions``), ``version``, ``source`` and ``provenance`` (JSON); per reaction (length n)
``ids``, ``source_ids`` (strings), ``charge``, ``multiplicity``, ``natoms``, ``offset`` (int64),
``has_ts`` (bool); per atom of all reactions in order (length sum of natoms) ``numbers`` and
``reactant``, ``product``, ``ts_guess`` (float64, Å). One ``numbers`` array per reaction makes the
shared atom order a property of the format.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms

from phl.checks import check_atomic_numbers, check_charge_multiplicity, validate_atoms
from phl.errors import InputError
from phl.io.xyz import read_xyz

BUILTIN = Path(__file__).resolve().parents[1] / "data" / "reactions.yaml"
#: a reaction id names the folder of its records (results/geometries/ID/): a file-name component
#: on every file system, never '.', '..' or an option ('-x'), of bounded length
MAX_ID_LENGTH = 128
_ID = re.compile(rf"^[A-Za-z0-9_][A-Za-z0-9_.-]{{0,{MAX_ID_LENGTH - 1}}}$")
ID_RULE = f"1-{MAX_ID_LENGTH} letters, digits, '_', '-' or '.', starting with a letter, a digit or '_'"


H5_FORMAT = "phl-reactions"
H5_VERSION = 1
H5_SUFFIXES = (".h5", ".hdf5")


@dataclass
class Reaction:
    id: str
    reactant: Atoms
    product: Atoms
    charge: int = 0
    multiplicity: int = 1
    ts_guess: Atoms | None = None
    source_id: str = ""  # the reaction's name in the public set it was imported from

    def check(self, where: str) -> None:
        """Same elements in the same order in every geometry, each a valid molecule, and a charge
        and multiplicity the electron count allows."""
        ref = self.reactant.get_chemical_symbols()
        geoms = {"reactant": self.reactant, "product": self.product, "ts_guess": self.ts_guess}
        for key, atoms in geoms.items():
            if atoms is None:
                continue
            if atoms.get_chemical_symbols() != ref:
                what = "atom counts" if len(atoms) != len(ref) else "element order"
                raise InputError(
                    f"{where}: reactant and {key} have different {what} "
                    f"({''.join(ref)} vs {''.join(atoms.get_chemical_symbols())})"
                )
            validate_atoms(atoms, f"{where} {key}")
        check_charge_multiplicity(self.reactant, self.charge, self.multiplicity, where)


def valid_id(rid: object) -> bool:
    return isinstance(rid, str) and bool(_ID.fullmatch(rid))


def id_problem(rid: object) -> str:
    """Why ``rid`` cannot be a reaction id ('' when it can)."""
    if valid_id(rid):
        return ""
    shown = repr(rid) if not isinstance(rid, str) or len(rid) <= 40 else repr(rid[:40] + "...") + f" ({len(rid)} chars)"
    return f"'id' {shown} is not a safe file name: it must be {ID_RULE}"


def _geometry(value, base: Path, where: str) -> Atoms:
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{where}: expected an XYZ block or a file path")
    lines = [ln for ln in value.strip().splitlines() if ln.strip()]
    if len(lines) == 1 and len(lines[0].split()) == 1:  # a path
        return read_xyz(base / lines[0].strip())
    symbols, positions = [], []
    for ln in lines:
        parts = ln.split()
        if len(parts) != 4:
            raise InputError(f"{where}: expected 'symbol x y z', got {ln!r}")
        try:
            positions.append([float(v) for v in parts[1:]])
        except ValueError:
            raise InputError(f"{where}: coordinates are not numbers: {ln!r}") from None
        symbols.append(parts[0])
    try:
        atoms = Atoms(symbols=symbols, positions=positions)
    except (KeyError, ValueError) as exc:
        raise InputError(f"{where}: unknown element {exc}") from None
    validate_atoms(atoms, where)
    return atoms


def _read_entries(path: Path) -> list:
    import yaml

    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"{path}: cannot read the reaction list: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("reactions"), list) or not data["reactions"]:
        raise InputError(f"{path}: expected a non-empty 'reactions' list")
    return data["reactions"]


def read_classes(path: str | Path) -> dict[str, str]:
    """Reaction id -> class from a CSV with columns ``id`` and ``class`` (a SMILES reaction list such as
    ``resources/reactions/science.csv``): the classes the geometry summary and the findings count
    reactions by."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file of reaction classes (a CSV with columns id, class)")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a CSV file ({str(exc).strip()})") from None
    missing = [c for c in ("id", "class") if c not in table.columns]
    if missing:
        raise InputError(f"{path}: no {' or '.join(missing)} column (reaction classes need columns id, class)")
    repeated = sorted(table["id"][table["id"].duplicated()].unique())
    if repeated:
        raise InputError(f"{path}: reaction id {repeated[0]} appears more than once")
    return dict(zip(table["id"], table["class"].str.strip()))


def reaction_list_path(name: str | Path) -> Path:
    """The reaction list a user names: ``builtin`` for the built-in set, else a YAML or HDF5 file."""
    if str(name) == "builtin":
        return BUILTIN
    path = Path(name)
    if not path.is_file():
        raise InputError(
            f"{path}: no such reaction list ('builtin', a YAML list, or an HDF5 list written by "
            "'phl reaction import'; see README 'Paper scale')"
        )
    if path.suffix.lower() == ".csv":
        raise InputError(
            f"{path}: a CSV is not a reaction list; import a SMILES list first: phl reaction import smiles {path} "
            f"--out {path.with_suffix('.h5')} (then use the .h5)"
        )
    return path


def is_h5_list(path: Path) -> bool:
    return path.suffix.lower() in H5_SUFFIXES


def reaction_ids(path: str | Path = BUILTIN) -> list[str]:
    """The ids of a reaction list, in file order (each entry is checked only when loaded)."""
    path = reaction_list_path(path)
    if is_h5_list(path):
        with _open_h5_list(path) as h5:
            ids = list(h5["ids"].asstr()[:])
    else:
        ids = [e.get("id") if isinstance(e, dict) else None for e in _read_entries(path)]
    for k, rid in enumerate(ids):
        if not valid_id(rid):
            raise InputError(f"{path}: reaction {k + 1}: {id_problem(rid)}")
    dup = sorted(rid for rid, n in Counter(ids).items() if n > 1)
    if dup:
        raise InputError(f"{path}: duplicate reaction id(s) {', '.join(dup)}")
    return ids


def _parse_entry(entry: dict, k: int, path: Path) -> Reaction:
    rid = entry.get("id") if isinstance(entry, dict) else None
    where = f"{path}: reaction {rid or k + 1}"
    if not isinstance(entry, dict):
        raise InputError(f"{where}: expected a mapping")
    unknown = sorted(set(entry) - {"id", "charge", "multiplicity", "reactant", "product", "ts_guess", "source_id"})
    if unknown:
        raise InputError(f"{where}: unknown key(s) {', '.join(unknown)}")
    if not valid_id(rid):
        raise InputError(f"{where}: {id_problem(rid)}")
    for key in ("reactant", "product"):
        if key not in entry:
            raise InputError(f"{where}: missing {key!r}")
    geoms = {
        key: _geometry(entry[key], path.parent, f"{where} {key}")
        for key in ("reactant", "product", "ts_guess")
        if key in entry
    }
    charge, mult = entry.get("charge", 0), entry.get("multiplicity", 1)
    if not isinstance(charge, int) or isinstance(charge, bool) or not isinstance(mult, int) or isinstance(mult, bool):
        raise InputError(f"{where}: charge and multiplicity must be integers")
    source_id = str(entry.get("source_id", ""))
    reaction = Reaction(rid, geoms["reactant"], geoms["product"], charge, mult, geoms.get("ts_guess"), source_id)
    reaction.check(where)
    return reaction


def load_reactions(path: str | Path = BUILTIN) -> list[Reaction]:
    """Every reaction of the list; the first bad entry raises :class:`InputError` naming it."""
    path = reaction_list_path(path)
    ids = reaction_ids(path)
    if is_h5_list(path):
        with _open_h5_list(path) as h5:
            return [_h5_reaction(h5, k, path) for k in range(len(ids))]
    return [_parse_entry(e, k, path) for k, e in enumerate(_read_entries(path))]


def load_reaction(path: str | Path, rid: str) -> Reaction:
    """One reaction of the list, checked alone (a bad neighbour does not stop it)."""
    return load_selected(path, [rid])[0]


def load_selected(path: str | Path, wanted: list[str]) -> list[Reaction]:
    """The named reactions of a list, in the order asked; the first bad one raises."""
    loaded = load_each(path, wanted)
    bad = next((r for r in loaded if isinstance(r, InputError)), None)
    if bad is not None:
        raise bad
    return loaded  # type: ignore[return-value]


def load_each(path: str | Path, wanted: list[str]) -> list[Reaction | InputError]:
    """The named reactions of a list, in the order asked, each checked alone: a reaction, or the
    error that makes it unusable (for jobs that record a bad reaction and go on). The list is read
    once; an id not in it is an error of the whole call."""
    path = reaction_list_path(path)
    ids = reaction_ids(path)
    index = {rid: k for k, rid in enumerate(ids)}
    missing = [rid for rid in wanted if rid not in index]
    if missing:
        shown = ", ".join(ids[:10]) + (f", ... ({len(ids)} in all)" if len(ids) > 10 else "")
        raise InputError(f"{path}: no reaction {missing[0]!r} (known: {shown})")
    if is_h5_list(path):
        with _open_h5_list(path) as h5:
            return [_checked(_h5_reaction, h5, index[rid], path) for rid in wanted]
    entries = _read_entries(path)
    return [_checked(_parse_entry, entries[index[rid]], index[rid], path) for rid in wanted]


def _checked(parse, *args) -> Reaction | InputError:
    try:
        return parse(*args)
    except InputError as exc:
        return exc


def reaction_digests(path: str | Path) -> dict[str, str]:
    """SHA-256 of each reaction's entry, by id, in list order (read once, geometries not parsed)."""
    import hashlib
    import json

    path = reaction_list_path(path)
    ids = reaction_ids(path)
    if not is_h5_list(path):
        entries = _read_entries(path)
        return {
            rid: hashlib.sha256(json.dumps(e, sort_keys=True, default=str).encode()).hexdigest()
            for rid, e in zip(ids, entries)
        }
    with _open_h5_list(path) as h5:
        per_atom = [h5[k][()] for k in ("numbers", "reactant", "product", "ts_guess")]
        per_reaction = [h5[k][()] for k in ("charge", "multiplicity", "natoms", "offset", "has_ts")]
    out = {}
    for k, rid in enumerate(ids):
        start, n = int(per_reaction[3][k]), int(per_reaction[2][k])
        h = hashlib.sha256(np.array([col[k] for col in per_reaction], dtype=np.int64).tobytes())
        for arr in per_atom:
            h.update(np.ascontiguousarray(arr[start : start + n]).tobytes())
        out[rid] = h.hexdigest()
    return out


# ---- HDF5 lists ----------------------------------------------------------------------------------
_H5_KEYS = ("ids", "source_ids", "charge", "multiplicity", "natoms", "offset", "has_ts", "numbers")


def _open_h5_list(path: Path):
    import h5py

    try:
        h5 = h5py.File(path, "r")
    except OSError as exc:
        raise InputError(f"{path}: not a readable HDF5 reaction list (corrupt or truncated?): {exc}") from None
    if h5.attrs.get("format") != H5_FORMAT:
        h5.close()
        raise InputError(
            f"{path}: not a phl reaction list (no format={H5_FORMAT!r} mark; write one with 'phl reaction import')"
        )
    missing = [k for k in (*_H5_KEYS, "reactant", "product", "ts_guess") if k not in h5]
    if missing:
        h5.close()
        raise InputError(f"{path}: reaction list without {', '.join(missing)}")
    return h5


def _h5_reaction(h5, k: int, path: Path) -> Reaction:
    rid = h5["ids"].asstr()[k]
    where = f"{path}: reaction {rid}"
    start, n = int(h5["offset"][k]), int(h5["natoms"][k])
    if n < 1 or start < 0 or start + n > len(h5["numbers"]):
        raise InputError(f"{where}: atom range {start}..{start + n} outside the file's atom arrays")
    numbers = check_atomic_numbers(h5["numbers"][start : start + n], where)
    geoms = {
        key: Atoms(numbers=numbers, positions=h5[key][start : start + n]) for key in ("reactant", "product", "ts_guess")
    }
    reaction = Reaction(
        rid,
        geoms["reactant"],
        geoms["product"],
        int(h5["charge"][k]),
        int(h5["multiplicity"][k]),
        geoms["ts_guess"] if bool(h5["has_ts"][k]) else None,
        h5["source_ids"].asstr()[k],
    )
    reaction.check(where)
    return reaction


def write_h5_list(path: str | Path, reactions: list[Reaction], source: str, provenance: dict) -> None:
    """Write reactions as an HDF5 list (atomically)."""
    import json

    import h5py

    from phl.io.atomic import atomic_path

    natoms = np.array([len(r.reactant) for r in reactions], dtype=np.int64)
    offset = np.concatenate([[0], np.cumsum(natoms)[:-1]]).astype(np.int64) if len(natoms) else natoms
    strings = h5py.string_dtype()

    def stacked(get) -> np.ndarray:
        rows = [get(r) for r in reactions]
        return np.concatenate(rows).astype(np.float64) if rows else np.zeros((0, 3))

    with atomic_path(path) as tmp, h5py.File(tmp, "w") as h5:
        h5.attrs.update(format=H5_FORMAT, version=H5_VERSION, source=source, provenance=json.dumps(provenance))
        h5["ids"] = np.array([r.id for r in reactions], dtype=object).astype(strings)
        h5["source_ids"] = np.array([r.source_id for r in reactions], dtype=object).astype(strings)
        h5["charge"] = np.array([r.charge for r in reactions], dtype=np.int64)
        h5["multiplicity"] = np.array([r.multiplicity for r in reactions], dtype=np.int64)
        h5["natoms"], h5["offset"] = natoms, offset
        h5["has_ts"] = np.array([r.ts_guess is not None for r in reactions], dtype=bool)
        h5["numbers"] = (
            np.concatenate([r.reactant.get_atomic_numbers() for r in reactions]) if reactions else np.zeros(0, int)
        ).astype(np.int16)
        h5["reactant"] = stacked(lambda r: r.reactant.get_positions())
        h5["product"] = stacked(lambda r: r.product.get_positions())
        h5["ts_guess"] = stacked(  # NaN rows where a reaction has no TS guess (has_ts false)
            lambda r: r.ts_guess.get_positions() if r.ts_guess is not None else np.full((len(r.reactant), 3), np.nan)
        )


def h5_list_info(path: str | Path) -> dict:
    """Source and provenance of an HDF5 list."""
    import json

    with _open_h5_list(reaction_list_path(path)) as h5:
        return {"source": str(h5.attrs.get("source", "")), "provenance": json.loads(h5.attrs.get("provenance", "{}"))}
