"""One label job for a chunk of a block's structures (``phl batch labels``), written as one
label shard (:mod:`phl.io.label_shards`).

The structures of a block are those of its reactions that the geometry stage kept, in block
order; chunk ``c`` of ``n`` labels structures c, c+n, c+2n, ... One reference engine serves the
whole chunk (one Python, PySCF/gpu4pyscf and CUDA start-up per job, not per molecule). Each
finished label is written at once, atomically, into ``OUT.parts/`` beside the shard; a structure
whose calculation fails (SCF not converging, a geometry the method refuses) is recorded there with
its reason and the chunk goes on. A rerun reuses every part made with the same level of theory and
label settings, so a killed job loses at most the molecule it was on. At the end the parts are
packed into the shard (atomically) and removed.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from phl.errors import InputError, PHLError
from phl.geometries.jobs import structure_at
from phl.geometries.records import StructuresRecord, read_record
from phl.io.atomic import atomic_write_json, check_output_path
from phl.io.label_shards import Failure, write_shard
from phl.labels import Label, LabelSettings, compute_label
from phl.qm.method import Method

log = logging.getLogger(__name__)


def block_structures(block_table: str | Path, geometries: str | Path) -> list[tuple[str, int]]:
    """(reaction, index) of every structure of a block (its summary CSV), in block order."""
    try:
        table = pd.read_csv(block_table, keep_default_na=False)
    except (OSError, ValueError) as exc:
        raise InputError(f"{block_table}: not a readable block table: {exc}") from None
    needed = {"reaction", "status", "n_RTP", "n_IRC", "n_NMS"}
    if not needed <= set(table.columns):
        raise InputError(f"{block_table}: not a block table (columns {', '.join(sorted(needed))} needed)")
    items = []
    for row in table[table["status"] == "ok"].itertuples():
        n = int(row.n_RTP + row.n_IRC + row.n_NMS)
        path = Path(geometries) / str(row.reaction) / "structures.json"
        if not path.is_file():
            raise InputError(f"{path}: missing (reaction {row.reaction} of {block_table})")
        items += [(str(row.reaction), i) for i in range(n)]
    return items


def _part_name(reaction: str, index: int) -> str:
    return f"{reaction}.{index}"


def _matches(data: dict[str, Any], method: dict, settings: dict) -> bool:
    own = {k: v for k, v in data.get("method", {}).items() if k not in ("charge", "multiplicity")}
    return own == method and data.get("provenance", {}).get("label_settings") == settings


def run_chunk(
    items: list[tuple[str, int]],
    geometries: str | Path,
    method: Method,
    settings: LabelSettings,
    out: str | Path,
    progress: bool = False,
) -> tuple[int, int, int]:
    """Label ``items``; write the shard ``out``. Returns (computed, reused, failed)."""
    from phl.qm.interface import Engine, make_engine

    out = check_output_path(out, "label shard")
    parts = out.with_name(out.name + ".parts")
    parts.mkdir(parents=True, exist_ok=True)
    plain = json.loads(json.dumps({k: v for k, v in method.to_dict().items() if k not in ("charge", "multiplicity")}))
    wanted = settings.to_dict()
    engines: dict[tuple[int, int], Engine] = {}
    records: dict[str, StructuresRecord] = {}
    computed = reused = 0
    iterator = items
    if progress:
        from tqdm import tqdm

        iterator = tqdm(items, desc="labels", unit=" structure")
    for reaction, index in iterator:
        done, failed = (
            parts / f"{_part_name(reaction, index)}.json",
            parts / f"{_part_name(reaction, index)}.failed.json",
        )
        if any(p.is_file() and _matches(_read_json(p), plain, wanted) for p in (done, failed)):
            reused += 1
            continue
        source = str(Path(geometries) / reaction / "structures.json")
        if reaction not in records:  # each reaction's structures read once per chunk
            records[reaction] = read_record(source, "structures")
        atoms, meta = structure_at(records[reaction], index, source)
        key = (meta.pop("charge"), meta.pop("multiplicity"))
        if key not in engines:
            engines[key] = make_engine(method.replace(charge=key[0], multiplicity=key[1]))
        engine = engines[key]
        try:
            label = compute_label(engine, atoms, settings, meta, index, source)
        except PHLError as exc:  # this structure fails; the chunk goes on
            reason = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
            log.warning("%s/%d: %s", reaction, index, reason)
            record = {"reaction": reaction, "index": index, "name": meta["name"], "reason": reason}
            record.update(method=engine.method.to_dict(), provenance={"label_settings": wanted})
            atomic_write_json(failed, record)
            done.unlink(missing_ok=True)
            continue
        label.provenance["label_settings"] = wanted
        atomic_write_json(done, label.to_dict())
        failed.unlink(missing_ok=True)
        computed += 1
    labels, failures = _gather(items, parts)
    write_shard(out, labels, failures, wanted)
    shutil.rmtree(parts)
    return computed, reused, len(failures)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _gather(items: list[tuple[str, int]], parts: Path) -> tuple[list[Label], list[Failure]]:
    labels, failures = [], []
    for reaction, index in items:
        done, failed = (
            parts / f"{_part_name(reaction, index)}.json",
            parts / f"{_part_name(reaction, index)}.failed.json",
        )
        if done.is_file():
            labels.append(Label.from_dict(_read_json(done), str(done)))
        else:
            data = _read_json(failed)
            failures.append(Failure(data.get("name", ""), reaction, index, data.get("reason", "")))
    return labels, failures
