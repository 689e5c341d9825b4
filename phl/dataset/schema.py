"""The phl HDF5 data-set format (version 1): one file, packed arrays, lazy Hessians.

Layout (M structures, A = Σ N_i atoms, units as OpenREACT-CHON-EFH, docs/data.md)::

    /                      attrs: format="phl-dataset", format_version=1, units_* (see UNITS),
                                  provenance (JSON text: sources, versions, creation time)
    /structures/n_atoms        (M,)   int32     atoms per structure
    /structures/atom_offset    (M,)   int64     first row of the structure in the per-atom arrays
    /structures/energy         (M,)   float64   Eh
    /structures/category       (M,)   int8      index into CATEGORIES
    /structures/reaction       (M,)   int32     index into /reactions (-1: none)
    /structures/hessian_offset (M,)   int64     first element in /hessian (-1: no Hessian)
    /structures/hvp_offset     (M,)   int64     first element in /hvp/* (-1: no HVPs)
    /structures/n_hvp          (M,)   int16     number of stored (probe, HVP) pairs
    /atoms/species             (A,)   int8      atomic numbers
    /atoms/coordinates         (A, 3) float64   Å
    /atoms/forces              (A, 3) float64   Eh/Å (forces, i.e. −∇E)
    /hessian                   (H,)   float64   Eh/Å², each Hessian row-major (3N)², flat
    /hvp/probes, /hvp/values   (P,)   float64   K probes then K HVPs (Eh/Å²) per structure, each (K, N, 3) flat
    /hvp/kinds                 (Q,)   int8      kind of each stored probe (index into PROBE_KINDS, -1
                                                unknown), Q = Σ n_hvp, in the order the pairs are stored
    /reactions                 (R,)   str       reaction identifiers
    /splits/NAME               (M,)   int8      SPLIT codes; attrs describe the protocol and seed

Every array is chunked and resizable so that data sets grow by appending (merge step), and
Hessians are read one structure at a time (no full load: ~130k Hessians of 3N ≤ 60 are GBs).
"""

from __future__ import annotations

from phl.registry import CATEGORIES  # noqa: F401  (the codes of /structures/category)

FORMAT = "phl-dataset"
FORMAT_VERSION = 1

UNITS = {
    "units_energy": "Eh",
    "units_length": "Angstrom",
    "units_forces": "Eh/Angstrom",
    "units_hessian": "Eh/Angstrom^2",
}


SPLITS: dict[str, int] = {"train": 0, "val": 1, "test": 2, "heldout": 3}
SPLIT_NAMES = {v: k for k, v in SPLITS.items()}

STRUCTURE_ARRAYS = {
    "n_atoms": "int32",
    "atom_offset": "int64",
    "energy": "float64",
    "category": "int8",
    "reaction": "int32",
    "hessian_offset": "int64",
    "hvp_offset": "int64",
    "n_hvp": "int16",
}
ATOM_ARRAYS = {"species": ("int8", ()), "coordinates": ("float64", (3,)), "forces": ("float64", (3,))}
