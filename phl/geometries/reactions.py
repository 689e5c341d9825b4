"""Reaction lists: the input of the geometry stage.

Format (YAML): a top-level ``reactions`` list; each entry has

    id: hcn_hnc                  # unique, letters, digits, '_', '-', '.'
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
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ase import Atoms

from phl.checks import check_charge_multiplicity, validate_atoms
from phl.errors import InputError
from phl.io.xyz import read_xyz

BUILTIN = Path(__file__).resolve().parents[1] / "data" / "reactions.yaml"
_ID = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass
class Reaction:
    id: str
    reactant: Atoms
    product: Atoms
    charge: int = 0
    multiplicity: int = 1
    ts_guess: Atoms | None = None


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


def reaction_list_path(name: str | Path) -> Path:
    """The reaction list a user names: ``builtin`` for the built-in set, else a YAML file."""
    return BUILTIN if str(name) == "builtin" else Path(name)


def reaction_ids(path: str | Path = BUILTIN) -> list[str]:
    """The ids of a reaction list, in file order (each entry is checked only when loaded)."""
    path = Path(path)
    ids = [e.get("id") if isinstance(e, dict) else None for e in _read_entries(path)]
    for k, rid in enumerate(ids):
        if not isinstance(rid, str) or not _ID.match(rid):
            raise InputError(f"{path}: reaction {k + 1}: 'id' must be letters, digits, '_', '-' or '.'")
    dup = sorted({r for r in ids if ids.count(r) > 1})
    if dup:
        raise InputError(f"{path}: duplicate reaction id(s) {', '.join(dup)}")
    return ids


def _parse_entry(entry: dict, k: int, path: Path) -> Reaction:
    rid = entry.get("id") if isinstance(entry, dict) else None
    where = f"{path}: reaction {rid or k + 1}"
    if not isinstance(entry, dict):
        raise InputError(f"{where}: expected a mapping")
    unknown = sorted(set(entry) - {"id", "charge", "multiplicity", "reactant", "product", "ts_guess"})
    if unknown:
        raise InputError(f"{where}: unknown key(s) {', '.join(unknown)}")
    if not isinstance(rid, str) or not _ID.match(rid):
        raise InputError(f"{where}: 'id' must be letters, digits, '_', '-' or '.'")
    for key in ("reactant", "product"):
        if key not in entry:
            raise InputError(f"{where}: missing {key!r}")
    geoms = {
        key: _geometry(entry[key], path.parent, f"{where} {key}")
        for key in ("reactant", "product", "ts_guess")
        if key in entry
    }
    ref = geoms["reactant"].get_chemical_symbols()
    for key, atoms in geoms.items():
        if atoms.get_chemical_symbols() != ref:
            what = "atom counts" if len(atoms) != len(ref) else "element order"
            raise InputError(
                f"{where}: reactant and {key} have different {what} "
                f"({''.join(ref)} vs {''.join(atoms.get_chemical_symbols())})"
            )
    charge, mult = entry.get("charge", 0), entry.get("multiplicity", 1)
    if not isinstance(charge, int) or not isinstance(mult, int):
        raise InputError(f"{where}: charge and multiplicity must be integers")
    check_charge_multiplicity(geoms["reactant"], charge, mult, where)
    return Reaction(rid, geoms["reactant"], geoms["product"], charge, mult, geoms.get("ts_guess"))


def load_reactions(path: str | Path = BUILTIN) -> list[Reaction]:
    """Every reaction of the list; the first bad entry raises :class:`InputError` naming it."""
    path = Path(path)
    reaction_ids(path)
    return [_parse_entry(e, k, path) for k, e in enumerate(_read_entries(path))]


def load_reaction(path: str | Path, rid: str) -> Reaction:
    """One reaction of the list, checked alone (a bad neighbour does not stop it)."""
    path = Path(path)
    ids = reaction_ids(path)
    if rid not in ids:
        raise InputError(f"{path}: no reaction {rid!r} (known: {', '.join(ids)})")
    k = ids.index(rid)
    return _parse_entry(_read_entries(path)[k], k, path)
