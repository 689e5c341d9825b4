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
import os
import shutil
from collections.abc import Callable
from concurrent.futures import BrokenExecutor, Executor, ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from phl.errors import InputError, PHLError
from phl.geometries.jobs import structure_at
from phl.geometries.records import StructuresRecord, read_record
from phl.io.atomic import atomic_write_json, check_output_path
from phl.io.label_shards import Failure, write_shard
from phl.labels import Label, LabelSettings, compute_label
from phl.qm.method import Method

if TYPE_CHECKING:
    from ase import Atoms

    from phl.qm.interface import Engine

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
    in_flight: int = 1,
) -> tuple[int, int, int]:
    """Label ``items``; write the shard ``out``. Returns (computed, reused, failed).

    ``in_flight`` > 1 computes that many molecules at once, each in a worker process of its own
    (spawned, so each has its own CUDA context where the engine uses a GPU); the parts are written
    by this process as the workers finish them, so a killed job keeps every finished label. A
    molecule that runs out of memory (host or GPU) is tried again with half as many molecules in
    flight, down to one at a time; only then is it recorded as failed. ``in_flight`` is
    validated with the other batching settings (:class:`phl.batch.blocks.Batching`)."""
    out = check_output_path(out, "label shard")
    parts = out.with_name(out.name + ".parts")
    parts.mkdir(parents=True, exist_ok=True)
    plain = json.loads(json.dumps({k: v for k, v in method.to_dict().items() if k not in ("charge", "multiplicity")}))
    wanted = settings.to_dict()
    records: dict[str, StructuresRecord] = {}
    jobs: list[LabelJob] = []
    reused = 0
    for reaction, index in items:
        done, failed = _part_paths(parts, reaction, index)
        if any(p.is_file() and _matches(_read_json(p), plain, wanted) for p in (done, failed)):
            reused += 1
            continue
        source = str(Path(geometries) / reaction / "structures.json")
        if reaction not in records:  # each reaction's structures read once per chunk
            records[reaction] = read_record(source, "structures")
        atoms, meta = structure_at(records[reaction], index, source)
        jobs.append(LabelJob(reaction, index, atoms, meta, source))

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(items), initial=reused, desc="labels", unit=" structure")
    computed = 0

    def write(job: LabelJob, outcome: Outcome) -> None:
        nonlocal computed
        done, failed = _part_paths(parts, job.reaction, job.index)
        if outcome.label is not None:
            data = outcome.label
            data["provenance"]["label_settings"] = wanted
            atomic_write_json(done, data)
            failed.unlink(missing_ok=True)
            computed += 1
        else:
            log.warning("%s/%d: %s", job.reaction, job.index, outcome.reason)
            record = {"reaction": job.reaction, "index": job.index, "name": job.meta["name"], "reason": outcome.reason}
            record.update(method=outcome.method, provenance={"label_settings": wanted})
            atomic_write_json(failed, record)
            done.unlink(missing_ok=True)
        if bar is not None:
            bar.update()

    try:
        if in_flight == 1:
            engines: dict[tuple[int, int], Engine] = {}
            for job in jobs:
                write(job, label_job(job, method, settings, engines))
        else:
            compute_concurrently(jobs, in_flight, method, settings, write)
    finally:
        if bar is not None:
            bar.close()
    labels, failures = _gather(items, parts)
    write_shard(out, labels, failures, wanted)
    shutil.rmtree(parts)
    return computed, reused, len(failures)


def _part_paths(parts: Path, reaction: str, index: int) -> tuple[Path, Path]:
    name = f"{reaction}.{index}"
    return parts / f"{name}.json", parts / f"{name}.failed.json"


@dataclass
class LabelJob:
    """One structure to label: where it comes from and its geometry."""

    reaction: str
    index: int
    atoms: Atoms
    meta: dict[str, Any]
    source: str


@dataclass
class Outcome:
    """A label record (``label``), or why there is none (``reason``; ``out_of_memory`` when the
    device or host ran out of memory, which a retry with fewer molecules in flight may cure)."""

    label: dict[str, Any] | None = None
    reason: str = ""
    method: dict[str, Any] = field(default_factory=dict)
    out_of_memory: bool = False


def out_of_memory(exc: BaseException) -> bool:
    """CuPy's and PyTorch's ``OutOfMemoryError`` and Python's ``MemoryError``."""
    return any(cls.__name__ in ("OutOfMemoryError", "MemoryError") for cls in type(exc).__mro__)


