"""Provenance records (program versions, host, time) stored inside every output file."""

from __future__ import annotations

import os
import platform
import socket
from collections.abc import Iterable
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

_DEFAULT_PACKAGES = ("phl", "pyscf", "numpy", "scipy", "ase")


def package_versions(packages: Iterable[str] = _DEFAULT_PACKAGES) -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def provenance(extra_packages: Iterable[str] = (), **fields: Any) -> dict[str, Any]:
    """A provenance block: versions, host, CPU count, UTC time, plus the given fields."""
    return {
        "versions": package_versions((*_DEFAULT_PACKAGES, *extra_packages)),
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        **fields,
    }
