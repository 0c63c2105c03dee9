"""Shape checks for emulator responses: against the official REST examples (every key the example has,
recursively) and against the pinned SDK's models (every key the emulator sends is one the SDK knows,
so nothing is invented and nothing silently dropped by deserialisation).
"""

from __future__ import annotations

import json
import sys
import typing
from pathlib import Path
from typing import Any

# Verbatim copies of the Azure REST API specs' examples (provenance in tests/api_examples/README.md).
EXAMPLES = Path(__file__).resolve().parents[1] / "api_examples"


def example(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / name).read_text())  # type: ignore[no-any-return]


def missing_keys(expected: Any, actual: Any, path: str = "$") -> list[str]:
    """Paths of keys present in ``expected`` but absent from ``actual``. Lists are compared item by item."""
    missing: list[str] = []
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path} (expected an object)"]
        for key, value in expected.items():
            if key not in actual:
                missing.append(f"{path}.{key}")
            else:
                missing += missing_keys(value, actual[key], f"{path}.{key}")
    elif isinstance(expected, list) and expected:
        if not isinstance(actual, list):
            return [f"{path} (expected an array)"]
        for index, item in enumerate(expected):
            if index >= len(actual):
                missing.append(f"{path}[{index}]")
            else:
                missing += missing_keys(item, actual[index], f"{path}[{index}]")
    return missing


def _unwrap(annotation: Any) -> tuple[Any, str]:
    """(inner type, container) for Optional[...], list[...] and dict[str, ...] annotations."""
    while True:
        origin, args = typing.get_origin(annotation), typing.get_args(annotation)
        if origin is typing.Union:
            annotation = next(a for a in args if a is not type(None))
            continue
        if origin is list:
            return args[0], "list"
        if origin is dict:
            return args[1], "dict"
        return annotation, ""


def _fields(model: type) -> dict[str, Any]:
    """REST name -> annotation for a typespec-generated SDK model."""
    model()  # the generated base class computes its field table on first instantiation
    module = sys.modules[model.__module__]
    package = sys.modules[model.__module__.rsplit(".", 1)[0]]
    hints = typing.get_type_hints(model, globalns={**vars(module), "_models": package})
    return {rf._rest_name: hints[attr] for attr, rf in model._attr_to_rest_field.items()}  # type: ignore[attr-defined]


def unknown_keys(model: type, data: Any, path: str = "$") -> list[str]:
    """Paths of keys in ``data`` that the SDK model (recursively) does not define."""
    if not isinstance(data, dict):
        return []
    known = _fields(model)
    unknown: list[str] = []
    for key, value in data.items():
        if key not in known:
            unknown.append(f"{path}.{key}")
            continue
        inner, container = _unwrap(known[key])
        if not (isinstance(inner, type) and getattr(inner, "_is_model", False)):
            continue  # a scalar, or a free-form dict such as tags
        if container == "list" and isinstance(value, list):
            for index, item in enumerate(value):
                unknown += unknown_keys(inner, item, f"{path}.{key}[{index}]")
        elif container == "dict" and isinstance(value, dict):
            for name, item in value.items():
                unknown += unknown_keys(inner, item, f"{path}.{key}.{name}")
        elif not container:
            unknown += unknown_keys(inner, value, f"{path}.{key}")
    return unknown
