"""Import and export: the ANI "pyanitools" HDF5 layout (OpenREACT-CHON-EFH's ``molecules-RTP.h5``,
``molecules-IRC.h5``, ``molecules-NMS.h5``), extended XYZ, label JSON files, and merging.

ANI layout: groups (possibly nested), each holding structures of one atom list: ``species`` (N,)
element symbols (bytes) or atomic numbers, ``coordinates`` (M, N, 3) Å, ``energies`` (M,) Eh,
``forces`` (M, N, 3) Eh/Å, optionally ``hessian`` (M, 3N, 3N) Eh/Å²; OpenREACT adds ``iform``
(ignored). Files phl exports also carry ``category`` (M,) and a ``reaction`` attribute, so that
a round trip keeps them; for other files the category comes from the file name (RTP/IRC/NMS) or
the caller, and the reaction id is the group path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import h5py
import numpy as np
from ase.data import atomic_numbers, chemical_symbols

from phl.dataset.schema import FORMAT
from phl.dataset.store import Dataset, DatasetWriter, Structure
from phl.errors import InputError
from phl.io.atomic import atomic_path
from phl.io.label_shards import Failure, read_shard, shard_keys
from phl.labels import Label, read_label
from phl.qm.method import level_of_theory
from phl.registry import CATEGORIES
from phl.units import HARTREE_TO_EV

_UNIT_SYNONYMS = {
    "energies": {"eh", "hartree", "ha", "hartrees"},
    "forces": {"eh/angstrom", "hartree/angstrom", "ha/angstrom", "eh/a", "ha/a", "hartree/a"},
    "hessian": {
        "eh/angstrom^2",
        "hartree/angstrom^2",
        "ha/angstrom^2",
        "eh/a^2",
        "ha/a^2",
        "hartree/a**2",
        "eh/angstrom**2",
    },
    "coordinates": {"angstrom", "a", "ang"},
}


def category_from_filename(path: Path) -> str:
    """``molecules-RTP.h5`` → ``rtp``, ``...IRC...`` → ``irc``, ``...NMS...`` → ``nms``, else ``other``."""
    for token, cat in (("RTP", "rtp"), ("IRC", "irc"), ("NMS", "nms")):
        if re.search(rf"(^|[^A-Za-z]){token}([^A-Za-z]|$)", path.stem, flags=re.IGNORECASE):
            return cat
    return "other"


def _check_units(ds: h5py.Dataset, key: str, where: str) -> None:
    unit = ds.attrs.get("units", ds.attrs.get("unit"))
    if unit is None:
        return
    unit = unit.decode() if isinstance(unit, bytes) else str(unit)
    if unit.strip().lower().replace(" ", "") not in _UNIT_SYNONYMS[key]:
        raise InputError(f"{where}/{key}: units {unit!r}, expected {sorted(_UNIT_SYNONYMS[key])[0]} (docs/data.md)")


def _species(raw: np.ndarray, where: str) -> np.ndarray:
    if raw.dtype.kind in "iu":
        return raw.astype(np.int64)
    symbols = [s.decode() if isinstance(s, bytes) else str(s) for s in raw]
    try:
        return np.array([atomic_numbers[s.strip()] for s in symbols], dtype=np.int64)
    except KeyError as exc:
        raise InputError(f"{where}: unknown element {exc.args[0]!r}") from None


def _molecule_groups(h5: h5py.Group) -> Iterator[h5py.Group]:
    for item in h5.values():
        if isinstance(item, h5py.Group):
            if "coordinates" in item:
                yield item
            else:
                yield from _molecule_groups(item)


def read_ani_layout(path: str | Path, category: str | None = None) -> Iterator[Structure]:
    """Yield the structures of an ANI-layout HDF5 file, checking shapes, units and finiteness."""
    path = Path(path)
    if category is not None and category not in CATEGORIES:
        raise InputError(f"unknown category {category!r}; known: {', '.join(CATEGORIES)}")
    default_category = category or category_from_filename(path)
    try:
        h5 = h5py.File(path, "r")
    except OSError as exc:
        raise InputError(f"{path}: not a readable HDF5 file (corrupt or truncated?): {exc}") from None
    with h5:
        groups = list(_molecule_groups(h5))
        if not groups:
            raise InputError(f"{path}: no ANI-layout groups (a group with 'coordinates')")
        for g in groups:
            where = f"{path}:{g.name}"
            for key in ("species", "coordinates", "energies", "forces"):
                if key not in g:
                    raise InputError(f"{where}: missing required key {key!r}")
            for key in ("coordinates", "energies", "forces", "hessian"):
                if key in g:
                    _check_units(g[key], key, where)
            try:
                species = _species(g["species"][()], where)
                coords, energies, forces = g["coordinates"][()], g["energies"][()], g["forces"][()]
            except OSError as exc:
                raise InputError(f"{where}: unreadable data (truncated file?): {exc}") from None
            m = len(energies)
            if energies.ndim != 1:
                raise InputError(f"{where}: energies have shape {energies.shape}, expected ({m},)")
            if forces.shape != (m, len(species), 3):
                raise InputError(f"{where}: forces have shape {forces.shape}, expected ({m}, {len(species)}, 3)")
            if coords.ndim != 3 or coords.shape[0] != m:
                raise InputError(f"{where}: coordinates have shape {coords.shape}, expected ({m}, {len(species)}, 3)")
            hessian = g["hessian"] if "hessian" in g else None
            if hessian is not None and hessian.shape[0] != m:
                raise InputError(f"{where}: hessian has {hessian.shape[0]} structures, energies {m}")
            cats = (
                [c.decode() if isinstance(c, bytes) else str(c) for c in g["category"][()]]
                if "category" in g and category is None
                else [default_category] * m
            )
            reaction = g.attrs.get("reaction", g.name.strip("/"))
            reaction = reaction.decode() if isinstance(reaction, bytes) else str(reaction)
            for j in range(m):
                yield Structure(
                    species=species,
                    coordinates=coords[j],
                    energy=energies[j],
                    forces=forces[j],
                    hessian=hessian[j] if hessian is not None else None,
                    category=cats[j],
                    reaction=reaction or None,
                ).validate(f"{where}[{j}]")


def write_ani_layout(dataset: Dataset, path: str | Path, hessians: bool = True) -> int:
    """Export to the ANI layout, one group per (reaction, atom list, has-Hessian); atomic write.
    Returns the number of groups."""
    path = Path(path)
    groups: dict[tuple, list[int]] = {}
    for i in range(len(dataset)):
        key = (
            dataset.reaction_of(i) or "",
            tuple(dataset.species[dataset.atom_slice(i)]),
            bool(hessians and dataset.has_hessian[i]),
        )
        groups.setdefault(key, []).append(i)
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as h5:
            h5.attrs["exported_by"] = "phl"
            for n, ((reaction, species, with_h), idx) in enumerate(groups.items()):
                g = h5.create_group(f"mol{n:07d}")
                g.attrs["reaction"] = reaction
                g.create_dataset("species", data=np.array([chemical_symbols[z].encode() for z in species]))
                g.create_dataset(
                    "coordinates", data=np.stack([dataset.coordinates[dataset.atom_slice(i)] for i in idx])
                )
                g.create_dataset("energies", data=dataset.columns["energy"][idx])
                g.create_dataset("forces", data=np.stack([dataset.forces[dataset.atom_slice(i)] for i in idx]))
                g.create_dataset("category", data=np.array([c.encode() for c in dataset.category_names[idx]]))
                if with_h:
                    g.create_dataset("hessian", data=np.stack([dataset.hessian(i) for i in idx]))
                for key, unit in (
                    ("coordinates", "Angstrom"),
                    ("energies", "Eh"),
                    ("forces", "Eh/Angstrom"),
                    ("hessian", "Eh/Angstrom^2"),
                ):
                    if key in g:
                        g[key].attrs["units"] = unit
    return len(groups)


def write_extxyz(dataset: Dataset, path: str | Path) -> int:
    """Export to extended XYZ as ASE writes it: energy in eV, forces in eV/Å (ASE's units), plus
    ``category`` and ``reaction`` in each frame's info; ASE writes positions and forces with 8
    decimals. Hessians are not exported. Atomic write."""
    from ase import Atoms
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.io import write

    frames = []
    for i in range(len(dataset)):
        sl = dataset.atom_slice(i)
        atoms = Atoms(numbers=dataset.species[sl], positions=dataset.coordinates[sl])
        atoms.info.update(category=str(dataset.category_names[i]), reaction=dataset.reaction_of(i) or "")
        atoms.calc = SinglePointCalculator(
            atoms, energy=float(dataset.columns["energy"][i]) * HARTREE_TO_EV, forces=dataset.forces[sl] * HARTREE_TO_EV
        )
        frames.append(atoms)
    with atomic_path(path) as tmp:
        write(str(tmp), frames, format="extxyz")
    return len(frames)


def structure_from_label(path: str | Path, category: str | None = None, reaction: str | None = None) -> Structure:
    """A structure from a label JSON written by ``phl compute --json`` (category and reaction are
    taken from the file when it has them, else from the arguments)."""
    label = read_label(path)
    label.category = label.category or category
    label.reaction = label.reaction if label.reaction is not None else reaction
    return structure_of_label(label, str(path))


def merge(out: str | Path, inputs: Iterable[str | Path], append: bool = False, category: str | None = None) -> int:
    """Merge phl data sets (``.h5``), ANI-layout files (``.h5`` without the phl format mark) and
    label JSON files into ``out``. Returns the number of structures added."""
    inputs = [Path(p) for p in inputs]
    with DatasetWriter(out, append=append, sources=[str(p) for p in inputs]) as writer:
        for p in inputs:
            if p.suffix == ".json":
                writer.add(structure_from_label(p, category=category), where=str(p))
            elif is_phl_dataset(p):
                with Dataset(p) as ds:
                    for i in range(len(ds)):
                        writer.add(ds.structure(i), where=f"{p}[{i}]")
            else:
                for s in read_ani_layout(p, category=category):
                    writer.add(s)
        return writer.n_added


def is_phl_dataset(path: Path) -> bool:
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        with h5py.File(path, "r") as h5:
            return h5.attrs.get("format") == FORMAT
    except OSError as exc:
        raise InputError(f"{path}: not a readable HDF5 file (corrupt or truncated?): {exc}") from None


def shards_of_geometries(
    summary_csv: str | Path, labels: list[str | Path]
) -> tuple[list[Path], set[tuple[str, int]], list[Failure]]:
    """The label shards (:mod:`phl.io.label_shards`) given as files or folders (searched for
    ``*.h5``) that hold the structures of the geometry stage, checked before any label is read:
    each structure of each reaction marked ok in the summary table (``phl reaction summary``) must
    be in exactly one shard, labelled or recorded as failed; a missing one is an error (a label job
    has not run), one in two shards too (a stale shard of other batching settings). Returns the
    shards, the (reaction, index) of the structures wanted and those that could not be labelled."""
    from phl.geometries.jobs import read_summary_rows

    table = read_summary_rows(summary_csv)
    wanted = {
        (str(row.reaction), i)
        for row in table[table["status"] == "ok"].itertuples()
        for i in range(int(row.n_RTP + row.n_IRC + row.n_NMS))
    }
    if not wanted:
        raise InputError(f"{summary_csv}: no reaction produced structures (see its status and reason columns)")
    shards: list[Path] = []
    for p in map(Path, labels):
        if p.is_dir():
            shards += sorted(p.rglob("*.h5"))
        elif p.is_file():
            shards.append(p)
        else:
            raise InputError(f"{p}: no such label shard or folder")
    if not shards:
        raise InputError(f"{', '.join(map(str, labels))}: no label shards (*.h5)")
    where: dict[tuple[str, int], Path] = {}
    failures: list[Failure] = []
    for path in shards:
        keys, failed = shard_keys(path)
        failures += [f for f in failed if (f.reaction, f.index) in wanted]
        for key in [*keys, *((f.reaction, f.index) for f in failed)]:
            if key in where and key in wanted:
                raise InputError(
                    f"structure {key[0]}/{key[1]} is in two label shards, {where[key]} and {path} "
                    "(a shard left from other batching settings? remove it)"
                )
            where[key] = path
    missing = sorted(wanted - set(where))
    if missing:
        r, i = missing[0]
        raise InputError(
            f"{len(missing)} structure(s) of {summary_csv} have no label in the shards given, e.g. {r}/{i}"
        )
    return shards, wanted, failures


def labels_of_shards(shards: list[Path], wanted: set[tuple[str, int]]) -> Iterator[Label]:
    """The labels of the shards whose (reaction, index) is wanted, one shard in memory at a time."""
    for path in shards:
        for label in read_shard(path).labels:
            if (label.reaction, label.provenance.get("index")) in wanted:
                yield label


def structure_of_label(label: Label, where: str) -> Structure:
    """A data-set structure from a label record."""
    units = label.units
    if units.get("energy", "Eh") != "Eh" or units.get("forces", "Eh/Angstrom") != "Eh/Angstrom":
        raise InputError(f"{where}: units {units} are not Eh and Eh/Angstrom")
    return Structure.from_symbols(
        label.symbols,
        coordinates=label.positions,
        energy=label.energy,
        forces=label.forces,
        hessian=label.hessian,
        probes=label.probes if label.hvps is not None else None,
        hvps=label.hvps,
        probe_kinds=label.probe_kinds if label.hvps is not None else None,
        category=label.category or "other",
        reaction=label.reaction,
        level_of_theory=level_of_theory(label.method),
    ).validate(where)
