"""Train/validation/test splits, stored in the data set so every regime trains on the same one.

- ``paper``: the PHL protocol (docs/data.md): structures of the RTP categories (reactant,
  product, TS, rtp) shuffled with a seed and cut 80/10/10; IRC and NMS structures held out.
- ``reaction``: whole reactions are assigned to train/val/test (80/10/10 of the reactions,
  seeded), so that no reaction appears in two parts; held-out categories (IRC and NMS by
  default, as in the paper) stay held out. Structures without a reaction id form their own
  one-structure groups.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from phl.dataset.schema import SPLITS
from phl.dataset.store import Dataset, write_split
from phl.errors import InputError
from phl.registry import CATEGORIES, RTP_CATEGORIES

DEFAULT_FRACTIONS = (0.8, 0.1, 0.1)
DEFAULT_HELDOUT = ("irc", "nms")


def _check_fractions(fractions: Sequence[float]) -> tuple[float, float, float]:
    if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1.0) > 1e-9:
        raise InputError(f"split fractions must be three non-negative numbers summing to 1, got {list(fractions)}")
    return tuple(float(f) for f in fractions)  # type: ignore[return-value]


def _assign(n: int, fractions: tuple[float, float, float], rng: np.random.Generator) -> NDArray[np.int8]:
    """Codes for n shuffled items: the first 80 % train, then 10 % val, the rest test."""
    order = rng.permutation(n)
    n_val = int(round(fractions[1] * n))
    n_test = n - int(round(fractions[0] * n)) - n_val
    if n >= 3:  # small sets: at least one structure in each part that was asked for
        n_val = max(n_val, 1) if fractions[1] > 0 else 0
        n_test = max(n_test, 1) if fractions[2] > 0 else n_test
    n_train = n - n_val - n_test
    codes = np.empty(n, dtype=np.int8)
    codes[order[:n_train]] = SPLITS["train"]
    codes[order[n_train : n_train + n_val]] = SPLITS["val"]
    codes[order[n_train + n_val :]] = SPLITS["test"]
    return codes


def paper_split(categories: NDArray[np.str_], seed: int, fractions=DEFAULT_FRACTIONS) -> NDArray[np.int8]:
    fractions = _check_fractions(fractions)
    codes = np.full(len(categories), SPLITS["heldout"], dtype=np.int8)
    rtp = np.flatnonzero(np.isin(categories, list(RTP_CATEGORIES)))
    codes[rtp] = _assign(len(rtp), fractions, np.random.default_rng(seed))
    return codes


def reaction_split(
    categories: NDArray[np.str_],
    reactions: Sequence[str | None],
    seed: int,
    fractions=DEFAULT_FRACTIONS,
    heldout: Sequence[str] = DEFAULT_HELDOUT,
) -> NDArray[np.int8]:
    fractions = _check_fractions(fractions)
    codes = np.full(len(categories), SPLITS["heldout"], dtype=np.int8)
    active = ~np.isin(categories, list(heldout))
    keys = np.array([r if r is not None else f"\0structure-{i}" for i, r in enumerate(reactions)], dtype=object)
    unique = sorted(set(keys[active]))  # sorted: independent of structure order
    group_codes = dict(zip(unique, _assign(len(unique), fractions, np.random.default_rng(seed))))
    for i in np.flatnonzero(active):
        codes[i] = group_codes[keys[i]]
    return codes


def make_split(
    path, name: str, kind: str, seed: int, fractions=DEFAULT_FRACTIONS, heldout: Sequence[str] = DEFAULT_HELDOUT
) -> dict[str, int]:
    """Compute split ``kind`` (paper | reaction) and store it as ``name``; returns counts per part."""
    _check_fractions(fractions)
    if not name or not str(name).replace("_", "").replace("-", "").isalnum():
        raise InputError(f"split name must be letters, digits, '_' or '-', got {name!r}")
    with Dataset(path) as ds:
        cats = ds.category_names
        if kind == "paper":
            codes = paper_split(cats, seed, fractions)
        elif kind == "reaction":
            codes = reaction_split(cats, [ds.reaction_of(i) for i in range(len(ds))], seed, fractions, heldout)
        else:
            raise InputError(f"unknown split kind {kind!r}; choose paper or reaction")
    write_split(
        path,
        name,
        codes,
        {
            "kind": kind,
            "seed": seed,
            "fractions": list(fractions),
            "heldout_categories": list(heldout) if kind == "reaction" else sorted(set(CATEGORIES) - RTP_CATEGORIES),
        },
    )
    return {part: int(np.sum(codes == c)) for part, c in SPLITS.items()}
