"""One declaration per setting: option dataclasses whose fields are read from configuration
mappings (YAML, JSON, Snakemake config), from the command line and written back as command-line
options for the workflow's rules, all from the same field declarations.

A settings class is a frozen dataclass deriving from :class:`Settings`; its fields carry their
help text and, where text needs a special reading, a ``parse`` (text → value) and ``format``
(value → text) in the field metadata (:func:`setting`). Ranges are checked in ``__post_init__``.
Values are type-checked by annotation (int, float, bool, str, Literal, optional, tuple, dict):
``batch_size: "eight"`` is refused with the key named, never passed on.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import shlex
import types
import typing
from collections.abc import Callable
from dataclasses import MISSING, asdict, fields
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

from phl.errors import InputError

S = TypeVar("S", bound="Settings")


def setting(
    default: Any = MISSING,
    help: str = "",
    *,
    parse: Callable[[str], Any] | None = None,
    format: Callable[[Any], str] | None = None,
    cli: bool = True,
    default_factory: Any = MISSING,
) -> Any:
    """A dataclass field with its help text and optional text reading/writing."""
    meta = {"help": help, "parse": parse, "format": format, "cli": cli}
    if default_factory is not MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def check_known_keys(cls: type, data: dict[str, Any], what: str) -> None:
    """Raise :class:`InputError` naming every key of ``data`` that is not a field of ``cls``."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(map(str, data)) - known)
    if unknown:
        raise InputError(f"unknown {what} option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")


def _is_optional(tp: Any) -> tuple[bool, Any]:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) < len(typing.get_args(tp)):
            return True, args[0] if len(args) == 1 else typing.Union[tuple(args)]  # noqa: UP007
    return False, tp


_TRUE, _FALSE = {"true", "yes", "on", "1"}, {"false", "no", "off", "0"}


def coerce(value: Any, tp: Any, name: str, what: str) -> Any:
    """``value`` as type ``tp``, or :class:`InputError` naming ``what``.``name``."""
    optional, tp = _is_optional(tp)
    where = f"{what} option {name}"
    if value is None:
        if optional:
            return None
        raise InputError(f"{where} must be set, got null")
    origin = typing.get_origin(tp)
    if origin is Literal:
        choices = typing.get_args(tp)
        if isinstance(value, bool):  # YAML 1.1 reads an unquoted off/no/on/yes as false/true
            words = _TRUE if value else _FALSE
            spelled = [c for c in choices if isinstance(c, str) and c.lower() in words]
            if len(spelled) == 1:
                return spelled[0]
        if value not in choices:
            raise InputError(f"{where} must be one of {', '.join(map(str, choices))}, got {value!r}")
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
            return value.lower() in _TRUE
        raise InputError(f"{where} must be true or false, got {value!r}")
    if tp is int:
        if isinstance(value, bool):
            raise InputError(f"{where} must be an integer, got {value!r}")
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                raise InputError(f"{where} must be an integer, got {value!r}") from None
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, int):
            return value
        raise InputError(f"{where} must be an integer, got {value!r}")
    if tp is float:
        if isinstance(value, bool):
            raise InputError(f"{where} must be a number, got {value!r}")
        number = None
        if isinstance(value, (int, float)):
            number = float(value)
        elif isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                pass
        if number is None:
            raise InputError(f"{where} must be a number, got {value!r}")
        if not math.isfinite(number):  # no setting of phl means anything at inf or nan
            raise InputError(f"{where} must be a finite number, got {value!r}")
        return number
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            raise InputError(
                f"{where} must be a string, got {value!r} (YAML reads an unquoted on/off/yes/no as true/false: "
                "quote the value)"
            )
        raise InputError(f"{where} must be a string, got {value!r}")
    if origin is tuple:
        items = typing.get_args(tp)
        if not isinstance(value, (list, tuple)) or len(value) != len(items):
            raise InputError(f"{where} must be a list of {len(items)} values, got {value!r}")
        return tuple(coerce(v, t, name, what) for v, t in zip(value, items))
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise InputError(f"{where} must be a mapping, got {value!r}")
        return dict(value)
    return value


