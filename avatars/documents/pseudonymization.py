"""How a column is pseudonymized: the strategies of ``set_parameters(pseudonymized_columns=...)``.

::

    from avatars import ConstantStrategy, FakeDataStrategy, PiiType

    runner.set_parameters(
        "patients",
        k=10,
        pseudonymized_columns={"email": FakeDataStrategy(PiiType.EMAIL), "notes": ConstantStrategy("-")},
    )

Each strategy is written in the column's ``AvatarSchema`` entry as a mapping
whose ``kind`` names it (``FAKER``, ``HASH_SHA256``, ``UUID4``, ``CONSTANT``,
``INTEGER``, ``SPECIFIC_ID``), next to its settings, with the names and values
of the platform's documents.  A plain mapping of that shape is accepted too,
and so is any dataclass carrying a ``kind`` (the platform SDK's own
strategy objects).  This module imports nothing beyond the standard library.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any, Dict, Mapping

__all__ = [
    "PiiType",
    "SpecificIdLetterCase",
    "FakeDataStrategy",
    "HashSha256Strategy",
    "Uuid4Strategy",
    "ConstantStrategy",
    "IntegerStrategy",
    "SpecificIdStrategy",
    "strategy_document",
]


class PiiType(str, enum.Enum):
    """What kind of realistic value :class:`FakeDataStrategy` makes up."""

    EMAIL = "EMAIL"
    FIRST_NAME = "FIRST_NAME"
    LAST_NAME = "LAST_NAME"
    FULL_NAME = "FULL_NAME"
    PHONE = "PHONE"
    SSN = "SSN"
    ADDRESS = "ADDRESS"
    FREE_TEXT = "FREE_TEXT"


class SpecificIdLetterCase(str, enum.Enum):
    """The case of the letters a :class:`SpecificIdStrategy` pattern's ``?`` stands for."""

    UPPER = "upper"
    LOWER = "lower"
    BOTH = "both"


@dataclasses.dataclass(frozen=True)
class FakeDataStrategy:
    """Replace each value with a made-up value of the kind ``pii_type`` (an email
    stays an email).  ``consistent``: one source value, one replacement;
    ``high_variability``: draw each value on its own instead of from a pool."""

    pii_type: PiiType
    consistent: bool = True
    high_variability: bool = False
    kind: str = dataclasses.field(default="FAKER", init=False)


@dataclasses.dataclass(frozen=True)
class HashSha256Strategy:
    """Replace each value with its SHA-256 hex digest (the same value always gives
    the same digest; a small set of values can be recovered by trying them all)."""

    kind: str = dataclasses.field(default="HASH_SHA256", init=False)


@dataclasses.dataclass(frozen=True)
class Uuid4Strategy:
    """Replace each value with a random UUID (``consistent``: the same one for the same value)."""

    consistent: bool = True
    kind: str = dataclasses.field(default="UUID4", init=False)


@dataclasses.dataclass(frozen=True)
class ConstantStrategy:
    """Replace every value of the column with ``value``."""

    value: str
    kind: str = dataclasses.field(default="CONSTANT", init=False)


@dataclasses.dataclass(frozen=True)
class IntegerStrategy:
    """Replace each value with a random integer (``consistent``: the same one for the same value)."""

    consistent: bool = True
    kind: str = dataclasses.field(default="INTEGER", init=False)


@dataclasses.dataclass(frozen=True)
class SpecificIdStrategy:
    """Replace each value with an identifier shaped by ``pattern``: ``?`` a letter
    (in ``letter_case``), ``#`` a digit, ``^`` a letter or digit, ``{{column}}``
    another column's (pseudonymized) value, anything else as written."""

    pattern: str
    letter_case: SpecificIdLetterCase = SpecificIdLetterCase.BOTH
    consistent: bool = True
    kind: str = dataclasses.field(default="SPECIFIC_ID", init=False)


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def strategy_document(strategy: Any) -> Dict[str, Any]:
    """The column entry's ``pseudonymization`` mapping of ``strategy``: one of the
    classes above (or any dataclass with a ``kind``), or a mapping already in
    the document's shape.  Anything else raises :class:`TypeError`."""
    if isinstance(strategy, Mapping):
        return {str(key): _plain(value) for key, value in strategy.items()}
    if dataclasses.is_dataclass(strategy) and not isinstance(strategy, type) and hasattr(strategy, "kind"):
        return {f.name: _plain(getattr(strategy, f.name)) for f in dataclasses.fields(strategy)}
    raise TypeError(f"a pseudonymization strategy (such as HashSha256Strategy()), got {type(strategy).__name__}")
