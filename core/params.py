"""One description of every user-facing parameter.

A config is a frozen dataclass whose fields are declared with :func:`param`. From
that single description we build the CLI flags (:func:`add_arguments`), the GUI
settings panel (app/ reads :func:`params_of`), and the saved session
(:func:`config_to_dict` / :func:`config_from_dict`). Validation happens once, in
:func:`validate_config`, called from each config's ``__post_init__``, and raises a
:class:`~core.errors.ConfigError` that names the field and its allowed range.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from levelset_studio.core.errors import ConfigError

T = TypeVar("T")


@dataclass(frozen=True)
class Param:
    """What a user sees of one setting."""

    name: str
    label: str
    help: str
    default: Any
    kind: type
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] | None = None
    advanced: bool = False
    unit: str = ""
    optional: bool = False  # None is an allowed value ("not set")
    # what 0 means, shown instead of the number ("auto", "off"); "" for a plain number
    zero: str = ""
    # ((other field, allowed values), ...): the setting applies only when every named
    # field holds one of its values (e.g. (("method", ("igr",)),)); () = always
    when: tuple[tuple[str, tuple[Any, ...]], ...] = ()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def applies(self, values: Mapping[str, Any]) -> bool:
        """Whether this setting matters given the other settings' ``values``.

        A field named in ``when`` but absent from ``values`` does not hide the setting.
        """
        return all(name not in values or values[name] in allowed for name, allowed in self.when)

    def when_text(self) -> str:
        """``when`` in words ("only when method is igr"), or ""."""
        if not self.when:
            return ""
        parts = [f"{name} is {' or '.join(map(str, allowed))}" for name, allowed in self.when]
        return "only when " + " and ".join(parts)

    def value_text(self, value: Any) -> str:
        """How a value reads to a person: the ``zero`` word for 0, "none" for not set."""
        if value is None:
            return "none"
        if self.zero and not isinstance(value, bool) and isinstance(value, (int, float)) and value == 0:
            return self.zero
        return str(value)

    def range_text(self) -> str:
        if self.choices is not None:
            return "one of " + ", ".join(map(str, self.choices))
        lo = "-inf" if self.minimum is None else f"{self.minimum:g}"
        hi = "inf" if self.maximum is None else f"{self.maximum:g}"
        return f"[{lo}, {hi}]"

    def coerce(self, value: Any) -> Any:
        """Return ``value`` converted to this parameter's kind, or raise ConfigError."""
        if value is None:
            if self.optional:
                return None
            raise ConfigError(f"{self.name}: a value is required")
        try:
            if self.kind is bool:
                if isinstance(value, str):
                    low = value.strip().lower()
                    if low not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                        raise ValueError(value)
                    value = low in ("1", "true", "yes", "on")
                else:
                    value = bool(value)
            elif self.kind is int:
                if isinstance(value, float) and not value.is_integer():
                    raise ValueError(value)
                if isinstance(value, bool):
                    raise ValueError(value)
                value = int(value)
            elif self.kind is float:
                if isinstance(value, bool):
                    raise ValueError(value)
                value = float(value)
                if not math.isfinite(value):
                    raise ValueError(value)
            else:
                value = self.kind(value)
        except (TypeError, ValueError):
            raise ConfigError(
                f"{self.name}: {value!r} is not a valid {self.kind.__name__} ({self.range_text()})"
            ) from None
        if self.choices is not None and value not in self.choices:
            raise ConfigError(f"{self.name}: {value!r} is not {self.range_text()}")
        if self.minimum is not None and value < self.minimum:
            raise ConfigError(f"{self.name}: {value!r} is outside {self.range_text()}")
        if self.maximum is not None and value > self.maximum:
            raise ConfigError(f"{self.name}: {value!r} is outside {self.range_text()}")
        return value


