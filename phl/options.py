"""Building option dataclasses from configuration mappings, with unknown keys named."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from phl.errors import InputError


def check_known_keys(cls: type, data: dict[str, Any], what: str) -> None:
    """Raise :class:`InputError` naming every key of ``data`` that is not a field of ``cls``."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise InputError(f"unknown {what} option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
