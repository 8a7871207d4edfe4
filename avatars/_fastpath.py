"""The schemas' fast path: each response schema compiled once into a plan.

Used by :func:`avatars.schemas.load` and :func:`~avatars.schemas.load_many`
only (imported on first use); a payload the plan does not take exactly raises
``schemas._Fallback`` and goes through marshmallow.
"""

from __future__ import annotations

import dataclasses
import math
import re
import threading
from datetime import datetime
from typing import Any, Callable, Dict, List, Optional, Tuple, Type
from uuid import UUID

import marshmallow
from marshmallow import EXCLUDE, fields

from . import models
from .schemas import BaseSchema, TolerantEnum, UtcDateTime, _fail, _Fallback, _Field, _schema

__all__ = ["compiled"]

# --------------------------------------------------------------------------- fast path
#
# Profiling ``load(JobResponseListSchema, body)`` on 10,000 jobs shows marshmallow's
# per-field machinery (``Schema._deserialize``, ``Field.deserialize``,
# ``_validate``, ``_call_and_store``, the ``getter`` closures) taking over 80 %
# of the time, the conversions themselves (UUID, datetime, enum) under 15 %.
# So each schema whose fields are all of the kinds below is compiled once into
# a plan: for every field its wire key, a converter that accepts only the
# plain, unsurprising form of the value, and what to do when the key is absent
# or null.  The plan builds the model directly.  Anything else (a missing
# required field, a null where none is allowed, a value of another type, a
# bool where a number is expected, an unknown enum value, a timestamp that is
# not canonical ISO 8601 with an offset, a non-finite float, ...) abandons the
# fast path and the WHOLE payload is loaded again by marshmallow, so that
# errors and edge-case results are exactly marshmallow's.  A converter is
# written so that, when it accepts a value, it returns what the marshmallow
# field returns for that value (tests/unit/test_fast_path.py checks it on
# random valid and invalid payloads, under marshmallow 3 and 4).


_ABSENT: Any = object()

#: ``YYYY-MM-DDTHH:MM:SS[.f{1,6}]`` then ``Z`` or ``+HH:MM``: the canonical form
#: servers send.  A string of this form that ``datetime.fromisoformat`` parses
#: into an aware datetime is what :func:`parse_datetime` returns for it.
_CANONICAL_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?(?:Z|[+-][0-9]{2}:[0-9]{2})"
).fullmatch

_Converter = Callable[[Any], Any]
#: (wire key, attribute, converter, required, load default or _ABSENT, allow_none)
_Step = Tuple[str, str, _Converter, bool, Any, bool]


def _to_str(value: Any) -> Any:
    if type(value) is str:
        return value
    raise _Fallback


def _to_int(value: Any) -> Any:
    if type(value) is int:  # not bool, not float: marshmallow's strict Integer accepts exactly these as is
        return value
    raise _Fallback


def _to_bool(value: Any) -> Any:
    if value is True or value is False:
        return value
    raise _Fallback


#: UUIDs already parsed, by their text: a client polling jobs reads the same
#: ids again and again, and ``UUID(text)`` is the dearest conversion of a
#: payload.  A ``UUID`` is immutable, so one object may serve every payload
#: that holds the same text.  Bounded: emptied when it reaches this size.
_UUID_CACHE_SIZE = 4096
_uuids: Dict[str, UUID] = {}


def _to_uuid(value: Any) -> Any:
    if type(value) is str:
        known = _uuids.get(value)
        if known is not None:
            return known
        try:
            parsed = UUID(value)  # what fields.UUID does with a str
        except ValueError:
            raise _Fallback from None
        if len(_uuids) >= _UUID_CACHE_SIZE:
            _uuids.clear()
        _uuids[value] = parsed
        return parsed
    raise _Fallback


def _to_datetime(value: Any) -> Any:
    if type(value) is str and _CANONICAL_TIMESTAMP(value) is not None:
        try:
            parsed = datetime.fromisoformat(value)  # Python < 3.11 rejects "Z": marshmallow's road then
        except ValueError:
            raise _Fallback from None
        if parsed.tzinfo is not None:
            return parsed
    raise _Fallback


def _float_converter(allow_nan: bool) -> _Converter:
    def to_float(value: Any) -> Any:
        kind = type(value)
        if kind is float:
            if allow_nan or math.isfinite(value):
                return value
        elif kind is int:
            try:
                number = float(value)
            except OverflowError:
                raise _Fallback from None
            if allow_nan or math.isfinite(number):
                return number
        raise _Fallback

    return to_float


