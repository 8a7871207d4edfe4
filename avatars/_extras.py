"""Optional features and the extras that bring them (``pip install 'avatar-anonymization-client[server]'``)."""

from __future__ import annotations

from ._version import DISTRIBUTION

__all__ = ["SERVER_MODULES", "is_missing_server_extra", "server_extra_message"]

#: The top-level modules of the ``server`` extra (werkzeug, PyYAML).
SERVER_MODULES = frozenset({"werkzeug", "yaml"})


def is_missing_server_extra(exc: ImportError) -> bool:
    """True when ``exc`` is a module of the ``server`` extra that is not installed
    (and not some other import problem, which must stay visible as it is)."""
    return (exc.name or "").split(".")[0] in SERVER_MODULES


def server_extra_message(what: str, exc: ImportError) -> str:
    """One line telling what to install."""
    return (
        f"{what} needs the 'server' extra, which is not installed (no module named {exc.name!r}): "
        f"pip install '{DISTRIBUTION}[server]'"
    )
