"""Label shards: many reference labels in one HDF5 file, float64 binary (``phl label batch``).

A shard holds every label a batch job computed and every structure it could not label, with the
reason. Arrays of all labels are stored end to end (one dataset per quantity, offsets per label),
so a 14-atom label with its Hessian costs its float64 bytes plus a few dozen bytes of index:

    attrs      format=phl-label-shard, version, method (JSON, charge/multiplicity per label),
               labels (JSON: the label settings), units (JSON), provenance (JSON: versions,
               host, platform, CPU count; the part shared by every label)
    per label (n)      name, reaction, category (strings), index, charge, multiplicity, natoms,
                       n_probes, has_hessian, energy, dispersion_energy, provenance (JSON string:
                       timings, SCF, seeds, created time)
    per atom (sum N)   numbers, positions (Å), forces (Eh/Å)
    per Hessian        hessian (sum of (3N)² over labels with one, Eh/Å², flat)
    per probe          probes, hvps (sum of K·3N, flat), probe_kinds (strings)
    failed/            name, reaction, index, reason (strings / int)

:func:`write_shard` writes atomically; :func:`read_shard` checks the layout and every array's
length before returning :class:`~phl.labels.Label` records.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ase.data import atomic_numbers, chemical_symbols

from phl.checks import check_atomic_numbers
from phl.errors import InputError
from phl.labels import Label

SHARD_FORMAT = "phl-label-shard"
SHARD_VERSION = 1
#: Provenance fields every label of one job shares: stored once per shard.
SHARED_PROVENANCE = ("versions", "host", "platform", "cpu_count")


@dataclass(frozen=True)
class Failure:
    name: str
    reaction: str
    index: int
    reason: str


@dataclass
class Shard:
    labels: list[Label] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)


def _strings(values: list[str]) -> np.ndarray:
    import h5py

    return np.array(list(values), dtype=object).astype(h5py.string_dtype())


def write_shard(path: str | Path, labels: list[Label], failures: list[Failure], labels_settings: dict) -> None:
    """Write one shard atomically (labels in the given order)."""
    import h5py

    from phl.io.atomic import atomic_path

    method = dict(labels[0].method) if labels else {}
    for key in ("charge", "multiplicity"):
        method.pop(key, None)
    shared = {k: labels[0].provenance.get(k) for k in SHARED_PROVENANCE} if labels else {}
    for label in labels:
        own = {k: v for k, v in label.method.items() if k not in ("charge", "multiplicity")}
        if own != method:
            raise InputError(f"label {label.reaction}/{label.name}: level of theory differs from the shard's")
    units = labels[0].units if labels else {}

    def flat(get, width=None) -> np.ndarray:
        rows = [np.asarray(v, dtype=np.float64).reshape(-1) for v in map(get, labels) if v is not None]
        out = np.concatenate(rows) if rows else np.zeros(0)
        return out.reshape(-1, width) if width else out

    with atomic_path(path) as tmp, h5py.File(tmp, "w") as h5:
        h5.attrs.update(
            format=SHARD_FORMAT,
            version=SHARD_VERSION,
            method=json.dumps(method),
            labels=json.dumps(labels_settings),
            units=json.dumps(units),
            provenance=json.dumps(shared),
        )
        h5["name"] = _strings([lb.name or "" for lb in labels])
        h5["reaction"] = _strings([lb.reaction or "" for lb in labels])
        h5["category"] = _strings([lb.category or "" for lb in labels])
        h5["index"] = np.array([lb.provenance.get("index", -1) for lb in labels], dtype=np.int64)
        h5["charge"] = np.array([lb.method.get("charge", 0) for lb in labels], dtype=np.int64)
        h5["multiplicity"] = np.array([lb.method.get("multiplicity", 1) for lb in labels], dtype=np.int64)
        h5["natoms"] = np.array([len(lb.symbols) for lb in labels], dtype=np.int64)
        h5["n_probes"] = np.array([0 if lb.hvps is None else len(lb.hvps) for lb in labels], dtype=np.int64)
        h5["has_hessian"] = np.array([lb.hessian is not None for lb in labels], dtype=bool)
        h5["energy"] = np.array([lb.energy for lb in labels], dtype=np.float64)
        h5["dispersion_energy"] = np.array([lb.dispersion_energy for lb in labels], dtype=np.float64)
        h5["provenance"] = _strings(
            [json.dumps({k: v for k, v in lb.provenance.items() if k not in SHARED_PROVENANCE}) for lb in labels]
        )
        numbers = [atomic_numbers[s] for lb in labels for s in lb.symbols]
        h5["numbers"] = np.array(numbers, dtype=np.int16)
        h5["positions"] = flat(lambda lb: lb.positions, 3)
        h5["forces"] = flat(lambda lb: lb.forces, 3)
        h5["hessian"] = flat(lambda lb: lb.hessian)
        h5["probes"] = flat(lambda lb: lb.probes if lb.hvps is not None else None)
        h5["hvps"] = flat(lambda lb: lb.hvps)
        h5["probe_kinds"] = _strings([k for lb in labels if lb.hvps is not None for k in (lb.probe_kinds or [])])
        g = h5.create_group("failed")
        g["name"] = _strings([f.name for f in failures])
        g["reaction"] = _strings([f.reaction for f in failures])
        g["index"] = np.array([f.index for f in failures], dtype=np.int64)
        g["reason"] = _strings([f.reason for f in failures])


_PER_LABEL = (
    "name",
    "reaction",
    "category",
    "index",
    "charge",
    "multiplicity",
    "natoms",
    "n_probes",
    "has_hessian",
    "energy",
    "dispersion_energy",
    "provenance",
)


def is_shard(path: str | Path) -> bool:
    import h5py

    try:
        with h5py.File(path, "r") as h5:
            return h5.attrs.get("format") == SHARD_FORMAT
    except OSError:
        return False


def read_shard(path: str | Path) -> Shard:
    """Every label and failure of a shard, the layout checked (a damaged shard is named)."""
    import h5py

    path = Path(path)
    try:
        h5 = h5py.File(path, "r")
    except OSError as exc:
        raise InputError(f"{path}: not a readable label shard (corrupt or truncated?): {exc}") from None
    with h5:
        if h5.attrs.get("format") != SHARD_FORMAT:
            raise InputError(f"{path}: not a phl label shard (no format={SHARD_FORMAT!r} mark)")
        missing = [
            k for k in (*_PER_LABEL, "numbers", "positions", "forces", "hessian", "probes", "hvps") if k not in h5
        ]
        if missing or "failed" not in h5:
            raise InputError(f"{path}: label shard without {', '.join(missing or ['failed'])}")
        attrs = {k: json.loads(h5.attrs[k]) for k in ("method", "labels", "units", "provenance")}
        col = {k: h5[k][()] for k in _PER_LABEL}
        for k in ("name", "reaction", "category", "provenance"):
            col[k] = h5[k].asstr()[()]
        arrays = {k: h5[k][()] for k in ("numbers", "positions", "forces", "hessian", "probes", "hvps")}
        kinds = list(h5["probe_kinds"].asstr()[()])
        failed = h5["failed"]
        failures = [
            Failure(str(n), str(r), int(i), str(why))
            for n, r, i, why in zip(
                failed["name"].asstr()[()],
                failed["reaction"].asstr()[()],
                failed["index"][()],
                failed["reason"].asstr()[()],
            )
        ]
    n = len(col["name"])
    if any(len(v) != n for v in col.values()):
        raise InputError(f"{path}: per-label columns have different lengths")
    natoms, n_probes, has_h = col["natoms"], col["n_probes"], col["has_hessian"]
    need = {
        "numbers": int(natoms.sum()),
        "positions": int(natoms.sum()),
        "forces": int(natoms.sum()),
        "hessian": int(((3 * natoms) ** 2 * has_h).sum()),
        "probes": int((n_probes * 3 * natoms).sum()),
        "hvps": int((n_probes * 3 * natoms).sum()),
    }
    for key, length in need.items():
        if len(arrays[key]) != length:
            raise InputError(f"{path}: {key} holds {len(arrays[key])} values, the index says {length}")
    if len(kinds) != int(n_probes.sum()):
        raise InputError(f"{path}: probe_kinds holds {len(kinds)} entries, the index says {int(n_probes.sum())}")
    check_atomic_numbers(arrays["numbers"], str(path))
    labels = []
    a = h = p = k = 0
    for i in range(n):
        na, dim, npr = int(natoms[i]), 3 * int(natoms[i]), int(n_probes[i])
        hessian = None
        if has_h[i]:
            hessian = arrays["hessian"][h : h + dim * dim].reshape(dim, dim)
            h += dim * dim
        probes = hvps = None
        if npr:
            probes = arrays["probes"][p : p + npr * dim].reshape(npr, na, 3)
            hvps = arrays["hvps"][p : p + npr * dim].reshape(npr, na, 3)
            p += npr * dim
        provenance = {**attrs["provenance"], **json.loads(col["provenance"][i])}
        labels.append(
            Label(
                symbols=[chemical_symbols[z] for z in arrays["numbers"][a : a + na]],
                positions=arrays["positions"][a : a + na],
                energy=float(col["energy"][i]),
                forces=arrays["forces"][a : a + na],
                dispersion_energy=float(col["dispersion_energy"][i]),
                hessian=hessian,
                probes=probes,
                hvps=hvps,
                probe_kinds=kinds[k : k + npr] if npr else None,
                name=str(col["name"][i]),
                category=str(col["category"][i]) or None,
                reaction=str(col["reaction"][i]) or None,
                units=dict(attrs["units"]),
                method={
                    **attrs["method"],
                    "charge": int(col["charge"][i]),
                    "multiplicity": int(col["multiplicity"][i]),
                },
                provenance=provenance,
            )
        )
        a += na
        k += npr
    return Shard(labels, failures, attrs)


def shard_keys(path: str | Path) -> tuple[list[tuple[str, int]], list[Failure]]:
    """(reaction, index) of every label of a shard and its failures, without reading the arrays."""
    import h5py

    path = Path(path)
    try:
        with h5py.File(path, "r") as h5:
            if h5.attrs.get("format") != SHARD_FORMAT:
                raise InputError(f"{path}: not a phl label shard (no format={SHARD_FORMAT!r} mark)")
            keys = list(zip(h5["reaction"].asstr()[()], (int(i) for i in h5["index"][()])))
            f = h5["failed"]
            failures = [
                Failure(str(n), str(r), int(i), str(why))
                for n, r, i, why in zip(
                    f["name"].asstr()[()], f["reaction"].asstr()[()], f["index"][()], f["reason"].asstr()[()]
                )
            ]
    except (OSError, KeyError) as exc:
        raise InputError(f"{path}: not a readable label shard (corrupt or truncated?): {exc}") from None
    return [(str(r), i) for r, i in keys], failures
