"""Reading and writing phl HDF5 data sets (format in :mod:`phl.dataset.schema`).

Writers never touch the destination until they close successfully: they write a temporary file
beside it (copying the existing file first when appending) and rename it over the destination.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from ase.data import atomic_numbers, chemical_symbols
from numpy.typing import NDArray

from phl.checks import check_positions
from phl.dataset.schema import (
    ATOM_ARRAYS,
    CATEGORIES,
    FORMAT,
    FORMAT_VERSION,
    SPLIT_NAMES,
    SPLITS,
    STRUCTURE_ARRAYS,
    UNITS,
)
from phl.errors import InputError
from phl.io.atomic import atomic_path, check_output_path, locked, temp_path_beside
from phl.provenance import provenance as make_provenance
from phl.registry import PROBE_KINDS


@dataclass
class Structure:
    """One labelled geometry, storage units (Å, Eh, Eh/Å, Eh/Å²)."""

    species: NDArray[np.int64]  # atomic numbers, (N,)
    coordinates: NDArray[np.float64]  # (N, 3)
    energy: float
    forces: NDArray[np.float64]  # (N, 3)
    hessian: NDArray[np.float64] | None = None  # (3N, 3N)
    probes: NDArray[np.float64] | None = None  # (K, N, 3)
    hvps: NDArray[np.float64] | None = None  # (K, N, 3)
    probe_kinds: list[str] | None = None  # kind of each stored probe (PROBE_KINDS); None: unknown
    category: str = "other"
    reaction: str | None = None
    #: the reference method of the label (phl.qm.method.level_of_theory); None: not recorded
    level_of_theory: str | None = None

    @property
    def n_atoms(self) -> int:
        return len(self.species)

    @property
    def symbols(self) -> list[str]:
        return [chemical_symbols[z] for z in self.species]

    @classmethod
    def from_symbols(cls, symbols: Iterable[str], **kwargs: Any) -> Structure:
        try:
            species = np.array([atomic_numbers[s] for s in symbols], dtype=np.int64)
        except KeyError as exc:
            raise InputError(f"unknown element {exc.args[0]!r}") from None
        return cls(species=species, **kwargs)

    def validate(self, where: str) -> Structure:
        """Coerce dtypes and check shapes, finiteness and the category; returns self."""
        n = len(self.species)
        self.species = np.asarray(self.species, dtype=np.int64).reshape(-1)
        if n == 0:
            raise InputError(f"{where}: no atoms")
        if np.any(self.species < 1) or np.any(self.species > 118):
            raise InputError(f"{where}: species must be atomic numbers 1-118")
        checks = [("coordinates", (n, 3)), ("forces", (n, 3))]
        if self.hessian is not None:
            checks.append(("hessian", (3 * n, 3 * n)))
        if (self.probes is None) != (self.hvps is None):
            raise InputError(f"{where}: probes and hvps must be given together")
        if self.probes is not None:
            k = np.shape(self.probes)[0] if np.ndim(self.probes) else -1
            checks += [("probes", (k, n, 3)), ("hvps", (k, n, 3))]
            if self.probe_kinds is not None:
                self.probe_kinds = [str(x) for x in self.probe_kinds]
                if len(self.probe_kinds) != k or not set(self.probe_kinds) <= set(PROBE_KINDS):
                    raise InputError(f"{where}: probe_kinds must name one of {', '.join(PROBE_KINDS)} per probe")
        for key, shape in checks:
            value = np.asarray(getattr(self, key), dtype=np.float64)
            if value.shape != shape:
                raise InputError(f"{where}: {key} has shape {value.shape}, expected {shape}")
            if not np.all(np.isfinite(value)):
                raise InputError(f"{where}: {key} has non-finite values")
            setattr(self, key, value)
        if np.ndim(self.energy) != 0:
            raise InputError(f"{where}: energy has shape {np.shape(self.energy)}, expected one number")
        if not np.isfinite(self.energy):
            raise InputError(f"{where}: energy is not finite")
        self.energy = float(self.energy)
        check_positions(self.symbols, self.coordinates, where)
        if self.category not in CATEGORIES:
            raise InputError(f"{where}: unknown category {self.category!r}; known: {', '.join(CATEGORIES)}")
        return self


def _level_attr(h5) -> str | None:
    value = h5.attrs.get("level_of_theory", "")
    value = value.decode() if isinstance(value, bytes) else str(value)
    return value or None


class DatasetWriter:
    """Append structures to a new data set (or, with ``append=True``, to a copy of an existing one)
    and publish it atomically on :meth:`close`. Use as a context manager; on an exception nothing
    is published."""

    FLUSH_EVERY = 2048

    def __init__(self, path: str | Path, append: bool = False, sources: Iterable[str] = ()) -> None:
        self.path = check_output_path(path, "data set")  # a symlink's target; never a device or folder
        # one writer at a time: an append reads the file and publishes its copy under the lock,
        # so two concurrent appends both land (the second waits for the first)
        self._lock = ExitStack()
        self._lock.enter_context(locked(self.path))
        try:
            self._open(append, sources)
        except BaseException:
            self._lock.close()
            raise

    def _open(self, append: bool, sources: Iterable[str]) -> None:
        self._tmp = temp_path_beside(self.path)
        if append and self.path.exists():
            try:
                Dataset(self.path).close()  # validates
            except BaseException:
                self._tmp.unlink(missing_ok=True)
                raise
            shutil.copyfile(self.path, self._tmp)
            self._h5 = h5py.File(self._tmp, "r+")
            if "hvp/kinds" not in self._h5:  # written before probe kinds were stored: unknown (-1)
                n_pairs = int(self._h5["structures/n_hvp"][()].sum())
                self._h5.create_dataset(
                    "hvp/kinds", data=np.full(n_pairs, -1, dtype="int8"), maxshape=(None,), chunks=(16384,)
                )
            prov = json.loads(self._h5.attrs.get("provenance", "{}"))
            self._level = _level_attr(self._h5)
            self._level_known = len(self._h5["structures/energy"]) > 0
            self._reactions = [r.decode() if isinstance(r, bytes) else r for r in self._h5["reactions"][()]]
        else:
            self._h5 = h5py.File(self._tmp, "w")
            self._create()
            prov = make_provenance(extra_packages=("h5py",))
            prov["sources"] = []
            self._reactions = []
            self._level, self._level_known = None, False
        prov.setdefault("sources", []).extend(str(s) for s in sources)
        self._provenance = prov
        self._reaction_index = {r: i for i, r in enumerate(self._reactions)}
        self._pending: list[Structure] = []
        self.n_added = 0

    def _create(self) -> None:
        h5 = self._h5
        h5.attrs["format"] = FORMAT
        h5.attrs["format_version"] = FORMAT_VERSION
        for k, v in UNITS.items():
            h5.attrs[k] = v
        for name, dtype in STRUCTURE_ARRAYS.items():
            h5.create_dataset(f"structures/{name}", shape=(0,), maxshape=(None,), dtype=dtype, chunks=(4096,))
        for name, (dtype, tail) in ATOM_ARRAYS.items():
            h5.create_dataset(
                f"atoms/{name}", shape=(0, *tail), maxshape=(None, *tail), dtype=dtype, chunks=(16384, *tail)
            )
        h5.create_dataset(
            "hessian", shape=(0,), maxshape=(None,), dtype="float64", chunks=(4096,)
        )  # 32 KB: random reads touch ~2 chunks
        for name in ("probes", "values"):
            h5.create_dataset(f"hvp/{name}", shape=(0,), maxshape=(None,), dtype="float64", chunks=(16384,))
        h5.create_dataset("hvp/kinds", shape=(0,), maxshape=(None,), dtype="int8", chunks=(16384,))
        h5.attrs["category_names"] = json.dumps(list(CATEGORIES))

    def add(self, structure: Structure, where: str = "structure") -> None:
        level = structure.level_of_theory
        if not self._level_known:
            self._level, self._level_known = level, True
        elif level != self._level:
            raise InputError(
                f"{where}: reference method {level or 'not recorded'} differs from the data set's "
                f"({self._level or 'not recorded'}): labels of two reference methods are never merged into one data set"
            )
        self._pending.append(structure.validate(where))
        self.n_added += 1
        if len(self._pending) >= self.FLUSH_EVERY:
            self._flush()

    def add_many(self, structures: Iterable[Structure]) -> None:
        for s in structures:
            self.add(s)

    @staticmethod
    def _append(ds: h5py.Dataset, values: NDArray) -> int:
        start = ds.shape[0]
        ds.resize(start + len(values), axis=0)
        ds[start:] = values
        return start

    def _flush(self) -> None:
        if not self._pending:
            return
        h5, batch = self._h5, self._pending
        n_atoms = np.array([s.n_atoms for s in batch])
        atom_start = h5["atoms/species"].shape[0]
        atom_offset = atom_start + np.concatenate([[0], np.cumsum(n_atoms)[:-1]])
        hess = [s.hessian.ravel() for s in batch if s.hessian is not None]
        hess_start = h5["hessian"].shape[0]
        hess_sizes = np.array([(3 * s.n_atoms) ** 2 if s.hessian is not None else 0 for s in batch])
        hess_offset = np.where(hess_sizes > 0, hess_start + np.concatenate([[0], np.cumsum(hess_sizes)[:-1]]), -1)
        hvp_sizes = np.array([s.probes.size if s.probes is not None else 0 for s in batch])
        hvp_start = h5["hvp/probes"].shape[0]
        hvp_offset = np.where(hvp_sizes > 0, hvp_start + np.concatenate([[0], np.cumsum(hvp_sizes)[:-1]]), -1)
        reactions = []
        for s in batch:
            if s.reaction is None:
                reactions.append(-1)
                continue
            if s.reaction not in self._reaction_index:
                self._reaction_index[s.reaction] = len(self._reactions)
                self._reactions.append(s.reaction)
            reactions.append(self._reaction_index[s.reaction])
        columns = {
            "n_atoms": n_atoms,
            "atom_offset": atom_offset,
            "energy": [s.energy for s in batch],
            "category": [CATEGORIES.index(s.category) for s in batch],
            "reaction": reactions,
            "hessian_offset": hess_offset,
            "hvp_offset": hvp_offset,
            "n_hvp": [len(s.probes) if s.probes is not None else 0 for s in batch],
        }
        for name, values in columns.items():
            self._append(h5[f"structures/{name}"], np.asarray(values, dtype=STRUCTURE_ARRAYS[name]))
        self._append(h5["atoms/species"], np.concatenate([s.species for s in batch]).astype("int8"))
        self._append(h5["atoms/coordinates"], np.concatenate([s.coordinates for s in batch]))
        self._append(h5["atoms/forces"], np.concatenate([s.forces for s in batch]))
        if hess:
            self._append(h5["hessian"], np.concatenate(hess))
        with_hvp = [s for s in batch if s.probes is not None]
        if with_hvp:
            self._append(h5["hvp/probes"], np.concatenate([s.probes.ravel() for s in with_hvp]))
            self._append(h5["hvp/values"], np.concatenate([s.hvps.ravel() for s in with_hvp]))
            codes = [
                c
                for s in with_hvp
                for c in (
                    [PROBE_KINDS.index(k) for k in s.probe_kinds] if s.probe_kinds is not None else [-1] * len(s.probes)
                )
            ]
            self._append(h5["hvp/kinds"], np.asarray(codes, dtype="int8"))
        self._pending = []

    def close(self) -> None:
        """Flush, write the reaction table and provenance, and publish the file atomically."""
        self._flush()
        h5 = self._h5
        if "reactions" in h5:
            del h5["reactions"]
        h5.create_dataset("reactions", data=np.array(self._reactions, dtype=object), dtype=h5py.string_dtype())
        h5.attrs["provenance"] = json.dumps(self._provenance)
        h5.attrs["level_of_theory"] = self._level or ""
        h5.close()
        try:
            os.replace(self._tmp, self.path)
        finally:
            self._lock.close()

    def abort(self) -> None:
        try:
            self._h5.close()
        finally:
            self._tmp.unlink(missing_ok=True)
            self._lock.close()

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class Dataset:
    """Read access to a phl data set. Per-structure and per-atom arrays are loaded at open (tens
    of MB at the paper's scale); Hessians and HVP pairs are read lazily per structure."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise InputError(f"{self.path}: is a directory, not a data set")
        if not self.path.is_file():
            raise InputError(f"{self.path}: no such data set")
        try:
            self._h5 = h5py.File(self.path, "r")
        except OSError as exc:
            raise InputError(f"{self.path}: not a readable HDF5 file (corrupt or truncated?): {exc}") from None
        try:
            self._load()
        except InputError:
            self._h5.close()
            raise
        except (KeyError, OSError, ValueError) as exc:
            self._h5.close()
            raise InputError(f"{self.path}: damaged data set: {exc}") from None

    def _load(self) -> None:
        h5, where = self._h5, str(self.path)
        if h5.attrs.get("format") != FORMAT:
            raise InputError(
                f"{where}: not a phl data set (format attribute {h5.attrs.get('format')!r}); "
                "ANI-layout files are read with 'phl dataset import'"
            )
        if int(h5.attrs.get("format_version", -1)) > FORMAT_VERSION:
            raise InputError(
                f"{where}: format version {h5.attrs['format_version']} is newer than this phl reads ({FORMAT_VERSION})"
            )
        for key, unit in UNITS.items():
            if h5.attrs.get(key) != unit:
                raise InputError(f"{where}: {key} is {h5.attrs.get(key)!r}, phl stores {unit!r}")
        missing = [f"structures/{k}" for k in STRUCTURE_ARRAYS if f"structures/{k}" not in h5]
        missing += [f"atoms/{k}" for k in ATOM_ARRAYS if f"atoms/{k}" not in h5]
        missing += [k for k in ("hessian", "hvp/probes", "hvp/values", "reactions") if k not in h5]
        if missing:
            raise InputError(f"{where}: missing required key(s) {', '.join(missing)}")
        #: the reference method of every label (None: not recorded, e.g. an imported ANI-layout file)
        self.level_of_theory = _level_attr(h5)
        self.columns = {k: h5[f"structures/{k}"][()] for k in STRUCTURE_ARRAYS}
        m = len(self.columns["energy"])
        bad = [k for k, v in self.columns.items() if len(v) != m]
        if bad:
            raise InputError(f"{where}: structures/{bad[0]} has {len(self.columns[bad[0]])} rows, expected {m}")
        self.species = h5["atoms/species"][()].astype(np.int64)
        self.coordinates = h5["atoms/coordinates"][()]
        self.forces = h5["atoms/forces"][()]
        n_atoms_total = int(self.columns["n_atoms"].sum()) if m else 0
        for name, arr in (("species", self.species), ("coordinates", self.coordinates), ("forces", self.forces)):
            if len(arr) != n_atoms_total:
                raise InputError(f"{where}: atoms/{name} has {len(arr)} rows, structures need {n_atoms_total}")
        ends = self.columns["atom_offset"] + self.columns["n_atoms"]
        if m and (ends.max() > n_atoms_total or self.columns["atom_offset"].min() < 0):
            raise InputError(f"{where}: atom offsets out of range")
        self._check_values(where)
        hsize = (3 * self.columns["n_atoms"].astype(np.int64)) ** 2
        has_h = self.columns["hessian_offset"] >= 0
        if np.any(self.columns["hessian_offset"][has_h] + hsize[has_h] > h5["hessian"].shape[0]):
            i = int(np.argmax(has_h & (self.columns["hessian_offset"] + hsize > h5["hessian"].shape[0])))
            raise InputError(f"{where}: structure {i}: hessian extends past the end of /hessian (truncated file?)")
        self._hessian = h5["hessian"]
        self._probes, self._hvps = h5["hvp/probes"], h5["hvp/values"]
        # the kind of every stored probe, in the order the pairs are stored (absent in older files)
        n_hvp = self.columns["n_hvp"].astype(np.int64)
        self._pair_kinds = h5["hvp/kinds"][()] if "hvp/kinds" in h5 else np.full(int(n_hvp.sum()), -1, "int8")
        if len(self._pair_kinds) != int(n_hvp.sum()):
            raise InputError(f"{where}: hvp/kinds has {len(self._pair_kinds)} entries for {int(n_hvp.sum())} pairs")
        has = np.flatnonzero(self.columns["hvp_offset"] >= 0)
        order = has[np.argsort(self.columns["hvp_offset"][has], kind="stable")]
        self._pair_start = np.full(len(n_hvp), -1, dtype=np.int64)
        self._pair_start[order] = np.concatenate([[0], np.cumsum(n_hvp[order])[:-1]]) if len(order) else []
        self.reactions = [r.decode() if isinstance(r, bytes) else str(r) for r in h5["reactions"][()]]
        self.provenance = json.loads(h5.attrs.get("provenance", "{}"))

    def _check_values(self, where: str) -> None:
        """Every structure has atoms, known elements, a category and finite labels: a damaged or
        hand-edited file is refused here, before it is inspected, trained on or evaluated."""
        cols = self.columns
        checks = [
            ("has no atoms", cols["n_atoms"] < 1),
            ("energy is not finite", ~np.isfinite(cols["energy"])),
            ("category code out of range", (cols["category"] < 0) | (cols["category"] >= len(CATEGORIES))),
        ]
        for what, bad in checks:
            if np.any(bad):
                raise InputError(f"{where}: structure {int(np.argmax(bad))}: {what}")
        order = np.argsort(cols["atom_offset"], kind="stable")
        owner = np.repeat(order, cols["n_atoms"][order])  # the structure of each packed atom row
        atom_checks = [
            ("atomic numbers must be 1-118", (self.species < 1) | (self.species > 118)),
            ("coordinates are not finite", ~np.isfinite(self.coordinates).all(axis=1)),
            ("forces are not finite", ~np.isfinite(self.forces).all(axis=1)),
        ]
        for what, bad in atom_checks:
            if np.any(bad):
                raise InputError(f"{where}: structure {int(owner[int(np.argmax(bad))])}: {what}")

    def close(self) -> None:
        self._h5.close()

    def __enter__(self) -> Dataset:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __len__(self) -> int:
        return len(self.columns["energy"])

    # ---- per-structure access -----------------------------------------------------------------
    def atom_slice(self, i: int) -> slice:
        start = int(self.columns["atom_offset"][i])
        return slice(start, start + int(self.columns["n_atoms"][i]))

    @property
    def has_hessian(self) -> NDArray[np.bool_]:
        return self.columns["hessian_offset"] >= 0

    @property
    def category_names(self) -> NDArray[np.str_]:
        return np.array(CATEGORIES)[self.columns["category"]]

    def reaction_of(self, i: int) -> str | None:
        r = int(self.columns["reaction"][i])
        return self.reactions[r] if r >= 0 else None

    def hessian(self, i: int) -> NDArray[np.float64] | None:
        off = int(self.columns["hessian_offset"][i])
        if off < 0:
            return None
        dim = 3 * int(self.columns["n_atoms"][i])
        return self._hessian[off : off + dim * dim].reshape(dim, dim)

    def hvp_pairs(self, i: int) -> tuple[NDArray, NDArray] | None:
        off, k = int(self.columns["hvp_offset"][i]), int(self.columns["n_hvp"][i])
        if off < 0:
            return None
        n = int(self.columns["n_atoms"][i])
        size = k * n * 3
        return (self._probes[off : off + size].reshape(k, n, 3), self._hvps[off : off + size].reshape(k, n, 3))

    def probe_kinds(self, i: int) -> list[str | None]:
        """The kind of each stored probe of structure ``i`` (None: unknown, older files)."""
        start, k = int(self._pair_start[i]), int(self.columns["n_hvp"][i])
        if start < 0:
            return []
        return [PROBE_KINDS[c] if c >= 0 else None for c in self._pair_kinds[start : start + k]]

    def structure(self, i: int, hessian: bool = True) -> Structure:
        if not 0 <= i < len(self):
            raise IndexError(f"structure {i} out of range (data set has {len(self)})")
        sl = self.atom_slice(i)
        pairs = self.hvp_pairs(i)
        return Structure(
            species=self.species[sl],
            coordinates=self.coordinates[sl],
            energy=float(self.columns["energy"][i]),
            forces=self.forces[sl],
            hessian=self.hessian(i) if hessian else None,
            probes=pairs[0] if pairs else None,
            hvps=pairs[1] if pairs else None,
            probe_kinds=(kinds if None not in (kinds := self.probe_kinds(i)) else None) if pairs else None,
            category=CATEGORIES[int(self.columns["category"][i])],
            reaction=self.reaction_of(i),
            level_of_theory=self.level_of_theory,
        )

    def __iter__(self) -> Iterator[Structure]:
        for i in range(len(self)):
            yield self.structure(i)

    # ---- splits ---------------------------------------------------------------------------------
    def split_names(self) -> list[str]:
        return list(self._h5["splits"].keys()) if "splits" in self._h5 else []

    def split(self, name: str) -> NDArray[np.int8]:
        if name not in self.split_names():
            raise InputError(f"{self.path}: no split {name!r}; available: {', '.join(self.split_names()) or 'none'}")
        return self._h5[f"splits/{name}"][()]

    def split_attrs(self, name: str) -> dict[str, Any]:
        self.split(name)
        return dict(self._h5[f"splits/{name}"].attrs)

    def indices(self, split: str, part: str) -> NDArray[np.int64]:
        """Structure indices of ``part`` (train, val, test, heldout) in split ``split``."""
        if part not in SPLITS:
            raise InputError(f"unknown split part {part!r}; known: {', '.join(SPLITS)}")
        return np.flatnonzero(self.split(split) == SPLITS[part])


def write_split(path: str | Path, name: str, codes: NDArray[np.integer], attrs: dict[str, Any]) -> None:
    """Store split ``name`` in the data set at ``path`` (atomically, through a copy)."""
    path = Path(path)
    with Dataset(path) as ds:
        if len(codes) != len(ds):
            raise InputError(f"split {name!r} has {len(codes)} entries, data set has {len(ds)} structures")
    if not set(np.unique(codes)) <= set(SPLIT_NAMES):
        raise InputError(f"split codes must be in {sorted(SPLIT_NAMES)}")
    with locked(path), atomic_path(path) as tmp:
        shutil.copyfile(path, tmp)
        with h5py.File(tmp, "r+") as h5:
            key = f"splits/{name}"
            if key in h5:
                del h5[key]
            ds = h5.create_dataset(key, data=np.asarray(codes, dtype="int8"))
            for k, v in attrs.items():
                ds.attrs[k] = json.dumps(v) if isinstance(v, (dict, list)) else v
