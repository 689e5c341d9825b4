"""Training one regime and seed: AdamW on weights, SGD on biases, ReduceLROnPlateau on the
validation energy RMSE, best checkpoint, resumable from the checkpoint written after every epoch.

Output folder::

    config.json     the TrainConfig and data set of the run
    log.csv         one row per epoch: losses, validation RMSEs (kcal/mol, kcal/mol/Å), lr,
                    wall seconds (device-synchronised) and peak memory (MB)
    last.pt         everything needed to resume (model, optimisers, schedulers, RNG states, history)
    best.pt         model of the epoch with the lowest validation energy RMSE (a model checkpoint:
                    :func:`phl.models.load_model` rebuilds it, whatever the model class)
    final.json      summary when the run has ended

A run started again in the same folder with the same configuration resumes from ``last.pt`` and
ends with the same parameters as an uninterrupted run (same seed, same machine).
"""

from __future__ import annotations

import logging
import resource
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.profiler import record_function

from phl.dataset import Dataset
from phl.dataset.batching import Batch, BatchLoader, size_groups
from phl.errors import InputError, PHLError
from phl.io.atomic import atomic_write_json, atomic_write_text
from phl.models import SupportsSelfEnergies, energy_forces, hessian, hvp, model_elements, model_record
from phl.models.checkpoint import read_checkpoint, save_checkpoint, trained_level_of_theory
from phl.models.device import resolve_device
from phl.models.interface import (
    HESSIAN_CHUNK,
    HESSIAN_CHUNK_MAX_ATOMS,
    SupportsEnergyScale,
    supports_static_shapes,
)
from phl.models.modes import vmap_safe
from phl.probes import draw_probes_torch
from phl.provenance import provenance
from phl.training.allocator import keep_freed_memory
from phl.training.config import TrainConfig
from phl.training.losses import energy_loss, forces_loss, hessian_loss, hvp_loss, reference_hvp
from phl.training.static_step import StaticStep
from phl.training.static_step import resolve_mode as resolve_static_mode
from phl.units import HARTREE_TO_KCAL_MOL

log = logging.getLogger(__name__)

#: E-F-H's automatic size groups (``size_groups: 0``) are used where they save at least this
#: fraction of the padded Hessian work: on the science data (3-18 atoms) 3 groups save ~50 % and
#: made an epoch 27.2 s → 21.5 s; on batches of 400 x 12.5 atoms (9-14) they save ~15 % and made
#: it slower, 26.2 s → 28.1 s (docs/training.md).
GROUPS_MIN_SAVING = 0.25


class TrainingError(PHLError, RuntimeError):
    """Training cannot go on (non-finite loss, ...); the last good checkpoint is kept."""


def element_counts(ds: Dataset, indices: np.ndarray, elements: tuple[int, ...]) -> np.ndarray:
    """(structures, elements) atoms of each element in the structures ``indices``, in one pass
    over their atoms."""
    n = ds.columns["n_atoms"][indices].astype(np.int64)
    first = np.repeat(ds.columns["atom_offset"][indices].astype(np.int64) - (np.cumsum(n) - n), n)
    z = ds.species[first + np.arange(int(n.sum()))]
    rows = np.repeat(np.arange(len(indices)), n)
    return np.stack([np.bincount(rows, weights=z == e, minlength=len(indices)) for e in elements], axis=1)


