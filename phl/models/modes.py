"""How a model must compute its graph, set by the caller for a block of code: differentiable
through vmap-batched products (:func:`vmap_safe`, the E-F-H step) or at static shapes
(:func:`static_shapes`, the captured training step). Models read the settings with
:func:`vmap_safe_active` and :func:`static_shapes_active`. Kept apart from
:mod:`phl.models.derivatives` and :mod:`phl.models.interface`, which both read them, so that
neither imports the other back."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar

_VMAP_SAFE: ContextVar[bool] = ContextVar("phl_vmap_safe", default=False)
_STATIC_SHAPES: ContextVar[bool] = ContextVar("phl_static_shapes", default=False)


@contextmanager
def _setting(var: ContextVar[bool]) -> Iterator[None]:
    token = var.set(True)
    try:
        yield
    finally:
        var.reset(token)


def vmap_safe() -> AbstractContextManager[None]:
    """Inside: models build graphs that vmap-batched products differentiate correctly. A custom
    ``torch.autograd.Function`` in the graph (e.g. :func:`phl.models.ani.permute_rows`) keeps the
    values of ``is_grads_batched`` products right but drops their graph: a loss of vmap-chunked
    model Hessians would then get wrong parameter gradients (measured: 0.48 against 0.53 by
    finite differences). The E-F-H training step builds its graph in here."""
    return _setting(_VMAP_SAFE)


def vmap_safe_active() -> bool:
    """Whether the graph being built must be differentiable through vmap (see :func:`vmap_safe`)."""
    return _VMAP_SAFE.get()


def static_shapes() -> AbstractContextManager[None]:
    """Inside: models compute without reading anything back from the device: no
    data-dependent shapes (neighbour lists, splits by element counts), no checks that branch
    on values. What a CUDA graph can capture (:mod:`phl.training.static_step`); the caller has
    checked the inputs beforehand (e.g. the trainer checks the data set's elements)."""
    return _setting(_STATIC_SHAPES)


def static_shapes_active() -> bool:
    """Whether the model must compute at static shapes (see :func:`static_shapes`)."""
    return _STATIC_SHAPES.get()
