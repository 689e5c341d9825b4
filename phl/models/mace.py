"""MACE (mace-torch's ``ScaleShiftMACE``) behind phl's model interface (docs/mace.md).

:class:`MACEModel` builds mace-torch's model from JSON-serialisable constructor arguments (so that
a checkpoint rebuilds it from its :class:`phl.models.interface.ModelSpec`) and maps phl's padded
batch (species (B, N) with −1 on padding, coordinates (B, N, 3) in Å) to MACE's graph input:
nodes are the real atoms, edges every ordered pair of distinct atoms of the same molecule closer
than ``r_max`` (no periodic images, none to padded atoms), node attributes the one-hot of the
model's elements. Energies are in Eh. Forces, HVPs and Hessians come from phl's derivatives
(:mod:`phl.models.derivatives`) through the coordinates, as for any phl model: the HVP loss
differentiates MACE three times, in eager mode.

The per-element energies E0 are fitted by phl's trainer (``set_self_energies``, as ANI's self
energies) and the interaction energy's scale from the spread of the training energies per atom
(``set_energy_scale``: mace-torch's ``std_scaling``), both stored in the state.

The neighbour list depends on the coordinates' values (data-dependent shapes), so MACE does not
run at static shapes (:func:`phl.models.derivatives.static_shapes`); the trainer takes the plain
step and says why (``supports_static_shapes = False``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from phl.errors import InputError
from phl.models.interface import element_indices, element_lookup

#: Sizes for C/H/N/O molecules (docs/mace.md). ``small``: what fits CPU training (measured in
#: benchmarks/train_cost.py --model mace); ``medium``: mace-torch's defaults for a small-molecule
#: model (128 scalar and 128 vector channels are its "large"; use ``hidden_irreps`` for that).
PRESETS: dict[str, dict[str, Any]] = {
    "small": {"hidden_irreps": "16x0e+16x1o", "max_ell": 1, "correlation": 2, "radial_MLP": [32, 32]},
    "medium": {"hidden_irreps": "64x0e+64x1o", "max_ell": 2, "correlation": 3, "radial_MLP": [64, 64, 64]},
}
#: Interaction blocks and gates mace-torch offers under these names.
INTERACTIONS = ("RealAgnosticResidualInteractionBlock", "RealAgnosticInteractionBlock")
GATES = ("silu", "tanh", "abs", "None")


def import_mace():
    """mace-torch's ``modules`` and e3nn's ``o3``, or an :class:`InputError` naming the fix.
    mace is imported before e3nn: e3nn 0.4.4 reads its constants with ``torch.load``, which torch
    ≥ 2.6 refuses unless mace's ``__init__`` has set ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` first."""
    try:
        with warnings.catch_warnings():  # TorchScript's notes on mace-torch's classes, at import
            warnings.simplefilter("ignore", (UserWarning, DeprecationWarning))
            import mace  # noqa: F401  (first: see above)
            from e3nn import o3
            from mace import modules
    except ImportError as exc:
        raise InputError(
            f"the MACE model needs mace-torch: pip install -e '.[mace]' (mace-torch 0.3.16, e3nn 0.4.4): {exc}"
        ) from None
    return modules, o3


def check_arguments(
    r_max: float, num_interactions: int, hidden_irreps: str, mlp_irreps: str, max_ell: int, correlation: int
) -> None:
    """Refuse arguments mace-torch would fail on later (or silently misuse), one line each."""
    if not (isinstance(r_max, int | float) and math.isfinite(r_max) and r_max > 0):
        raise InputError(f"MACE r_max must be a positive distance in Å, got {r_max!r}")
    for name, value in (("num_interactions", num_interactions), ("correlation", correlation)):
        if not isinstance(value, int) or value < 1:
            raise InputError(f"MACE {name} must be an integer >= 1, got {value!r}")
    if not isinstance(max_ell, int) or max_ell < 0:
        raise InputError(f"MACE max_ell must be an integer >= 0, got {max_ell!r}")
    _, o3 = import_mace()
    for name, text in (("hidden_irreps", hidden_irreps), ("MLP_irreps", mlp_irreps)):
        try:
            irreps = o3.Irreps(text)
        except (ValueError, AssertionError, TypeError) as exc:
            raise InputError(f"MACE {name} {text!r} does not parse as e3nn irreps (like 16x0e+16x1o): {exc}") from None
        if irreps.dim == 0 or not any(ir.l == 0 and ir.p == 1 for _, ir in irreps):
            raise InputError(f"MACE {name} {text!r} needs scalar channels (…x0e)")