def _enum_converter(enum: Type[models._TolerantStrEnum]) -> _Converter:
    known = {member.value: member for member in enum}  # unknown values: marshmallow's road (pseudo-members)
    lookup = known.get

    def to_member(value: Any) -> Any:
        if type(value) is str:
            member = lookup(value)
            if member is not None:
                return member
        raise _Fallback

    return to_member


def _str_list(value: Any) -> Any:
    if type(value) is list:
        for item in value:
            if type(item) is not str:
                raise _Fallback
        return list(value)
    raise _Fallback


def _plain_field(field: _Field) -> bool:
    """No validators, no field-level processors (marshmallow 4), no ``attribute``."""
    return (
        not field.validators
        and not getattr(field, "pre_load", None)
        and not getattr(field, "post_load", None)
        and field.attribute is None
        and not field.load_only
        and not field.dump_only
    )


def _converter_for(field: _Field) -> Optional[_Converter]:
    """The fast converter of a marshmallow field, or None when the field is of
    a kind (or configured in a way) the fast path does not cover."""
    if not _plain_field(field):
        return None
    kind = type(field)
    if kind is fields.String:
        return _to_str
    if kind is fields.UUID:
        return _to_uuid
    if kind is fields.Integer:
        return _to_int
    if kind is fields.Boolean:
        truthy, falsy = getattr(field, "truthy", None), getattr(field, "falsy", None)
        if truthy and falsy and True in truthy and False in falsy:
            return _to_bool
        return None
    if kind is fields.Float:
        assert isinstance(field, fields.Float)
        return _float_converter(field.allow_nan is not False)
    if kind is TolerantEnum:
        assert isinstance(field, TolerantEnum)
        return _enum_converter(field.enum)
    if kind is UtcDateTime:
        return _to_datetime
    if kind is fields.List:
        inner = getattr(field, "inner", None)
        if type(inner) is fields.String and inner is not None and _plain_field(inner) and not inner.allow_none:
            return _str_list
        return None
    if kind is fields.Nested:
        assert isinstance(field, fields.Nested)
        if field.only is not None or field.exclude or field.unknown is not None:
            return None
        nested = type(field.schema)
        load_one = _compiled(nested)
        if load_one is None:
            return None
        if not field.many:

            def to_object(value: Any) -> Any:
                if type(value) is dict:
                    return load_one(value)
                raise _Fallback

            return to_object

        def to_objects(value: Any) -> Any:
            if type(value) is list:
                return [load_one(item) if type(item) is dict else _fail() for item in value]
            raise _Fallback

        return to_objects
    return None


def _model_builder(model: Any, attributes: List[str]) -> Callable[[Dict[str, Any]], Any]:
    """Make the model from its keyword arguments.

    A plain dataclass (``@dataclass``-generated ``__init__``, no
    ``__post_init__``, no ``__slots__``, every field set by the schema) is
    filled in directly: its generated ``__init__`` does nothing else, and for
    a frozen dataclass it costs ten times more (one ``object.__setattr__`` per
    field).  The arguments are passed in the dataclass's field order, so
    ``__dict__`` is the same as after ``__init__``.  Any other model is called.
    Code that needs to see every loaded object observes :func:`avatars.schemas.load`
    and :func:`~avatars.schemas.load_many`, not the models' ``__init__``.
    """

    def call(kwargs: Dict[str, Any]) -> Any:
        return model(**kwargs)

    if not (isinstance(model, type) and dataclasses.is_dataclass(model)):
        return call
    cls: Any = model  # typed loosely: the checks below read dataclass internals
    names = [f.name for f in dataclasses.fields(cls)]
    direct = (
        cls.__dataclass_params__.init
        and "__init__" in vars(cls)
        and not hasattr(cls, "__post_init__")
        and "__slots__" not in vars(cls)
        and cls.__new__ is object.__new__
        and list(cls.__dataclass_fields__) == names
        and all(f.init for f in dataclasses.fields(cls))
        and sorted(names) == sorted(attributes)
    )
    if not direct:
        return call
    new = object.__new__

    def build(kwargs: Dict[str, Any]) -> Any:
        obj = new(cls)
        obj.__dict__.update(kwargs)
        return obj

    return build


_COMPILED: Dict[Any, Optional[Callable[[Dict[str, Any]], Any]]] = {}
_COMPILE_LOCK = threading.RLock()


