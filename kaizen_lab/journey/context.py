"""Context accumulation: how an output a pathway produced is merged into what the journey already knows."""

from __future__ import annotations

import copy
import enum
from collections.abc import Mapping
from typing import Any

from ..exceptions import ConfigurationError

__all__ = ["AccumulationStrategy", "is_empty", "merge_value"]


class AccumulationStrategy(str, enum.Enum):
    """Per field, set with ``JourneyConfig(accumulation={"symptoms": "append", ...})``."""

    REPLACE = "replace"  # the newest value wins
    APPEND = "append"  # a list of every value (a list value adds its items)
    UNION = "union"  # like APPEND, without duplicates, first-seen order
    SUM = "sum"  # numbers add up
    MAX = "max"
    MIN = "min"
    MERGE_DICT = "merge_dict"  # dicts merge recursively; the newer value wins on conflicts

    @classmethod
    def coerce(cls, value: AccumulationStrategy | str, field: str = "") -> AccumulationStrategy:
        if isinstance(value, cls):
            return value
        try:
            return cls(str(value).lower())
        except ValueError:
            where = f" for {field!r}" if field else ""
            raise ConfigurationError(
                f"Unknown accumulation strategy {value!r}{where}; use one of {[s.value for s in cls]}."
            ) from None


def is_empty(value: Any) -> bool:
    """None, "", [] and {} carry nothing new: they never overwrite or extend what is known."""
    return value is None or (isinstance(value, str | list | tuple | dict) and len(value) == 0)


_MISSING: Any = object()


def merge_value(strategy: AccumulationStrategy, old: Any, new: Any, field: str = "") -> Any:
    """The value of ``field`` after merging ``new`` into ``old`` (``old`` may be absent: pass nothing)."""
    if is_empty(new):
        return old
    new = copy.deepcopy(new)
    if old is None or old is _MISSING:
        return _first(strategy, new, field)
    if strategy is AccumulationStrategy.REPLACE:
        return new
    if strategy is AccumulationStrategy.APPEND:
        return [*_as_list(old), *_as_list(new)]
    if strategy is AccumulationStrategy.UNION:
        merged = _as_list(old)
        for item in _as_list(new):
            if item not in merged:  # equality, not hashing: items may be dicts
                merged.append(item)
        return merged
    if strategy in (AccumulationStrategy.SUM, AccumulationStrategy.MAX, AccumulationStrategy.MIN):
        _need_numbers(strategy, field, old, new)
        if strategy is AccumulationStrategy.SUM:
            return old + new
        return max(old, new) if strategy is AccumulationStrategy.MAX else min(old, new)
    if strategy is AccumulationStrategy.MERGE_DICT:
        if not isinstance(old, Mapping) or not isinstance(new, Mapping):
            raise ConfigurationError(
                f"Accumulating {field!r} with 'merge_dict' needs dicts, got {type(old).__name__} and "
                f"{type(new).__name__}; declare the output as dict or pick another strategy."
            )
        return _deep_merge(old, new)
    raise ConfigurationError(f"Unknown accumulation strategy {strategy!r}.")  # pragma: no cover - enum is closed


def _first(strategy: AccumulationStrategy, new: Any, field: str) -> Any:
    """The first value of a field: list strategies start a list, the others take it as is."""
    if strategy is AccumulationStrategy.APPEND:
        return _as_list(new)
    if strategy is AccumulationStrategy.UNION:
        return merge_value(strategy, [], new)
    if strategy is AccumulationStrategy.MERGE_DICT and not isinstance(new, Mapping):
        raise ConfigurationError(
            f"Accumulating {field!r} with 'merge_dict' needs dicts, got {type(new).__name__}; declare the output as "
            "dict or pick another strategy."
        )
    return new


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _need_numbers(strategy: AccumulationStrategy, field: str, *values: Any) -> None:
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise ConfigurationError(
                f"Accumulating {field!r} with {strategy.value!r} needs numbers, got {v!r}; declare the output as "
                "int or float, or pick another strategy."
            )


def _deep_merge(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(old)
    for key, value in new.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