class MACEModel(nn.Module):
    """mace-torch's ScaleShiftMACE as a phl energy model (float64 by default).

    ``preset`` (``small`` or ``medium``, see :data:`PRESETS`) sets ``hidden_irreps``, ``max_ell``,
    ``correlation`` and ``radial_MLP``; arguments given explicitly override it.
    ``avg_num_neighbors`` normalises the messages (mace-torch computes it from the training data;
    ~10 for small organic molecules at 5 Å)."""

    supports_static_shapes = False
    packages = ("mace-torch", "e3nn")  # versions recorded in a run's provenance

    def __init__(
        self,
        elements: Sequence[int] = (1, 6, 7, 8),
        preset: str | None = "small",
        r_max: float = 5.0,
        num_bessel: int = 8,
        num_polynomial_cutoff: int = 5,
        num_interactions: int = 2,
        hidden_irreps: str | None = None,
        MLP_irreps: str = "16x0e",  # noqa: N803  (mace-torch's name)
        max_ell: int | None = None,
        correlation: int | None = None,
        radial_MLP: Sequence[int] | None = None,  # noqa: N803
        avg_num_neighbors: float = 10.0,
        interaction: str = "RealAgnosticResidualInteractionBlock",
        gate: str = "silu",
        atomic_inter_scale: float = 1.0,
        atomic_inter_shift: float = 0.0,
        self_energies: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        if preset is not None and preset not in PRESETS:
            raise InputError(f"MACE preset must be one of {', '.join(PRESETS)} or null, got {preset!r}")
        given = {"hidden_irreps": hidden_irreps, "max_ell": max_ell, "correlation": correlation}
        given["radial_MLP"] = radial_MLP
        sizes = {**(PRESETS[preset] if preset else {}), **{k: v for k, v in given.items() if v is not None}}
        missing = [k for k in given if k not in sizes]
        if missing:
            raise InputError(f"MACE without a preset needs {', '.join(missing)}")
        hidden, ell, corr = sizes["hidden_irreps"], sizes["max_ell"], sizes["correlation"]
        check_arguments(r_max, num_interactions, hidden, MLP_irreps, ell, corr)
        if interaction not in INTERACTIONS:
            raise InputError(f"MACE interaction must be one of {', '.join(INTERACTIONS)}, got {interaction!r}")
        if gate not in GATES:
            raise InputError(f"MACE gate must be one of {', '.join(GATES)}, got {gate!r}")
        if not avg_num_neighbors > 0:
            raise InputError(f"MACE avg_num_neighbors must be positive, got {avg_num_neighbors!r}")
        modules, o3 = import_mace()
        self.elements = tuple(int(z) for z in elements)
        if len(set(self.elements)) != len(self.elements) or not all(1 <= z <= 118 for z in self.elements):
            raise InputError(f"MACE elements must be distinct atomic numbers, got {list(elements)}")
        self.r_max = float(r_max)
        self.register_buffer("z_to_index", element_lookup(self.elements))
        e0 = [0.0] * len(self.elements) if self_energies is None else [float(e) for e in self_energies]
        # mace-torch builds its buffers in the default dtype: build in float64, convert after
        previous = torch.get_default_dtype()
        torch.set_default_dtype(torch.float64)
        try:
            with warnings.catch_warnings():  # TorchScript's notes on mace-torch's classes
                warnings.simplefilter("ignore", (UserWarning, DeprecationWarning))
                self.mace = modules.ScaleShiftMACE(
                    r_max=self.r_max,
                    num_bessel=num_bessel,
                    num_polynomial_cutoff=num_polynomial_cutoff,
                    max_ell=ell,
                    interaction_cls=modules.interaction_classes[interaction],
                    interaction_cls_first=modules.interaction_classes[interaction],
                    num_interactions=num_interactions,
                    num_elements=len(self.elements),
                    hidden_irreps=o3.Irreps(hidden),
                    MLP_irreps=o3.Irreps(MLP_irreps),
                    atomic_energies=np.asarray(e0, dtype=np.float64),
                    avg_num_neighbors=float(avg_num_neighbors),
                    atomic_numbers=list(self.elements),
                    correlation=corr,
                    gate=modules.gate_dict[gate],
                    radial_MLP=[int(w) for w in sizes["radial_MLP"]],
                    atomic_inter_scale=float(atomic_inter_scale),
                    atomic_inter_shift=float(atomic_inter_shift),
                )
        finally:
            torch.set_default_dtype(previous)

    # ---- fitted constants (phl's trainer sets them before the first epoch) ---------------------
    def set_self_energies(self, energies: torch.Tensor) -> None:
        """Per-element energies E0 (Eh, in the order of ``elements``)."""
        buf = self.mace.atomic_energies_fn.atomic_energies
        buf.copy_(torch.as_tensor(energies, dtype=buf.dtype, device=buf.device).reshape(buf.shape))

    def set_energy_scale(self, scale: float) -> None:
        """The interaction energy's scale (Eh per atom; the trainer passes the spread of the
        training energies per atom, mace-torch's ``std_scaling``); unchanged for zero or non-finite.
        (mace-torch's default, the RMS of the training forces, is ~0 on data of stationary points.)"""
        if math.isfinite(scale) and scale > 0:
            self.mace.scale_shift.scale.fill_(float(scale))

    # ---- the graph ------------------------------------------------------------------------------
    def graph(self, species: torch.Tensor, coordinates: torch.Tensor) -> dict[str, torch.Tensor]:
        """MACE's input dictionary of a padded batch (positions keep the graph to ``coordinates``)."""
        idx = element_indices(self.z_to_index, species, self.elements)
        real = idx >= 0
        b, n = species.shape
        device = coordinates.device
        molecule = torch.arange(b, device=device)[:, None].expand(b, n)[real]  # node → molecule
        positions = coordinates[real]  # (n_nodes, 3), molecule by molecule
        counts = real.sum(dim=1)
        ptr = torch.zeros(b + 1, dtype=torch.long, device=device)
        ptr[1:] = torch.cumsum(counts, 0)
        with torch.no_grad():  # which pairs are edges: a choice, not differentiated
            node = torch.cumsum(real.reshape(-1), 0).reshape(b, n) - 1  # (b, i) → node index
            xyz = coordinates.detach()
            dist = torch.linalg.vector_norm(xyz[:, :, None] - xyz[:, None, :], dim=-1)
            eye = torch.eye(n, dtype=torch.bool, device=device)
            pairs = real[:, :, None] & real[:, None, :] & ~eye & (dist < self.r_max)  # (B, N, N)
            mol, i, j = pairs.nonzero(as_tuple=True)
            sender, receiver = node[mol, i], node[mol, j]
        dtype = coordinates.dtype
        return {
            "positions": positions,
            "node_attrs": torch.nn.functional.one_hot(idx[real], len(self.elements)).to(dtype),
            "edge_index": torch.stack([sender, receiver]),
            "shifts": torch.zeros((len(sender), 3), dtype=dtype, device=device),
            "cell": torch.zeros((b, 3, 3), dtype=dtype, device=device),
            "batch": molecule,
            "ptr": ptr,
        }

    def forward(self, species: torch.Tensor, coordinates: torch.Tensor) -> torch.Tensor:
        out = self.mace(self.graph(species, coordinates), training=self.training, compute_force=False)
        return out["energy"]