def label_job(
    job: LabelJob, method: Method, settings: LabelSettings, engines: dict[tuple[int, int], Engine]
) -> Outcome:
    """Label one structure with the engine of its charge and multiplicity (made once, kept in
    ``engines``). A structure the method refuses or cannot converge, or one that runs out of
    memory, is an :class:`Outcome` with its reason; any other exception is a bug and propagates."""
    from phl.qm.interface import make_engine

    meta = dict(job.meta)
    key = (meta.pop("charge"), meta.pop("multiplicity"))
    if key not in engines:
        engines[key] = make_engine(method.replace(charge=key[0], multiplicity=key[1]))
    engine = engines[key]
    try:
        label = compute_label(engine, job.atoms, settings, meta, job.index, job.source)
    except PHLError as exc:  # this structure fails; the chunk goes on
        return Outcome(reason=_reason(exc), method=engine.method.to_dict())
    except Exception as exc:
        if not out_of_memory(exc):
            raise
        return Outcome(reason=_reason(exc), method=engine.method.to_dict(), out_of_memory=True)
    return Outcome(label=label.to_dict())


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


# The state of one worker process: the method, label settings and engines it keeps for the chunk.
_WORKER: dict[str, Any] = {}


def _start_worker(method: dict[str, Any], settings: dict[str, Any]) -> None:
    _WORKER.update(method=Method.from_dict(method), settings=LabelSettings.from_dict(settings), engines={})


def _work(job: LabelJob) -> Outcome:
    return label_job(job, _WORKER["method"], _WORKER["settings"], _WORKER["engines"])


def compute_concurrently(
    jobs: list[LabelJob],
    in_flight: int,
    method: Method,
    settings: LabelSettings,
    write: Callable[[LabelJob, Outcome], None],
    pool: Callable[[int], Executor] | None = None,
) -> None:
    """Label ``jobs`` with ``in_flight`` workers, calling ``write`` in this process as each one
    finishes (in completion order). Molecules that ran out of memory, or whose worker died, are
    tried again after the others with half as many in flight; at one in flight an out-of-memory
    outcome is final. ``pool(n)`` makes the executor (default: n spawned worker processes, each
    with threads/n of the job's CPU threads)."""
    pool = pool or (lambda n: _process_pool(n, method, settings))
    pending = list(jobs)
    while pending:
        retry: list[LabelJob] = []
        with _threads_per_worker(in_flight):  # workers start at the first submissions and read it then
            executor = pool(in_flight)
            try:
                futures = {executor.submit(_work, job): job for job in pending}
                for future in as_completed(futures):
                    job = futures[future]
                    try:
                        outcome = future.result()
                    except BrokenExecutor as exc:  # a worker was killed (e.g. by the kernel's OOM killer)
                        outcome = Outcome(reason=_reason(exc), method=method.to_dict(), out_of_memory=True)
                    if outcome.out_of_memory and in_flight > 1:
                        retry.append(job)
                    else:
                        write(job, outcome)
            except BaseException:  # interrupted or killed: stop the workers now, not after the queue
                _stop(executor)
                raise
            executor.shutdown(wait=True)
        if retry:
            log.warning(
                "%d structure(s) ran out of memory with %d molecules in flight; trying them with %d",
                len(retry),
                in_flight,
                max(1, in_flight // 2),
            )
        pending, in_flight = retry, max(1, in_flight // 2)


def _stop(executor: Executor) -> None:
    """Cancel the queued molecules and end the workers' current ones (an interrupted job keeps
    the labels it has written; the rerun computes the rest)."""
    executor.shutdown(wait=False, cancel_futures=True)
    for process in list((getattr(executor, "_processes", None) or {}).values()):
        process.terminate()


def _process_pool(n: int, method: Method, settings: LabelSettings) -> Executor:
    import multiprocessing

    return ProcessPoolExecutor(
        n,
        mp_context=multiprocessing.get_context("spawn"),  # CUDA cannot be forked
        initializer=_start_worker,
        initargs=(method.to_dict(), settings.to_dict()),
    )


_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def job_threads() -> int:
    """CPU threads of this job: OMP_NUM_THREADS where set (the workflow sets it to the rule's
    threads), else the cores this process may run on."""
    try:
        return max(1, int(os.environ["OMP_NUM_THREADS"]))
    except (KeyError, ValueError):
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@contextmanager
def _threads_per_worker(n_workers: int):
    """The job's CPU threads shared among ``n_workers`` spawned workers (read by each worker's
    OpenMP and BLAS at start-up), restored afterwards."""
    saved = {k: os.environ.get(k) for k in _THREAD_VARIABLES}
    share = str(max(1, job_threads() // n_workers))
    os.environ.update(dict.fromkeys(_THREAD_VARIABLES, share))
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _gather(items: list[tuple[str, int]], parts: Path) -> tuple[list[Label], list[Failure]]:
    labels, failures = [], []
    for reaction, index in items:
        done, failed = _part_paths(parts, reaction, index)
        if done.is_file():
            labels.append(Label.from_dict(_read_json(done), str(done)))
        else:
            data = _read_json(failed)
            failures.append(Failure(data.get("name", ""), reaction, index, data.get("reason", "")))
    return labels, failures
