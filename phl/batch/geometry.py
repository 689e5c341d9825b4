"""One geometry job for a block of reactions (``phl batch geometries``).

For each reaction of the block, the steps of its role in the sampling design (reactant,
product, TS; IRC and NMS where the design asks) run one after another in this process, each
record written atomically as soon as it is done (``DIR/{reaction}/{step}.json``), then the
reaction's ``structures.json``. A rerun reuses every record made with the same level of theory,
settings and reaction geometry and computes only what is missing. A reaction that fails (SCF, TS,
IRC, a bad reaction entry) is recorded with its reason and the block goes on.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np

from phl.errors import InputError
from phl.geometries.jobs import NEEDS, GeometrySettings, ReactionJob, collect, summary_table
from phl.geometries.reactions import Reaction, load_each
from phl.geometries.records import RECORD_TYPES, StepRecord, StructuresRecord, read_record
from phl.io.atomic import atomic_write_json
from phl.qm.method import Method

log = logging.getLogger(__name__)


def reaction_fingerprint(reaction: Reaction) -> str:
    """A hash of what a reaction's records depend on: elements, geometries, charge, multiplicity."""
    h = hashlib.sha256()
    h.update(json.dumps([reaction.reactant.get_chemical_symbols(), reaction.charge, reaction.multiplicity]).encode())
    for atoms in (reaction.reactant, reaction.product, reaction.ts_guess):
        h.update(b"-" if atoms is None else np.ascontiguousarray(atoms.get_positions(), dtype=np.float64).tobytes())
    return h.hexdigest()


def _reusable(path: Path, step: str, method: dict, settings: dict, fingerprint: str) -> StepRecord | None:
    """The record at ``path`` if it was made for this reaction with these settings, else None."""
    if not path.is_file():
        return None
    try:
        record = read_record(path, step)
    except InputError:
        return None  # unreadable: computed again
    same = (
        record.method == method
        and record.settings == settings
        and record.provenance.get("reaction_sha256") == fingerprint
    )
    return record if same else None


def run_reaction(
    reaction: Reaction | InputError,
    rid: str,
    steps: tuple[str, ...],
    method: Method,
    settings: GeometrySettings,
    folder: Path,
) -> StructuresRecord:
    """Every step of one reaction (reusing finished records), then its structures.json; a reaction
    that did not load (``reaction`` is its error) is recorded as failed."""
    out = folder / rid
    records: dict[str, StepRecord] = {}
    if isinstance(reaction, InputError):  # a bad entry: recorded, never fatal
        reason = " ".join(str(reaction).split())
        for step in steps:
            records[step] = RECORD_TYPES[step](rid, step, "failed" if step == steps[0] else "skipped", reason)
            atomic_write_json(out / f"{step}.json", records[step].to_dict())
        collected = collect(rid, records)
    else:
        job = ReactionJob(reaction, method, settings)
        fingerprint = reaction_fingerprint(reaction)
        # as read back from JSON (tuples become lists), to compare with stored records
        wanted = (*json.loads(json.dumps([job.method.to_dict(), settings.to_dict()])), fingerprint)
        recomputed: set[str] = set()
        for step in steps:
            # a step whose inputs were just recomputed is recomputed too (its record was made from the old ones)
            stale = any(name in recomputed for name in NEEDS[step])
            record = None if stale else _reusable(out / f"{step}.json", step, *wanted)
            if record is None:
                recomputed.add(step)
                record = job.run(step, {name: records[name] for name in NEEDS[step]})
                record.provenance["reaction_sha256"] = fingerprint
                atomic_write_json(out / f"{step}.json", record.to_dict())
                log.info("%s %s: %s %s", rid, step, record.status, record.reason)
            records[step] = record
        collected = collect(rid, records, reaction.charge, reaction.multiplicity)
    atomic_write_json(out / "structures.json", collected.to_dict())
    return collected


def run_block(
    reactions_file: str | Path,
    block: list[str],
    steps: dict[str, tuple[str, ...]],
    method: Method,
    settings: GeometrySettings,
    folder: str | Path,
    progress: bool = False,
):
    """Run every reaction of a block; return its summary table (one row per reaction)."""
    folder = Path(folder)
    items = zip(block, load_each(reactions_file, block))  # the list read once for the block
    if progress:
        from tqdm import tqdm

        items = tqdm(items, total=len(block), desc="reactions", unit=" reaction")
    collected = [run_reaction(reaction, rid, steps[rid], method, settings, folder) for rid, reaction in items]
    return summary_table(collected)