def _compiled(schema_cls: Type[marshmallow.Schema]) -> Optional[Callable[[Dict[str, Any]], Any]]:
    """The fast loader of one object of ``schema_cls`` (cached), or None when
    the schema cannot have one; it raises :class:`_Fallback` when the payload
    must go through marshmallow."""
    try:
        return _COMPILED[schema_cls]
    except KeyError:
        pass
    with _COMPILE_LOCK:  # one compilation at a time: a nested schema is never seen half-compiled
        if schema_cls in _COMPILED:
            return _COMPILED[schema_cls]
        _COMPILED[schema_cls] = None  # a schema nested in itself takes marshmallow's road
        loader = _compile(schema_cls)
        _COMPILED[schema_cls] = loader
        return loader


def _compile(schema_cls: Type[marshmallow.Schema]) -> Optional[Callable[[Dict[str, Any]], Any]]:
    if not (isinstance(schema_cls, type) and issubclass(schema_cls, BaseSchema)):
        return None
    model = schema_cls.__model__
    if model is None:
        return None
    for name in dir(schema_cls):  # the only hook allowed is BaseSchema's post_load
        hook = getattr(getattr(schema_cls, name, None), "__marshmallow_hook__", None)
        if hook and getattr(schema_cls, name) is not BaseSchema.__dict__["_make_object"]:
            return None
    schema = _schema(schema_cls, False)
    if schema.unknown != EXCLUDE:
        return None
    steps: Dict[str, _Step] = {}
    for attr, field in schema.load_fields.items():
        converter = _converter_for(field)
        if converter is None or "." in attr:
            return None
        default = field.load_default
        if default is marshmallow.missing:
            default = _ABSENT
        elif callable(default):
            return None
        key = field.data_key if field.data_key is not None else attr
        steps[attr] = (key, attr, converter, bool(field.required), default, bool(field.allow_none))
    names = [f.name for f in dataclasses.fields(model)] if dataclasses.is_dataclass(model) else []
    build = _model_builder(model, list(steps))
    plan: Tuple[_Step, ...] = tuple(steps[n] for n in names if n in steps) + tuple(
        step for attr, step in steps.items() if attr not in names
    )

    return _generate_loader(schema_cls.__name__, plan, build)


#: Converters written out in the generated loader instead of being called.
_INLINE_CHECKS: Dict[Any, str] = {
    _to_str: "type(value) is not str",
    _to_int: "type(value) is not int",
    _to_bool: "value is not True and value is not False",
}


def _generate_loader(
    name: str, plan: Tuple[_Step, ...], build: Callable[[Dict[str, Any]], Any]
) -> Callable[[Dict[str, Any]], Any]:
    """The plan written out as one straight function (no loop over the steps,
    no call for a ``str``, ``int`` or ``bool`` field): the same decisions as walking the
    plan, at about half the cost per field.  Only names go into the source;
    every value (key, attribute, converter, default) is bound in its namespace."""
    namespace: Dict[str, Any] = {"_ABSENT": _ABSENT, "_Fallback": _Fallback, "build": build, "str": str, "int": int}
    lines = ["def load_one(data):", "    kwargs = {}", "    get = data.get"]
    for index, (key, attr, convert, required, default, allow_none) in enumerate(plan):
        k, a, c, d = f"k{index}", f"a{index}", f"c{index}", f"d{index}"
        namespace.update({k: key, a: attr, c: convert, d: default})
        lines.append(f"    value = get({k}, _ABSENT)")
        lines.append("    if value is _ABSENT:")
        if required:
            lines.append("        raise _Fallback")
        elif default is not _ABSENT:
            lines.append(f"        kwargs[{a}] = {d}")
        else:
            lines.append("        pass")
        lines.append("    elif value is None:")
        lines.append(f"        kwargs[{a}] = None" if allow_none else "        raise _Fallback")
        lines.append("    else:")
        refused = _INLINE_CHECKS.get(convert)
        if refused is not None:
            lines.append(f"        if {refused}:")
            lines.append("            raise _Fallback")
            lines.append(f"        kwargs[{a}] = value")
        else:
            lines.append(f"        kwargs[{a}] = {c}(value)")
    lines.append("    return build(kwargs)")
    exec(compile("\n".join(lines), f"<avatars fast loader of {name}>", "exec"), namespace)
    loader: Callable[[Dict[str, Any]], Any] = namespace["load_one"]
    return loader


#: The name :mod:`avatars.schemas` uses.
compiled = _compiled