class Settings:
    """Mixin for frozen option dataclasses: ``from_dict``, ``to_dict``, CLI options and rendering."""

    #: name used in messages ("method", "training", ...)
    what: ClassVar[str] = "settings"

    @classmethod
    def _hints(cls) -> dict[str, Any]:
        return typing.get_type_hints(cls)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None):
        """Build from a mapping, naming unknown keys and values of the wrong type."""
        data = dict(data or {})
        if not all(isinstance(k, str) for k in data):
            raise InputError(f"{cls.what} options must have string keys")
        check_known_keys(cls, data, cls.what)
        hints = cls._hints()
        values = {}
        for f in fields(cls):
            if f.name not in data:
                continue
            value = data[f.name]
            parse = f.metadata.get("parse")
            if parse is not None and isinstance(value, str):
                value = _call_parse(parse, value, f.name, cls.what)
            values[f.name] = coerce(value, hints[f.name], f.name, cls.what)
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]

    def replace(self, **changes: Any):
        """A copy with some fields changed (validated again)."""
        return type(self).from_dict({**self.to_dict(), **changes})

    # ---- command line -----------------------------------------------------------------------
    @classmethod
    def cli_fields(cls) -> list[dataclasses.Field]:
        return [f for f in fields(cls) if f.metadata.get("cli", True)]

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser | Any, exclude: tuple[str, ...] = ()) -> None:
        """One ``--option`` per field (default None: unset options take the dataclass default,
        so that values from a file and from the command line can be layered)."""
        hints = cls._hints()
        for f in cls.cli_fields():
            if f.name in exclude:
                continue
            flag = "--" + f.name.replace("_", "-")
            default = f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]
            shown = _format_value(f, default)
            # argparse %-formats help texts: a literal % ("2.2 %") must be doubled
            helptext = f"{f.metadata.get('help', '')} (default {shown})".strip().replace("%", "%%")
            _, tp = _is_optional(hints[f.name])
            kwargs: dict[str, Any] = {"dest": f.name, "default": None, "help": helptext}
            if tp is bool and f.metadata.get("parse") is None:
                kwargs["action"] = argparse.BooleanOptionalAction
            else:
                kwargs["type"] = _cli_type(f, hints[f.name], cls.what)
                kwargs["metavar"] = f.name.upper()
                if typing.get_origin(tp) is Literal:
                    kwargs["choices"] = typing.get_args(tp)
                    del kwargs["metavar"]
            parser.add_argument(flag, **kwargs)

    @classmethod
    def given(cls, args: argparse.Namespace) -> dict[str, Any]:
        """The options of this class set on the command line."""
        return {f.name: getattr(args, f.name) for f in cls.cli_fields() if getattr(args, f.name, None) is not None}

    @classmethod
    def from_args(cls, args: argparse.Namespace, base: dict[str, Any] | None = None):
        return cls.from_dict({**(base or {}), **cls.given(args)})

    def to_cli(self, only: typing.Collection[str] | None = None) -> str:
        """Every command-line field (or those named in ``only``) as ``--option value`` text
        (quoted for a shell)."""
        hints = self._hints()
        parts = []
        for f in self.cli_fields():
            if only is not None and f.name not in only:
                continue
            value = getattr(self, f.name)
            flag = "--" + f.name.replace("_", "-")
            _, tp = _is_optional(hints[f.name])
            if value is None:
                if f.default is not None:
                    raise InputError(f"{self.what} option {f.name}: null cannot be given on a command line")
                continue  # unset: the default (None) applies
            if tp is bool and f.metadata.get("parse") is None:
                parts.append(flag if value else "--no-" + flag[2:])
            else:
                parts.append(f"{flag} {shlex.quote(_format_value(f, value))}")
        return " ".join(parts)


def _call_parse(parse: Callable[[str], Any], text: str, name: str, what: str) -> Any:
    try:
        return parse(text)
    except (ValueError, TypeError) as exc:
        raise InputError(f"{what} option {name}: {exc}") from None


def _format_value(f: dataclasses.Field, value: Any) -> str:
    fmt = f.metadata.get("format")
    if fmt is not None:
        return fmt(value)
    if isinstance(value, dict):
        return json.dumps(value)
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return str(value)


def _cli_type(f: dataclasses.Field, tp: Any, what: str) -> Callable[[str], Any]:
    """Text → value of field ``f`` (annotation ``tp``, optional or not), as argparse's ``type``."""
    parse = f.metadata.get("parse")
    _, base = _is_optional(tp)

    def convert(text: str) -> Any:
        try:
            value = _call_parse(parse, text, f.name, what) if parse else text
            if (typing.get_origin(base) is dict or base is dict) and isinstance(value, str):
                value = json.loads(value)
            return coerce(value, tp, f.name, what)
        except (InputError, ValueError) as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = f.name
    return convert


def read_settings_file(path: str | Path) -> dict[str, Any]:
    """A YAML (or JSON) file holding one mapping of options."""
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InputError(f"{path}: cannot read the options file: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: the options file must hold a mapping of option: value")
    return data


def parse_settings_json(text: str, what: str = "--settings") -> dict[str, Any]:
    """A JSON object of options given on the command line."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{what} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(f"{what} must be a JSON object of option: value")
    return data


def layered(
    cls: type[S], file: str | Path | None = None, json_text: str | None = None, given: dict[str, Any] | None = None
) -> S:
    """Options from a file, then a JSON object, then single options, later ones winning."""
    data: dict[str, Any] = {}
    if file:
        data.update(read_settings_file(file))
    if json_text:
        data.update(parse_settings_json(json_text))
    data.update(given or {})
    return cls.from_dict(data)  # type: ignore[attr-defined]
