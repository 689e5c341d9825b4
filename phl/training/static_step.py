"""Training steps at static shapes, captured as CUDA graphs (docs/training.md, "Static shapes").

Every minibatch is padded to one shape: ``batch_size`` molecules (a short last batch is made up
with molecules of no atoms and zero weight) of the training set's largest molecule. Its forward
pass, loss terms and parameter gradients are computed with the model at static shapes
(:func:`phl.models.derivatives.static_shapes`: nothing is read back from the device), so that on
CUDA the whole computation is captured once as a CUDA graph and then replayed: one launch per
step instead of thousands of small kernels and the host waiting on the device. The optimisers
step outside the graph (their learning rates change), on the gradients the graph leaves in its
own tensors. Probes are drawn on the host, in the plain step's stream, and copied in with the
batch from pinned memory.

Modes (``static_step`` in the training configuration): ``graph`` (CUDA only), ``eager`` (the
same padded computation without a graph, on any device: how the CPU tests check it), ``off``
(the plain step), ``auto`` (``graph`` for the E-F and HVP regimes on CUDA, else ``off``; E-F-H is
bound by arithmetic and its graph would hold ~10 GB). If a capture fails (a model that reads the
device, an old torch), the run says so once and goes on with the plain step.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import torch

from phl.dataset.batching import Batch
from phl.errors import InputError
from phl.models.modes import static_shapes

log = logging.getLogger(__name__)

#: Eager runs on a side stream before a capture (cuBLAS workspaces, allocator pools), as the
#: PyTorch CUDA-graph documentation prescribes.
WARMUP_STEPS = 2


def resolve_mode(mode: str, regime: str, device: torch.device, model_static: bool = True) -> str:
    """The mode a run uses (one of :data:`phl.training.config.STATIC_STEP_MODES`): ``auto``
    becomes ``graph`` for E-F and HVP regimes on CUDA, else ``off``; ``graph`` elsewhere than on
    CUDA is refused. A model that cannot compute at static shapes (``model_static`` False, e.g.
    MACE's neighbour list) takes the plain step whatever was asked, and the log says why."""
    if not model_static:
        if mode in ("eager", "graph"):
            log.warning(
                "static_step %r asked, but the model cannot compute at static shapes (its graph depends on "
                "the coordinates' values); using the plain step",
                mode,
            )
        elif mode == "auto" and device.type == "cuda" and regime != "efh":
            log.info("the model cannot compute at static shapes: the plain training step, no CUDA graph")
        return "off"
    if mode == "auto":
        return "graph" if device.type == "cuda" and regime != "efh" else "off"
    if mode == "graph" and device.type != "cuda":
        raise InputError(f"static_step 'graph' needs a CUDA device, not {device}; 'eager' runs the same step anywhere")
    return mode


class CUDAGraphCapture:
    """The outputs of ``compute()`` captured once as a CUDA graph on ``device`` (after warm-up
    runs on a side stream, as the PyTorch documentation prescribes); :meth:`replay` recomputes
    them in place from whatever the inputs hold then."""

    def __init__(self, compute: Callable[[], Any], device: torch.device) -> None:
        if not hasattr(torch.cuda, "CUDAGraph"):
            raise RuntimeError(f"torch {torch.__version__} has no CUDA graphs")
        side = torch.cuda.Stream(device)
        side.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(side):
            for _ in range(WARMUP_STEPS):
                compute()
        torch.cuda.current_stream(device).wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.outputs = compute()

    def replay(self) -> Any:
        self.graph.replay()
        return self.outputs


@dataclass
class _Graph:
    capture: Any  # a CUDAGraphCapture (tests substitute one that recomputes eagerly)
    batch: Batch  # the graph's input tensors, refilled before each replay
    weights: torch.Tensor


class StaticStep:
    """One optimisation step of ``trainer`` on a host batch, at the static shape
    (``batch_size``, ``n_atoms``); ``graph`` captures it on first use."""

    def __init__(self, trainer: Any, n_atoms: int, graph: bool) -> None:
        # trainer: a phl.training.trainer.Trainer (not imported here: the trainer imports this module)
        self.trainer = trainer
        self.n_molecules = trainer.cfg.batch_size
        self.n_atoms = n_atoms
        self.use_graph = graph
        self.capture_class: Callable[[Callable[[], Any], torch.device], Any] = CUDAGraphCapture
        self.graph: _Graph | None = None
        self.failure: str | None = None

    def losses_and_gradients(self, batch: Batch, weights: torch.Tensor):
        """Per-molecule loss terms, the weighted total and the parameter gradients of a padded
        batch on the device, computed at static shapes."""
        trainer = self.trainer
        with static_shapes():
            terms = trainer.molecule_terms(batch)
        terms["total"] = (trainer.molecule_totals(terms) * weights).sum()
        grads = torch.autograd.grad(terms["total"], trainer.params, allow_unused=True)
        return {key: value.detach() for key, value in terms.items()}, grads

    def prepare(self, batch: Batch) -> tuple[Batch, torch.Tensor]:
        """The host ``batch`` at the static shape and the molecules' loss weights (1/B, 0 on the
        added molecules)."""
        weights = torch.zeros(self.n_molecules, dtype=self.trainer.dtype)
        weights[: len(batch)] = 1.0 / len(batch)
        return batch.pad(self.n_molecules, self.n_atoms), weights

    def __call__(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Loss terms of the host ``batch`` (per molecule, in batch order, and the total) after
        one optimiser step on it."""
        trainer = self.trainer
        batch = trainer.with_probes(batch)  # drawn for the batch as it is: the plain step's stream
        padded, weights = self.prepare(batch)
        if self.use_graph and self.graph is None and self.failure is None:
            self._capture(padded, weights)
        if self.use_graph and self.failure is not None:  # the capture failed: the plain step
            return trainer.step(batch.to(trainer.device))
        if self.use_graph:
            terms, grads = self._replay(padded, weights)
        else:
            terms, grads = self.losses_and_gradients(padded.to(trainer.device), weights.to(trainer.device))
        for p, g in zip(trainer.params, grads):
            p.grad = g
        for opt in trainer.optimizers.values():
            opt.step()
        return {k: v if v.dim() == 0 else v[: len(batch)] for k, v in terms.items()}

    def _capture(self, padded: Batch, weights: torch.Tensor) -> None:
        """Capture the step on the static input tensors made from this batch; on any failure,
        record it and say so once (the run goes on with the plain step)."""
        device = self.trainer.device
        batch, weights = padded.to(device), weights.to(device)
        try:
            capture = self.capture_class(lambda: self.losses_and_gradients(batch, weights), device)
        except Exception as exc:  # noqa: BLE001 - whatever stops a capture, the plain step runs
            self.failure = f"{type(exc).__name__}: {exc}"
            log.warning("CUDA graph capture of the training step failed (%s); using the plain step", self.failure)
            return
        log.info("training step captured as a CUDA graph (%d x %d atoms)", self.n_molecules, self.n_atoms)
        self.graph = _Graph(capture, batch, weights)

    def _replay(self, padded: Batch, weights: torch.Tensor):
        g = self.graph
        pinned = self.trainer.device.type == "cuda"  # asynchronous copies need pinned host memory
        for f in fields(padded):
            src = getattr(padded, f.name)
            if src is not None:
                getattr(g.batch, f.name).copy_(src.pin_memory() if pinned else src, non_blocking=pinned)
        g.weights.copy_(weights.pin_memory() if pinned else weights, non_blocking=pinned)
        return g.capture.replay()
