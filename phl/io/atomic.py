"""Safe outputs: an output is complete or absent, never half-written, and never replaces
something that is not a regular file.

* :func:`check_output_path` is called by every command on every output before any work: the
  path must not be a directory, a device, a FIFO or a socket, its folder must be a folder (made
  if missing) that can be written. A symbolic link is followed: its target is what is written.
* :func:`atomic_path` writes through a temporary file in the destination's folder and one
  ``os.replace``; on any exception the temporary file is removed and the destination is as it was.
* :func:`locked` serialises writers of one file (appends to a data set) with an advisory lock.
"""

from __future__ import annotations

import fcntl
import json
import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from phl.errors import InputError


def output_target(path: str | Path) -> Path:
    """The file a write to ``path`` replaces: ``path`` itself, or the final target of a symlink."""
    path = Path(path)
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def check_output_path(path: str | Path, what: str = "output") -> Path:
    """Refuse, before any work, an output that cannot be written as a regular file; return the
    file that will be written (a symlink's target)."""
    target = output_target(path)
    if target != Path(path) and not target.parent.is_dir():
        raise InputError(f"{path}: broken symbolic link (its target's folder {target.parent} does not exist)")
    try:
        st = os.stat(target)
    except FileNotFoundError:
        st = None
    except NotADirectoryError:
        raise InputError(f"{path}: a part of the path is not a directory") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot use as {what}: {exc.strerror}") from None
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            raise InputError(f"{path}: is a directory (the {what} must be a file)")
        if not stat.S_ISREG(st.st_mode):
            raise InputError(f"{path}: not a regular file (a device, FIFO or socket); phl writes {what}s as files")
        if not os.access(target, os.W_OK):
            raise InputError(f"{path}: not writable")
    _check_folder(target.parent, path)
    return target


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_distinct(inputs: dict[str, Any], outputs: dict[str, Any]) -> None:
    """Refuse, before any work, an output that is one of the inputs or another output (by path or
    by file: a symlink or hard link to an input counts). Keys name the options in messages; a value
    may be a path, a list of paths or None (not given)."""

    def flat(named: dict[str, Any], kind: str) -> list[tuple[str, Path, str]]:
        values = ((name, v if isinstance(v, (list, tuple)) else [v]) for name, v in named.items())
        return [(name, Path(p), kind) for name, paths in values for p in paths if p is not None]

    ins, outs = flat(inputs, "an input"), flat(outputs, "another output")
    for k, (name, path, _) in enumerate(outs):
        target = Path(os.path.realpath(path))
        for other_name, other, kind in ins + outs[:k]:
            if target == Path(os.path.realpath(other)) or _same_file(path, other):
                raise InputError(
                    f"{name} {path} is {kind} ({other_name} {other}); phl would overwrite it: write to another file"
                )


def check_output_dir(path: str | Path, what: str = "output folder") -> Path:
    """Refuse an output folder that exists as something else or cannot be written."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(f"{path}: not a directory (the {what} must be a folder)")
    _check_folder(path, path)
    return path


def _check_folder(folder: Path, named: str | Path) -> None:
    existing = folder
    while not existing.exists():  # the nearest folder that exists must be a writable folder
        if existing.is_symlink():
            raise InputError(f"{named}: {existing} is a broken symbolic link")
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(f"{named}: {existing} is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(f"{named}: cannot write in {existing}")


def temp_path_beside(path: str | Path) -> Path:
    """A new, empty temporary file in the folder of ``path`` (so that a rename is atomic)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; the final file gets the usual permissions
    return Path(tmp)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path`` (a symlink's target, the
    link kept), on an exception it is removed and ``path`` is left as it was."""
    target = check_output_path(path)
    tmp = temp_path_beside(target)
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename."""
    with atomic_path(path) as tmp, open(tmp, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def atomic_write_json(path: str | Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=1) + "\n")


@contextmanager
def locked(path: str | Path) -> Iterator[None]:
    """Hold an exclusive advisory lock (``flock``) on the folder of ``path`` while writing it, so
    that phl writers of files in one folder (appends to a data set) wait for each other; the
    folder is locked rather than a lock file, so nothing is left behind."""
    folder = output_target(path).parent
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock
