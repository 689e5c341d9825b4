"""Padded training batches from a phl data set, as torch tensors.

Padding conventions (TorchANI's): species −1 on padded atoms; coordinates, forces, Hessian rows
and columns, probes and HVPs are zero there, so padded atoms contribute nothing to any loss.
Per-atom arrays are gathered from memory with one vectorised index; Hessians and stored HVP
pairs are read lazily from the file for the structures of the batch only.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from typing import Literal

import numpy as np
import torch
from numpy.typing import NDArray

from phl.dataset.store import Dataset
from phl.errors import InputError
from phl.probes import fixed_probes


@dataclass
class Batch:
    index: torch.Tensor  # (B,) structure indices in the data set
    species: torch.Tensor  # (B, N) atomic numbers, -1 = padding
    coordinates: torch.Tensor  # (B, N, 3) Å
    energy: torch.Tensor  # (B,) Eh
    forces: torch.Tensor  # (B, N, 3) Eh/Å
    n_atoms: torch.Tensor  # (B,)
    mask: torch.Tensor  # (B, N) True on real atoms
    hessian: torch.Tensor | None = None  # (B, 3N, 3N) Eh/Å²
    probes: torch.Tensor | None = None  # (B, K, N, 3)
    hvps: torch.Tensor | None = None  # (B, K, N, 3) Eh/Å² (stored reference HVPs)

    def to(self, device: torch.device | str) -> Batch:
        return Batch(
            **{
                f.name: (v.to(device) if isinstance(v := getattr(self, f.name), torch.Tensor) else v)
                for f in fields(self)
            }
        )

    def __len__(self) -> int:
        return len(self.index)

    def select(self, rows: torch.Tensor, n_max: int) -> Batch:
        """The molecules ``rows`` of this batch, padded to ``n_max`` atoms (at least their largest):
        the same molecules and labels with fewer padded atoms, Hessian rows and probe entries."""
        out = {}
        for name, v in self._tensors():
            if v is not None:
                v = v[rows]
                for axis, per_atom in _ATOM_AXES.get(name, {1: 1}).items():
                    v = v.narrow(axis, 0, per_atom * n_max)
                v = v.contiguous()
            out[name] = v
        return Batch(**out)

    def pad(self, n_molecules: int, n_atoms: int) -> Batch:
        """This batch at a fixed shape: ``n_molecules`` molecules of ``n_atoms`` atoms (at least
        the batch's own). Added molecules have no atoms (species −1, index −1, zero labels) and
        ``n_atoms`` 1, so that every per-molecule loss term of theirs is a finite zero."""
        b, n = self.species.shape
        if n_molecules < b or n_atoms < n:
            raise ValueError(f"cannot pad a batch of {b} x {n} atoms to {n_molecules} x {n_atoms}")
        out = {}
        for name, v in self._tensors():
            if v is not None:
                shape = [n_molecules, *v.shape[1:]]
                for axis, per_atom in _ATOM_AXES.get(name, {1: 1}).items():
                    shape[axis] = per_atom * n_atoms
                padded = torch.full(shape, _PAD_VALUES.get(name, 0), dtype=v.dtype, device=v.device)
                padded[tuple(slice(0, s) for s in v.shape)] = v
                v = padded
            out[name] = v
        return Batch(**out)

    def _tensors(self) -> Iterator[tuple[str, torch.Tensor | None]]:
        return ((f.name, getattr(self, f.name)) for f in fields(self))


#: Axes of each Batch field that run over atoms, with entries per atom (the others: axis 1, one
#: per atom); padded atoms are the last along each.
_ATOM_AXES: dict[str, dict[int, int]] = {
    "index": {},
    "energy": {},
    "n_atoms": {},
    "hessian": {1: 3, 2: 3},
    "probes": {2: 1},
    "hvps": {2: 1},
}
#: Values of padding (molecules and atoms) where not zero.
_PAD_VALUES = {"index": -1, "species": -1, "n_atoms": 1}


def size_groups(n_atoms: NDArray[np.integer], k: int) -> list[NDArray[np.int64]]:
    """Positions of a batch's molecules in at most ``k`` groups of similar size: sorted by atom
    count (stable), cut into ``k`` groups of nearly equal count; molecules of one size stay in one
    group. Every position appears once."""
    n_atoms = np.asarray(n_atoms)
    order = np.argsort(n_atoms, kind="stable")
    if k <= 1 or len(order) <= 1:
        return [order]
    sizes = n_atoms[order]
    cuts = set()
    for c in (np.arange(1, k) * len(order)) // k:  # a cut inside a run of one size moves to its end
        cuts.add(int(c) if c == 0 or sizes[c - 1] != sizes[c] else int(np.searchsorted(sizes, sizes[c], side="right")))
    return [g for g in np.split(order, sorted(c for c in cuts if 0 < c < len(order))) if len(g)]


HvpSource = Literal["none", "stored", "fixed"]


def pad_structures(
    structures: Sequence, dtype: torch.dtype = torch.float64
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Species (B, N) with −1 padding, coordinates (B, N, 3) with zero padding and atom counts (B,)
    of in-memory :class:`~phl.dataset.store.Structure` objects (the batch layout of this module)."""
    n_atoms = torch.tensor([s.n_atoms for s in structures])
    n_max = int(n_atoms.max())
    species = torch.full((len(structures), n_max), -1)
    coords = torch.zeros((len(structures), n_max, 3), dtype=dtype)
    for b, s in enumerate(structures):
        species[b, : s.n_atoms] = torch.as_tensor(s.species)
        coords[b, : s.n_atoms] = torch.as_tensor(s.coordinates, dtype=dtype)
    return species, coords, n_atoms


class BatchLoader:
    """Iterate padded batches over ``indices`` of a data set.

    Args:
        hessian: read full Hessians (E-F-H regime); structures without one are an error.
        hvp: ``stored`` reads the stored (probe, HVP) pairs; ``fixed`` attaches ``k_probes``
            probes per structure that depend only on (``probe_seed``, structure index), for the
            fixed-probe regime; ``none`` attaches nothing (randomised probes are drawn by the
            trainer per minibatch).
        shuffle: a new permutation each epoch, from ``seed`` and the epoch number (reproducible).
    """

    def __init__(
        self,
        dataset: Dataset,
        indices: Sequence[int] | NDArray[np.integer],
        batch_size: int = 400,
        shuffle: bool = True,
        seed: int = 0,
        hessian: bool = False,
        hvp: HvpSource = "none",
        k_probes: int = 1,
        probe_kind: str = "gaussian",
        probe_seed: int = 0,
        dtype: torch.dtype = torch.float64,
        drop_last: bool = False,
    ) -> None:
        if batch_size < 1:
            raise InputError(f"batch_size must be at least 1, got {batch_size}")
        if hvp not in ("none", "stored", "fixed"):
            raise InputError(f"hvp must be none, stored or fixed, got {hvp!r}")
        self.ds = dataset
        self.indices = np.asarray(indices, dtype=np.int64)
        if len(self.indices) and (self.indices.min() < 0 or self.indices.max() >= len(dataset)):
            raise InputError(f"indices out of range for a data set of {len(dataset)} structures")
        if hessian and not dataset.has_hessian[self.indices].all():
            bad = int(self.indices[~dataset.has_hessian[self.indices]][0])
            raise InputError(
                f"structure {bad} has no Hessian; this training needs a reference Hessian for every "
                "structure (HVP-only data: use probes: stored)"
            )
        if hvp == "stored":
            self._stored = {int(i): self._pairs_of_kind(dataset, int(i), probe_kind, k_probes) for i in self.indices}
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
        self.hessian, self.hvp = hessian, hvp
        self.k_probes, self.probe_kind, self.probe_seed = k_probes, probe_kind, probe_seed
        self.dtype, self.drop_last = dtype, drop_last
        self.epoch = 0

    @staticmethod
    def _pairs_of_kind(ds: Dataset, i: int, kind: str, k: int) -> tuple[NDArray, NDArray]:
        """The first ``k`` stored (probe, HVP) pairs of structure ``i`` whose probes are of
        ``kind``: a one-hot run never trains on Gaussian pairs, nor the reverse."""
        pairs = ds.hvp_pairs(i)
        if pairs is None:
            raise InputError(
                f"structure {i} has no stored (probe, HVP) pairs; probes: stored needs reference pairs for every "
                "structure"
            )
        kinds = ds.probe_kinds(i)
        if None in kinds:
            raise InputError(
                f"structure {i}: the kind of its stored probes is not recorded (a data set from an older phl or "
                "an import), so one-hot and random pairs cannot be told apart; relabel, or train with fixed or "
                "randomized probes"
            )
        sel = [j for j, kd in enumerate(kinds) if kd == kind][:k]
        if not sel:
            raise InputError(
                f"structure {i} has stored pairs of kind {', '.join(sorted(set(kinds)))} but this run needs {kind} "
                f"pairs (label with probe: {kind}, e.g. labels.probe: gaussian,onehot)"
            )
        return pairs[0][sel], pairs[1][sel]

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        n = len(self.indices)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def batch_indices(self) -> list[NDArray[np.int64]]:
        order = self.indices
        if self.shuffle:
            order = order[np.random.default_rng([self.seed, self.epoch]).permutation(len(order))]
        chunks = [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        if self.drop_last and chunks and len(chunks[-1]) < self.batch_size:
            chunks.pop()
        return chunks

    def __iter__(self) -> Iterator[Batch]:
        for idx in self.batch_indices():
            yield self.make_batch(idx)

    def make_batch(self, idx: NDArray[np.int64]) -> Batch:
        ds, dt = self.ds, self.dtype
        n_atoms = ds.columns["n_atoms"][idx].astype(np.int64)
        n_max = int(n_atoms.max())
        pos = np.arange(n_max)
        mask = pos[None, :] < n_atoms[:, None]
        gather = np.where(mask, ds.columns["atom_offset"][idx][:, None] + pos[None, :], 0)
        species = np.where(mask, ds.species[gather], -1)
        coords = np.where(mask[..., None], ds.coordinates[gather], 0.0)
        forces = np.where(mask[..., None], ds.forces[gather], 0.0)
        batch = Batch(
            index=torch.from_numpy(idx.copy()),
            species=torch.from_numpy(species),
            coordinates=torch.from_numpy(coords).to(dt),
            energy=torch.from_numpy(ds.columns["energy"][idx]).to(dt),
            forces=torch.from_numpy(forces).to(dt),
            n_atoms=torch.from_numpy(n_atoms),
            mask=torch.from_numpy(mask),
        )
        if self.hessian:
            h = np.zeros((len(idx), 3 * n_max, 3 * n_max))
            for b, i in enumerate(idx):
                d = 3 * n_atoms[b]
                h[b, :d, :d] = ds.hessian(int(i))
            batch.hessian = torch.from_numpy(h).to(dt)
        if self.hvp == "stored":
            pairs = [self._stored[int(i)] for i in idx]
            k_max = max(p[0].shape[0] for p in pairs)
            probes = np.zeros((len(idx), k_max, n_max, 3))
            hvps = np.zeros_like(probes)
            for b, (v, hv) in enumerate(pairs):
                probes[b, : len(v), : n_atoms[b]] = v
                hvps[b, : len(v), : n_atoms[b]] = hv
            batch.probes, batch.hvps = torch.from_numpy(probes).to(dt), torch.from_numpy(hvps).to(dt)
        elif self.hvp == "fixed":
            probes = np.zeros((len(idx), self.k_probes, n_max, 3))
            for b, i in enumerate(idx):
                probes[b, :, : n_atoms[b]] = fixed_probes(
                    self.probe_seed, int(i), int(n_atoms[b]), self.k_probes, self.probe_kind
                )
            batch.probes = torch.from_numpy(probes).to(dt)
        return batch
