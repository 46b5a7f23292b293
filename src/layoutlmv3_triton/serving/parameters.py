"""Model-config parameters as typed dataclasses: one per step, each default defined once.

Triton hands a python-backend model its ``parameters`` as strings.  A :class:`ParameterSet`
turns itself into that mapping (``build-repo`` writes it into ``config.pbtxt``) and back
(the step's ``initialize`` reads it), so a key or default is spelled in one place.  Nested
parameter sets are flattened, each behind its own ``prefix`` (``ocr_psm``).
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, ClassVar, TypeVar

P = TypeVar("P", bound="ParameterSet")
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")


def _parse(kind: Any, key: str, text: str) -> Any:
    args = typing.get_args(kind)
    if type(None) in args:  # Optional[X]: an empty string is "not set"
        if text == "":
            return None
        kind = next(a for a in args if a is not type(None))
    try:
        if kind is bool:
            lowered = text.strip().lower()
            if lowered not in _TRUE + _FALSE:
                raise ValueError("expected true or false")
            return lowered in _TRUE
        return kind(text.strip()) if kind in (int, float) else kind(text)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"model parameter {key} must be {getattr(kind, '__name__', kind)}, not {text!r}") from exc


def _format(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class ParameterSet:
    """Mixin for frozen dataclasses whose fields are model-config parameters."""

    prefix: ClassVar[str] = ""

    @classmethod
    def _fields(cls) -> list[tuple[dataclasses.Field, Any]]:
        hints = typing.get_type_hints(cls)
        return [(f, hints[f.name]) for f in dataclasses.fields(cls) if f.init]  # type: ignore[arg-type]

    def to_parameters(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for f, _kind in self._fields():
            value = getattr(self, f.name)
            if isinstance(value, ParameterSet):
                out.update(value.to_parameters())
            else:
                out[self.prefix + f.name] = _format(value)
        return out

    @classmethod
    def from_parameters(cls: type[P], params: dict[str, str]) -> P:
        """Build from Triton's string parameters; absent keys keep their defaults, unknown keys are ignored."""
        kwargs: dict[str, Any] = {}
        for f, kind in cls._fields():
            if isinstance(kind, type) and issubclass(kind, ParameterSet):
                kwargs[f.name] = kind.from_parameters(params)
            elif cls.prefix + f.name in params:
                kwargs[f.name] = _parse(kind, cls.prefix + f.name, params[cls.prefix + f.name])
        return cls(**kwargs)
