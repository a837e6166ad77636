"""JSON at the edge: one generic conversion between typed results and JSON-ready values.

Jobs hand typed objects (frozen dataclasses, pydantic models) from the client to the
renderers; only the edges (`--json`, spool files, artifacts) need JSON. `to_jsonable` turns
any such object into dicts, lists and scalars by its fields, so no class writes its own
`as_json`; `from_jsonable` reads one back (a spool file) through pydantic's validation.

A dataclass field may say how it appears in JSON, in its metadata (`field(metadata=...)`):
`renamed("errors")` under another key, `FLATTEN` its own fields merged into its parent's
(`DomainHealth`'s outbound figures beside `partner_ref`), `AS_TEXT` as `str(value)` (a
`Shard` as `"1/2"`; a flattened None adds nothing). A class may name, in `JSON_EXTRAS`,
methods without arguments (or properties) whose values JSON shows after its fields (a
weekly change's `in_words`); they are not read back.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from datetime import date, datetime, time
from enum import Enum
from pathlib import PurePath
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter

T = TypeVar("T")

_KEY = "jsonable"
FLATTEN: Mapping[str, Any] = types.MappingProxyType({_KEY: "flatten"})
AS_TEXT: Mapping[str, Any] = types.MappingProxyType({_KEY: "text"})


def renamed(name: str) -> Mapping[str, Any]:
    """Field metadata: the field appears in JSON under `name`."""
    return types.MappingProxyType({_KEY: ("rename", name)})


def to_jsonable(value: Any) -> Any:
    """`value` as JSON-ready data: dataclasses and mappings as dicts (string keys), pydantic
    models by their `model_dump(mode="json")`, sequences and sets as lists, enums as their
    value, dates and instants in ISO 8601, paths as text; other scalars as they are."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _dataclass_to_jsonable(value)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, Enum):
        return to_jsonable(value.value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, Mapping):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(item) for item in value]
    return value


def _dataclass_to_jsonable(value: Any) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for spec in dataclasses.fields(value):
        item = getattr(value, spec.name)
        how = spec.metadata.get(_KEY)
        if how == "flatten":
            data.update(to_jsonable(item) if item is not None else {})
        elif how == "text":
            data[spec.name] = None if item is None else str(item)
        elif isinstance(how, tuple) and how[0] == "rename":
            data[how[1]] = to_jsonable(item)
        else:
            data[spec.name] = to_jsonable(item)
    for name in getattr(type(value), "JSON_EXTRAS", ()):
        extra = getattr(value, name)
        data[name] = to_jsonable(extra() if callable(extra) else extra)
    return data


def from_jsonable(kind: type[T], data: Any) -> T:
    """An object of `kind` back from what `to_jsonable` made of one (renamed and flattened
    fields undone, then pydantic's validation); pydantic's ValidationError (a ValueError)
    when the data is not one. `AS_TEXT` fields cannot be read back: their type decides."""
    return TypeAdapter(kind).validate_python(_unshaped(kind, data))


def _unshaped(kind: Any, data: Any) -> Any:
    """The data in the shape of `kind`'s own fields, through lists and dataclass fields."""
    origin = typing.get_origin(kind)
    if origin in (list, tuple, set, frozenset) and isinstance(data, list):
        [item_kind, *_] = typing.get_args(kind) or (Any,)
        return [_unshaped(item_kind, item) for item in data]
    if origin in (typing.Union, types.UnionType):
        shapes = [k for k in typing.get_args(kind) if dataclasses.is_dataclass(k)]
        return _unshaped(shapes[0], data) if len(shapes) == 1 and data is not None else data
    if not (isinstance(kind, type) and dataclasses.is_dataclass(kind)) or not isinstance(
        data, Mapping
    ):
        return data
    hints = typing.get_type_hints(kind)
    specs = dataclasses.fields(kind)
    own_keys = {_json_key(spec) for spec in specs if spec.metadata.get(_KEY) != "flatten"}
    shaped: dict[str, Any] = {}
    for spec in specs:
        if spec.metadata.get(_KEY) == "flatten":
            rest = {key: item for key, item in data.items() if key not in own_keys}
            shaped[spec.name] = _unshaped(hints[spec.name], rest)
        elif _json_key(spec) in data:
            shaped[spec.name] = _unshaped(hints[spec.name], data[_json_key(spec)])
    return shaped


def _json_key(spec: dataclasses.Field[Any]) -> str:
    how = spec.metadata.get(_KEY)
    return how[1] if isinstance(how, tuple) and how[0] == "rename" else spec.name