def param(
    default: Any,
    label: str,
    help: str,
    *,
    kind: type | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    choices: Sequence[Any] | None = None,
    advanced: bool = False,
    unit: str = "",
    optional: bool = False,
    zero: str = "",
    when: Mapping[str, Any] | None = None,
) -> Any:
    """Declare a config field with its user-facing description.

    ``zero``: the word for the value 0 ("auto", "off"), shown by the GUI and the help.
    ``when``: ``{other_field: value or values}``; the setting applies only then (the GUI
    hides it otherwise; the value still travels, so configs and sessions are unchanged).
    """
    if kind is None:
        if default is None:
            raise TypeError("param(): give kind= when the default is None")
        kind = type(default)
    meta = dict(
        label=label,
        help=help,
        kind=kind,
        minimum=minimum,
        maximum=maximum,
        choices=None if choices is None else tuple(choices),
        advanced=advanced,
        unit=unit,
        optional=optional or default is None,
        zero=zero,
        when=_when_tuple(when),
    )
    return dataclasses.field(default=default, metadata={"param": meta})


def _when_tuple(when: Mapping[str, Any] | None) -> tuple[tuple[str, tuple[Any, ...]], ...]:
    if not when:
        return ()
    out = []
    for name, allowed in when.items():
        values = tuple(allowed) if isinstance(allowed, (tuple, list, set, frozenset)) else (allowed,)
        if not values:
            raise TypeError(f"param(): when={{{name!r}: ...}} needs at least one value")
        out.append((str(name), values))
    return tuple(out)


def params_of(cls_or_obj: Any) -> list[Param]:
    """The parameters of a config class, in declaration order."""
    out = []
    for f in dataclasses.fields(cls_or_obj):
        meta = f.metadata.get("param")
        if meta is None:
            continue
        out.append(Param(name=f.name, default=f.default, **meta))
    return out


def validate_config(obj: Any) -> None:
    """Coerce and check every declared field of a (frozen) config in place."""
    for p in params_of(obj):
        value = p.coerce(getattr(obj, p.name))
        object.__setattr__(obj, p.name, value)


def config_to_dict(obj: Any) -> dict[str, Any]:
    return {p.name: getattr(obj, p.name) for p in params_of(obj)}


def config_from_dict(cls: type[T], values: Mapping[str, Any], *, strict: bool = True) -> T:
    """Build a config from a mapping (a session file, GUI fields). Unknown keys are errors."""
    names = {p.name for p in params_of(cls)}
    unknown = sorted(set(values) - names)
    if unknown and strict:
        raise ConfigError(f"unknown setting(s): {', '.join(unknown)}")
    return cls(**{k: v for k, v in values.items() if k in names})


def add_arguments(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    cls: type,
    *,
    exclude: Iterable[str] = (),
    include_advanced: bool = True,
) -> None:
    """Add one ``--flag`` per parameter of ``cls``. Values stay strings until validated."""
    skip = set(exclude)
    for p in params_of(cls):
        if p.name in skip or (p.advanced and not include_advanced):
            continue
        unit = f" [{p.unit}]" if p.unit else ""
        zero = f"; 0: {p.zero}" if p.zero else ""
        when = f"; {p.when_text()}" if p.when else ""
        text = f"{p.help}{unit} (default {p.value_text(p.default)}; {p.range_text()}{zero}{when})"
        if p.kind is bool:
            parser.add_argument(p.flag, dest=p.name, default=None, action=argparse.BooleanOptionalAction, help=text)
        else:
            parser.add_argument(p.flag, dest=p.name, default=None, metavar=p.kind.__name__.upper(), help=text)


def config_from_args(cls: type[T], ns: argparse.Namespace, **overrides: Any) -> T:
    """The config given by parsed CLI flags (unset flags keep their defaults)."""
    values = {}
    for p in params_of(cls):
        v = getattr(ns, p.name, None)
        if v is not None:
            values[p.name] = v
    values.update({k: v for k, v in overrides.items() if v is not None})
    return cls(**values)


def markdown_table(cls: type) -> str:
    """The parameters of a config class as a Markdown table (docs/parameters.md)."""

    def cell(text: Any) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    rows = ["| setting | flag | default | range | unit | meaning |", "| --- | --- | --- | --- | --- | --- |"]
    for p in params_of(cls):
        name = f"{p.label}" + (" (advanced)" if p.advanced else "")
        default = "none" if p.default is None else p.default
        meaning = p.help + (f" ({p.when_text()})" if p.when else "")
        rows.append(
            f"| {cell(name)} | `{p.flag}` | `{cell(default)}` | {cell(p.range_text())} | {cell(p.unit)} | {cell(meaning)} |"
        )
    return "\n".join(rows)