def fit_self_energies(ds: Dataset, indices: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Least-squares energy per element over the training structures (ANI's self energies), from
    their :func:`element_counts`."""
    coef, *_ = np.linalg.lstsq(counts, ds.columns["energy"][indices], rcond=None)
    return coef


def energy_scale(ds: Dataset, indices: np.ndarray, counts: np.ndarray, self_energies: np.ndarray) -> float:
    """Standard deviation (Eh) of the training structures' per-atom energies after the
    self energies are taken off: the scale of what a model's learned part must fit (mace-torch's
    ``std_scaling``)."""
    per_atom = (ds.columns["energy"][indices] - counts @ self_energies) / counts.sum(axis=1)
    return float(np.std(per_atom)) if len(per_atom) > 1 else 0.0


def _peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


@dataclass
class EpochLosses:
    total: float = 0.0
    energy: float = 0.0
    forces: float = 0.0
    hessian: float = 0.0
    n: int = 0


class Trainer:
    def __init__(self, config: TrainConfig, dataset_path: str | Path, out_dir: str | Path) -> None:
        self.cfg = config
        self.out = Path(out_dir)
        self.dataset_path = Path(dataset_path)
        self.ds = Dataset(self.dataset_path)
        self.device = resolve_device(config.device)
        if self.device.type == "cpu":
            keep_freed_memory()
        self.dtype = torch.float64 if config.dtype == "float64" else torch.float32
        self.train_idx = self.ds.indices(config.split, "train")
        self.val_idx = self.ds.indices(config.split, "val")
        if len(self.train_idx) == 0 or len(self.val_idx) == 0:
            raise InputError(
                f"split {config.split!r} has {len(self.train_idx)} training and {len(self.val_idx)} "
                "validation structures; both must be non-empty"
            )
        torch.manual_seed(config.seed)
        self.model = config.model_spec.build(dtype=self.dtype, device=self.device)
        self._check_data()
        hvp_source = config.probes if config.uses_hvp and config.probes in ("fixed", "stored") else "none"
        self.loader = BatchLoader(
            self.ds,
            self.train_idx,
            config.batch_size,
            shuffle=True,
            seed=config.seed,
            hessian=config.needs_hessian,
            hvp=hvp_source,
            k_probes=config.k_probes,
            probe_kind=config.probe_kind,
            probe_seed=(config.probe_seed, config.seed),  # fixed probes follow the run seed
            dtype=self.dtype,
        )
        self.val_loader = BatchLoader(self.ds, self.val_idx, config.batch_size, shuffle=False, dtype=self.dtype)
        # the validation Hessian RMSE: a fixed subset (the first validation structures with
        # reference Hessians), so that its cost (3N backward passes each) stays small
        with_h = self.val_idx[self.ds.has_hessian[self.val_idx]] if config.validate_hessian else self.val_idx[:0]
        self.val_hessian_idx = np.sort(with_h)[: config.validate_hessian_structures]
        self.val_hessian_loader = (
            BatchLoader(self.ds, self.val_hessian_idx, config.batch_size, shuffle=False, dtype=self.dtype, hessian=True)
            if len(self.val_hessian_idx)
            else None
        )
        trainable = [(n, p) for n, p in self.model.named_parameters() if p.requires_grad]
        self.params = [p for _, p in trainable]
        weights = [p for n, p in trainable if not n.endswith("bias")]
        biases = [p for n, p in trainable if n.endswith("bias")]
        if not self.params:
            raise InputError(f"model {config.model} has no trainable parameters")
        # AdamW on weights, SGD on biases (the paper's code); a model without one kind has one optimiser
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        if weights:
            self.optimizers["opt_w"] = torch.optim.AdamW(weights, lr=config.lr, weight_decay=config.weight_decay)
        if biases:
            self.optimizers["opt_b"] = torch.optim.SGD(biases, lr=config.lr)
        self.schedulers = [
            torch.optim.lr_scheduler.ReduceLROnPlateau(
                o, factor=config.lr_factor, patience=config.lr_patience, threshold=config.lr_threshold
            )
            for o in self.optimizers.values()
        ]
        self.generator = torch.Generator(device="cpu").manual_seed(config.seed + 7919)
        mode = resolve_static_mode(config.static_step, config.regime, self.device, supports_static_shapes(self.model))
        largest = int(self.ds.columns["n_atoms"][self.train_idx].max())
        self.static_step = StaticStep(self, largest, graph=mode == "graph") if mode != "off" else None
        self.epoch = 0
        self.best = float("inf")
        self.history: list[dict[str, Any]] = []

    @property
    def packages(self) -> tuple[str, ...]:
        """The packages whose versions a run's provenance records: torch, TorchANI, the model's own."""
        return ("torch", "torchani", *getattr(self.model, "packages", ()))

    # ---------------------------------------------------------------------------------------
    def _check_data(self) -> None:
        """Fail before training on elements the model does not cover (missing labels are refused
        by the batch loaders, built next)."""
        idx = np.concatenate([self.train_idx, self.val_idx])
        present = set(np.unique(np.concatenate([self.ds.species[self.ds.atom_slice(int(i))] for i in idx])).tolist())
        elements = set(model_elements(self.model))
        if present - elements:
            raise InputError(
                f"the data set has element(s) {sorted(present - elements)} that the model does not cover "
                f"(covers {sorted(elements)})"
            )

    def batch_groups(self, batch: Batch) -> list[tuple[np.ndarray, int]]:
        """The batch's sub-batches of similar molecule size, as (positions, largest molecule):
        ``size_groups`` of them, or with 0 one for E-F and HVP steps (nothing read from the
        device) and, for E-F-H, whose cost grows with every padded Hessian row, 3 where they cut
        the padded Hessian work (Σ n_max² over the molecules) by at least GROUPS_MIN_SAVING."""
        k = self.cfg.size_groups or (3 if self.cfg.regime == "efh" else 1)
        if k == 1:
            return [(np.arange(len(batch)), batch.species.shape[1])]
        n_atoms = batch.n_atoms.cpu().numpy()
        groups = [(g, int(n_atoms[g].max())) for g in size_groups(n_atoms, k)]
        work = sum(len(g) * n**2 for g, n in groups) / (len(n_atoms) * int(n_atoms.max()) ** 2)
        if not self.cfg.size_groups and work > 1 - GROUPS_MIN_SAVING:
            return [(np.arange(len(batch)), batch.species.shape[1])]
        return groups

    def hessian_chunk(self, batch: Batch) -> int:
        """E-F-H's products per vmap call for this (sub-)batch: the setting, or with -1
        HESSIAN_CHUNK on CUDA and on CPU up to HESSIAN_CHUNK_MAX_ATOMS padded atoms, else 0."""
        if self.cfg.hessian_chunk >= 0:
            return self.cfg.hessian_chunk
        small = batch.species.numel() <= HESSIAN_CHUNK_MAX_ATOMS
        return HESSIAN_CHUNK if self.device.type == "cuda" or small else 0

    def with_probes(self, batch: Batch) -> Batch:
        """The batch with this step's randomized probes (HVP regimes with ``probes: randomized``
        whose batch has none yet), drawn on the host from the run's generator for the whole
        batch: the same stream whatever the size groups or static shapes."""
        cfg = self.cfg
        if not (cfg.uses_hvp and cfg.probes == "randomized") or batch.probes is not None:
            return batch
        with record_function("phl.probes"):
            probes = draw_probes_torch(
                batch.n_atoms.cpu(),
                batch.species.shape[1],
                cfg.k_probes,
                cfg.probe_kind,
                generator=self.generator,
                dtype=self.dtype,
            )
        return replace(batch, probes=probes.to(batch.species.device))

    def batch_losses(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Per-molecule loss terms (B,) of this regime, in batch order, and the weighted total
        (scalar). With size groups the molecules go through the model in sub-batches of similar
        size; the terms are the same (each molecule's terms depend on that molecule alone)."""
        batch = self.with_probes(batch)
        groups = self.batch_groups(batch)
        if len(groups) == 1:
            terms = self.molecule_terms(batch)
        else:
            parts = []
            for rows, n_max in groups:
                parts.append(self.molecule_terms(batch.select(torch.as_tensor(rows, device=self.device), n_max)))
            inverse = torch.as_tensor(np.argsort(np.concatenate([rows for rows, _ in groups])), device=self.device)
            terms = {key: torch.cat([part[key] for part in parts])[inverse] for key in parts[0]}
        terms["total"] = self.molecule_totals(terms).mean()
        return terms

    def molecule_totals(self, terms: dict[str, torch.Tensor]) -> torch.Tensor:
        """Per-molecule weighted loss w_E L_E + w_F L_F (+ w_H L_H), shape (B,)."""
        cfg = self.cfg
        with record_function("phl.loss"):
            total = cfg.weight_energy * terms["energy"] + cfg.weight_forces * terms["forces"]
            if "hessian" in terms:
                total = total + cfg.weight_hessian * terms["hessian"]
        return total

    def molecule_terms(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Per-molecule energy, force and (E-F-H, HVP regimes) Hessian loss terms of one
        (sub-)batch; HVP regimes read their probes from ``batch.probes``."""
        cfg = self.cfg
        chunk = self.hessian_chunk(batch)
        vmapped = cfg.regime == "efh" and chunk > 0
        with record_function("phl.energy_forces"), vmap_safe() if vmapped else nullcontext():
            energy, forces, coords = energy_forces(self.model, batch.species, batch.coordinates)
        with record_function("phl.loss"):
            terms = {
                "energy": energy_loss(energy, batch.energy, batch.n_atoms),
                "forces": forces_loss(forces, batch.forces, batch.n_atoms),
            }
        if cfg.regime == "efh":
            with record_function("phl.hessian"):
                h = hessian(forces, coords, chunk_size=chunk)
            with record_function("phl.loss"):
                terms["hessian"] = hessian_loss(h, batch.hessian, batch.n_atoms)
        elif cfg.uses_hvp:
            with record_function("phl.hvp"):
                model_hvp = hvp(forces, coords, batch.probes)
            with record_function("phl.loss"):
                ref = batch.hvps if cfg.probes == "stored" else reference_hvp(batch.hessian, batch.probes)
                terms["hessian"] = hvp_loss(model_hvp, ref, batch.n_atoms)
        return terms

    def backward(self, terms: dict[str, torch.Tensor]) -> None:
        """Fresh parameter gradients of ``terms["total"]``. Parameters only: without ``inputs``
        autograd would also fill coordinates.grad, differentiating the AEV once more for nothing
        (~20 % of an E-F or HVP step, ~55 % of an E-F-H step)."""
        for opt in self.optimizers.values():
            opt.zero_grad(set_to_none=True)
        terms["total"].backward(inputs=self.params)

    def step(self, batch: Batch) -> dict[str, torch.Tensor]:
        """One optimisation step on a batch already on the device: losses, parameter gradients,
        optimiser steps (each part a ``phl.*`` profiler region). Returns the loss terms."""
        terms = self.batch_losses(batch)
        with record_function("phl.backward"):
            self.backward(terms)
        with record_function("phl.optimizer"):
            for opt in self.optimizers.values():
                opt.step()
        return terms

    def train_epoch(self, after_batch: Callable[[int, int], None] | None = None) -> EpochLosses:
        """One pass over the training batches. Nothing inside the loop waits for the device: the
        loss sums and the first non-finite batch are kept on it and read once, after the epoch (a
        non-finite loss then raises with its batch; ``last.pt`` still holds the last good epoch)."""
        self.model.train()
        self.loader.set_epoch(self.epoch)
        keys = ("total", "energy", "forces", "hessian")
        sums = torch.zeros(len(keys), dtype=self.dtype, device=self.device)
        first_bad = torch.full((), -1, dtype=torch.long, device=self.device)
        n_seen = 0
        for b, batch in enumerate(self.loader):
            batch = self.with_probes(batch)  # on the host: the device is not read for the sizes
            terms = self.static_step(batch) if self.static_step else self.step(batch.to(self.device))
            total = terms["total"].detach()
            first_bad = torch.where((first_bad < 0) & ~torch.isfinite(total), b, first_bad)
            zero = total.new_zeros(())
            sums += torch.stack(
                [total * len(batch), *(terms[k].detach().sum() if k in terms else zero for k in keys[1:])]
            )
            n_seen += len(batch)
            if after_batch:
                after_batch(self.epoch + 1, b + 1)
        if int(first_bad) >= 0:
            raise TrainingError(
                f"non-finite loss at epoch {self.epoch + 1}, batch {int(first_bad) + 1}; the last good "
                f"checkpoint is {self.out / 'last.pt'} (epoch {self.epoch})"
            )
        means = (sums / max(n_seen, 1)).tolist()
        return EpochLosses(**dict(zip(keys, means)), n=n_seen)

    def validate(self) -> dict[str, float]:
        """Validation RMSEs in the paper's per-molecule convention: energy (kcal/mol),
        forces sqrt(mean ‖ΔF‖²/(3N)) (kcal/mol/Å) and, on the fixed Hessian subset,
        Hessian sqrt(mean ‖ΔH‖²/(3N)²) (kcal/mol/Å²)."""
        self.model.eval()
        se_e = se_f = se_h = 0.0
        n_mol = n_h = 0
        for batch in self.val_loader:
            batch = batch.to(self.device)
            energy, forces, _ = energy_forces(self.model, batch.species, batch.coordinates, create_graph=False)
            per_atom = 3 * batch.n_atoms.to(forces.dtype)
            se_e += float(((energy.detach() - batch.energy) ** 2).sum())
            se_f += float((((forces.detach() - batch.forces) ** 2).sum(dim=(1, 2)) / per_atom).sum())
            n_mol += len(batch)
        for batch in self.val_hessian_loader or ():
            batch = batch.to(self.device)
            _, forces, coords = energy_forces(self.model, batch.species, batch.coordinates, create_graph=True)
            h = hessian(forces, coords, create_graph=False).detach()
            dim = (3 * batch.n_atoms.to(h.dtype)) ** 2
            se_h += float((((h - batch.hessian) ** 2).sum(dim=(1, 2)) / dim).sum())
            n_h += len(batch)
        out = {
            "val_energy_rmse": np.sqrt(se_e / n_mol) * HARTREE_TO_KCAL_MOL,
            "val_forces_rmse": np.sqrt(se_f / n_mol) * HARTREE_TO_KCAL_MOL,
        }
        if n_h:
            out["val_hessian_rmse"] = np.sqrt(se_h / n_h) * HARTREE_TO_KCAL_MOL
        return out

    # ---------------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "best": self.best,
            "history": self.history,
            "config": self.cfg.to_dict(),
            "model": self.model.state_dict(),
            **{k: o.state_dict() for k, o in self.optimizers.items()},
            "schedulers": [s.state_dict() for s in self.schedulers],
            "generator": self.generator.get_state(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if self.device.type == "cuda" else None,
            **self.data_identity(),
        }

    def data_identity(self) -> dict[str, Any]:
        """What a run's checkpoints record of its data: the level of theory of the labels and the
        structures of the split (a resume or an evaluation on other data is refused)."""
        return {
            "level_of_theory": self.ds.level_of_theory,
            "data": {
                "n_structures": len(self.ds),
                "split": self.cfg.split,
                "n_train": len(self.train_idx),
                "n_val": len(self.val_idx),
            },
        }

    def check_same_data(self, state: dict[str, Any]) -> None:
        """Refuse to resume a run on data other than its own (checkpoints written before the data
        were recorded in them are compared through the run's config.json)."""
        stored = {k: state[k] for k in ("level_of_theory", "data") if k in state}
        if "level_of_theory" not in stored and (level := trained_level_of_theory(state, self.out / "last.pt")):
            stored["level_of_theory"] = level  # a checkpoint older than the record: the run's config.json
        own = self.data_identity()
        changed = [k for k in stored if stored[k] != own[k]]
        if changed:
            was = "; ".join(f"{k} {stored[k]} there, {own[k]} in {self.dataset_path}" for k in changed)
            raise InputError(
                f"{self.out} holds a run trained on other data ({was}); use a new output folder for this data set"
            )

    def load_state(self, state: dict[str, Any]) -> None:
        # keys added to TrainConfig later take their defaults in older checkpoints
        stored = {**TrainConfig().to_dict(), **state["config"]}
        if stored != self.cfg.to_dict():
            changed = sorted(k for k in stored if stored[k] != self.cfg.to_dict().get(k))
            raise InputError(
                f"{self.out / 'last.pt'} was written with other settings ({', '.join(changed)}); "
                "use a new output folder or the same configuration"
            )
        self.epoch, self.best, self.history = state["epoch"], state["best"], state["history"]
        self.model.load_state_dict(state["model"])
        for key, opt in self.optimizers.items():
            opt.load_state_dict(state[key])
        for s, sd in zip(self.schedulers, state["schedulers"]):
            s.load_state_dict(sd)
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        if state.get("cuda_rng") is not None and self.device.type == "cuda":
            torch.cuda.set_rng_state_all(state["cuda_rng"])

    def _model_record(self) -> dict[str, Any]:
        return model_record(
            self.model,
            self.cfg.model_spec,
            config=self.cfg.to_dict(),
            epoch=self.epoch,
            dataset=str(self.dataset_path),
            **self.data_identity(),
        )

    @property
    def lr(self) -> float:
        return float(next(iter(self.optimizers.values())).param_groups[0]["lr"])

    def run(self, after_batch: Callable[[int, int], None] | None = None, progress: bool = False) -> dict[str, Any]:
        """Train until the learning rate falls below ``min_lr`` or ``max_epochs``; resumes from
        ``last.pt`` when present. Returns the final summary."""
        self.out.mkdir(parents=True, exist_ok=True)
        last = self.out / "last.pt"
        if last.exists():
            state = read_checkpoint(last, self.device)
            self.check_same_data(state)
            self.load_state(state)
            log.info("resuming %s from epoch %d", self.out, self.epoch)
        else:
            if isinstance(self.model, SupportsSelfEnergies | SupportsEnergyScale):
                counts = element_counts(self.ds, self.train_idx, model_elements(self.model))
                se = fit_self_energies(self.ds, self.train_idx, counts)
            if isinstance(self.model, SupportsSelfEnergies):
                self.model.set_self_energies(torch.as_tensor(se, dtype=self.dtype, device=self.device))
            if isinstance(self.model, SupportsEnergyScale):
                self.model.set_energy_scale(energy_scale(self.ds, self.train_idx, counts, se))
            atomic_write_json(
                self.out / "config.json",
                {
                    "config": self.cfg.to_dict(),
                    "dataset": str(self.dataset_path),
                    "level_of_theory": self.ds.level_of_theory,
                    "provenance": provenance(extra_packages=self.packages),
                },
            )
        while self.epoch < self.cfg.max_epochs and self.lr >= self.cfg.min_lr:
            if self.device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(self.device)
                torch.cuda.synchronize(self.device)
            t0 = time.perf_counter()
            losses = self.train_epoch(after_batch)
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            seconds = time.perf_counter() - t0
            val = self.validate()
            if not all(np.isfinite(v) for v in val.values()):
                raise TrainingError(
                    f"non-finite validation error after epoch {self.epoch + 1}; the last good "
                    f"checkpoint is {last} (epoch {self.epoch})"
                )
            self.epoch += 1
            lr = self.lr
            for s in self.schedulers:
                s.step(val["val_energy_rmse"])
            row = {
                "epoch": self.epoch,
                "lr": lr,
                "train_loss": losses.total,
                "train_energy_loss": losses.energy,
                "train_forces_loss": losses.forces,
                "train_hessian_loss": losses.hessian,
                **val,
                "seconds": seconds,
                "peak_mem_mb": _peak_memory_mb(self.device),
            }
            self.history.append(row)
            if val["val_energy_rmse"] < self.best:
                self.best = val["val_energy_rmse"]
                save_checkpoint(self._model_record(), self.out / "best.pt")
            save_checkpoint(self.state(), last)
            import pandas as pd

            atomic_write_text(self.out / "log.csv", pd.DataFrame(self.history).to_csv(index=False))
            if progress:
                print(
                    f"epoch {self.epoch:4d}  loss {losses.total:.3e}  val E {val['val_energy_rmse']:.3f} kcal/mol  "
                    f"F {val['val_forces_rmse']:.3f} kcal/mol/Å  lr {lr:.1e}  {seconds:.1f} s",
                    flush=True,
                )
        best_row = min(self.history, key=lambda r: r["val_energy_rmse"]) if self.history else {}
        summary = {
            "epochs": self.epoch,
            "best_epoch": best_row.get("epoch"),
            "best": best_row,
            "stopped_by": "min_lr" if self.lr < self.cfg.min_lr else "max_epochs",
            "mean_seconds_per_epoch": float(np.mean([r["seconds"] for r in self.history])) if self.history else None,
            "config": self.cfg.to_dict(),
            "dataset": str(self.dataset_path),
            **self.data_identity(),  # level of theory and the split's structure counts
            "device": str(self.device),
        }
        atomic_write_json(self.out / "final.json", summary)
        return summary
