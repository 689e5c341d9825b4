"""Static blocks of work: the reaction list cut into blocks of consecutive reactions (one geometry
job each) and each block's structures dealt round-robin into label chunks (one label job each).

Both depend only on the reaction list and two numbers, so the workflow knows every job when it
starts (no checkpoint, no re-planning after each reaction): a 12,000-reaction paper-scale run is
120 geometry jobs and 960 label jobs with the defaults of ``config/paper.yaml``.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, TypeVar

from phl.errors import InputError
from phl.settings import Settings, setting

T = TypeVar("T")


@dataclass(frozen=True)
class Batching(Settings):
    """How the workflow groups work into jobs (workflow config ``batching``)."""

    what: ClassVar[str] = "batching"

    reactions_per_job: int = setting(100, "reactions per geometry job (a block of consecutive reactions)")
    label_jobs_per_block: int = setting(
        8, "label jobs per block; job c labels structures c, c+n, c+2n, ... of the block"
    )
    molecules_in_flight: int = setting(
        1,
        "molecules one label job computes at once, each in its own worker process (sharing the job's GPU, "
        "or its CPU cores: each worker gets threads/molecules_in_flight of them); 1: one at a time, in the "
        "job's own process",
    )

    #: molecules in flight at most: each is a worker process with its own CUDA context (~0.5 GB of
    #: GPU memory before any molecule) and its share of the job's cores
    MAX_MOLECULES_IN_FLIGHT: ClassVar[int] = 64

    def __post_init__(self) -> None:
        for name in ("reactions_per_job", "label_jobs_per_block", "molecules_in_flight"):
            if getattr(self, name) < 1:
                raise InputError(f"batching option {name} must be at least 1, got {getattr(self, name)}")
        if self.molecules_in_flight > self.MAX_MOLECULES_IN_FLIGHT:
            raise InputError(
                f"batching option molecules_in_flight must be at most {self.MAX_MOLECULES_IN_FLIGHT} (one worker "
                f"process each), got {self.molecules_in_flight}"
            )

    def n_blocks(self, n_reactions: int) -> int:
        return math.ceil(n_reactions / self.reactions_per_job)

    def block(self, ids: list[str], b: int) -> list[str]:
        """The reaction ids of block ``b``."""
        if not 0 <= b < max(self.n_blocks(len(ids)), 1):
            n = self.n_blocks(len(ids))
            raise InputError(
                f"block {b} does not exist: {len(ids)} reactions make {n} block(s) of {self.reactions_per_job}"
            )
        return ids[b * self.reactions_per_job : (b + 1) * self.reactions_per_job]


def chunk(items: list[T], c: int, n: int) -> list[T]:
    """Items c, c+n, c+2n, ... (round-robin: chunks of a block get equal shares of every category)."""
    if not 0 <= c < n:
        raise InputError(f"chunk {c} does not exist: there are {n} chunks (0 to {n - 1})")
    return items[c::n]


def block_fingerprints(path: str | Path, batching: Batching, steps: dict[str, tuple[str, ...]]) -> list[str]:
    """One hash per block of what its geometry job computes: the ids, entries (geometries, charge,
    multiplicity) and design steps of its reactions. The workflow passes it to the block's job as
    a parameter, so that a block reruns when, and only when, its own reactions change (editing or
    extending the list leaves the other blocks and their label jobs alone)."""
    from phl.geometries.reactions import reaction_digests

    digests = reaction_digests(path)
    ids = list(digests)
    out = []
    for b in range(batching.n_blocks(len(ids))):
        h = hashlib.sha256()
        for rid in batching.block(ids, b):
            h.update(f"{rid}:{digests[rid]}:{','.join(steps[rid])};".encode())
        out.append(h.hexdigest()[:16])
    return out
