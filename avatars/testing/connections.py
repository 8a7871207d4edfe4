"""Named database connections of the local server (platform API 3.x ``/connections``).

A registry of connections per scope:

* ``deployment``: declared by whoever runs the server (:meth:`ConnectionRegistry.declare`);
  every user sees them; an organization admin may take one out of use for their
  own organization (:meth:`ConnectionRegistry.hide`), nobody may change one.
* ``organization``: one organization's, stored and changed by its admins.
* ``user``: one user's own, invisible to everybody else.

A name resolves to the most specific connection the caller can use (their
own, then their organization's, then the deployment's).

The connection string (DSN) is write-only: it is kept in memory only (never
written to the data directory, never in a ``repr``), and every answer carries
its :func:`redact`-ed form instead. Engines: ``sqlite`` is opened for real
(stdlib :mod:`sqlite3`, read-only); the others the platform knows are
described with ``available: False`` and probe to a clear error.

The deployment offers one ``demo`` preset: a small SQLite database that the
server writes in its data directory the first time somebody adds it.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Set, Tuple
from urllib.parse import quote, unquote, urlsplit

from ..models import ConnectionField
from ._util import new_id

SCOPE_DEPLOYMENT = "deployment"
SCOPE_ORGANIZATION = "organization"
SCOPE_USER = "user"
SCOPES = (SCOPE_DEPLOYMENT, SCOPE_ORGANIZATION, SCOPE_USER)
PRESET_KINDS = ("demo", "sample")

#: A connection name: one path segment, 1-64 characters.
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
#: Names that are fixed paths under ``/connections``.
RESERVED_NAMES = frozenset({"engines", "presets", "test"})
MAX_LABEL = 200
#: ``POST /connections/{name}/sample``: at most this many tables, values per column.
MAX_SAMPLE_TABLES = 10
MAX_SAMPLE_LIMIT = 20
DEFAULT_SAMPLE_LIMIT = 5
MAX_SAMPLE_COLUMNS = 50


# -- engines -------------------------------------------------------------------------


@dataclass(frozen=True)
class Engine:
    engine: str
    label: str
    kind: str  # "sql" or "documents"
    available: bool
    schemes: Tuple[str, ...]
    fields: Tuple[ConnectionField, ...]
    preview: bool = False

    def to_json(self) -> Dict[str, Any]:
        return {
            "engine": self.engine,
            "label": self.label,
            "kind": self.kind,
            "available": self.available,
            "preview": self.preview,
            "fields": [asdict(f) for f in self.fields],
        }


def _server_fields(port: str, database_label: str) -> Tuple[ConnectionField, ...]:
    return (
        ConnectionField("host", "Host", required=True, placeholder="db.example.com"),
        ConnectionField("port", "Port", type="number", default=port),
        ConnectionField("database", database_label, required=True),
        ConnectionField("user", "User", required=True),
        ConnectionField("password", "Password", secret=True),
    )


ENGINES: Dict[str, Engine] = {
    "sqlite": Engine(
        "sqlite",
        "SQLite",
        "sql",
        True,
        ("sqlite",),
        (
            ConnectionField(
                "path", "Database file (absolute path on the server)", required=True, placeholder="/data/db.sqlite"
            ),
        ),
    ),
    "postgresql": Engine(
        "postgresql",
        "PostgreSQL",
        "sql",
        False,
        ("postgresql", "postgres"),
        _server_fields("5432", "Database")
        + (
            ConnectionField(
                "sslmode",
                "SSL mode",
                type="select",
                default="prefer",
                options=[{"value": v, "label": v.capitalize()} for v in ("disable", "prefer", "require")],
                advanced=True,
            ),
        ),
    ),
    "mysql": Engine("mysql", "MySQL", "sql", False, ("mysql",), _server_fields("3306", "Database")),
    "mongodb": Engine(
        "mongodb", "MongoDB", "documents", False, ("mongodb", "mongodb+srv"), _server_fields("27017", "Database")
    ),
}


def engine_unavailable(engine: str) -> str:
    return f"the {engine} engine is not available on this server (only sqlite is)"


# -- connection strings ------------------------------------------------------------------


class DsnError(ValueError):
    """A connection string that cannot be used; the message never holds the string."""


def dsn_scheme(dsn: str) -> str:
    """The engine family of ``dsn`` (``postgresql+psycopg`` -> ``postgresql``); raises :class:`DsnError`."""
    match = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)://", dsn)
    if match is None:
        raise DsnError("not a valid connection string (expected scheme://...)")
    scheme = match.group(1).lower()
    if scheme == "mongodb+srv":
        return scheme
    return scheme.split("+", 1)[0]


def sqlite_path(dsn: str) -> str:
    """The database file of a ``sqlite:///<absolute path>`` DSN; raises :class:`DsnError`."""
    rest = dsn.split("://", 1)[1] if "://" in dsn else ""
    if not rest.startswith("/"):
        raise DsnError("a sqlite connection string names no host: sqlite:///<absolute path>")
    path = unquote(rest[1:].split("?", 1)[0])
    if not path.startswith("/") or "\x00" in path:
        raise DsnError("a sqlite connection string needs an absolute file path: sqlite:////path/to/db")
    return path


def check_dsn(dsn: str, engine: Engine) -> None:
    """Raise :class:`DsnError` unless ``dsn`` parses and its scheme is ``engine``'s."""
    scheme = dsn_scheme(dsn)
    if scheme not in engine.schemes:
        raise DsnError(f"the connection string's scheme is not the engine's (expected {engine.schemes[0]}://)")
    if engine.engine == "sqlite":
        sqlite_path(dsn)
        return
    try:
        parts = urlsplit(dsn)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise DsnError("not a valid connection string (bad host or port)") from None
    if not parts.hostname:
        raise DsnError("the connection string names no host")


def dsn_from_fields(engine: Engine, values: Dict[str, str]) -> Tuple[Optional[str], List[str]]:
    """A DSN built from the form's ``values``, or the keys of the missing required fields."""
    missing = [f.key for f in engine.fields if f.required and not values.get(f.key)]
    if missing:
        return None, missing
    if engine.engine == "sqlite":
        return "sqlite:///" + quote(values["path"], safe="/"), []
    port = values.get("port") or next((f.default for f in engine.fields if f.key == "port"), None)
    user = quote(values["user"], safe="")
    password = values.get("password")
    credentials = f"{user}:{quote(password, safe='')}@" if password else f"{user}@"
    dsn = f"{engine.schemes[0]}://{credentials}{values['host']}"
    if port:
        dsn += f":{port}"
    dsn += "/" + quote(values["database"], safe="")
    if values.get("sslmode"):
        dsn += "?sslmode=" + quote(values["sslmode"], safe="")
    return dsn, []


def redact(dsn: str) -> str:
    """The display form of ``dsn``: no password, no query (``scheme://user:***@host:port/db``)."""
    try:
        scheme = dsn_scheme(dsn)
    except DsnError:
        return "***"
    if scheme == "sqlite":
        try:
            return "sqlite:///" + sqlite_path(dsn)
        except DsnError:
            return "sqlite:///***"
    try:
        parts = urlsplit(dsn)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        user = parts.username
    except ValueError:
        return f"{scheme}://***"
    who = ""
    if user is not None:
        who = f"{user}:***@" if parts.password is not None else f"{user}@"
    return f"{parts.scheme}://{who}{host}{port}{parts.path}"


def scrub(message: str, dsn: str) -> str:
    """``message`` without ``dsn`` or its password (for errors from a driver)."""
    out = message.replace(dsn, redact(dsn))
    try:
        password = urlsplit(dsn).password
    except ValueError:
        password = None
    if password:
        out = out.replace(password, "***").replace(quote(password, safe=""), "***")
    return out


# -- the registry ------------------------------------------------------------------------


@dataclass
class Connection:
    """One stored connection; ``dsn`` is never shown (not in ``repr``, not in :meth:`summary`)."""

    id: str
    name: str
    engine: str
    scope: str
    owner: str  # organization id, user id, or "" for the deployment
    label: Optional[str] = None
    dsn: str = field(default="", repr=False)

    def summary(self) -> Dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "engine": self.engine,
            "scope": self.scope,
            "redacted": redact(self.dsn),
        }

    def capability(self) -> Dict[str, Any]:
        return {"name": self.name, "label": self.label, "engine": self.engine, "scope": self.scope}


@dataclass(frozen=True)
class Preset:
    name: str
    label: str
    engine: str
    kind: str

    def to_json(self) -> Dict[str, Any]:
        return {"name": self.name, "label": self.label, "engine": self.engine, "kind": self.kind}


#: What the deployment offers to add (``GET /connections/presets``).
PRESETS: Tuple[Preset, ...] = (Preset("demo", "Demo database (SQLite: patients and their visits)", "sqlite", "demo"),)
DEMO_FILE = "demo.sqlite"


def _order(connection: Connection) -> Tuple[int, str]:
    return (SCOPES.index(connection.scope), connection.name)


class ConnectionRegistry:
    """Every stored connection, in memory, behind one lock."""

    def __init__(self, root: Optional[Path] = None) -> None:
        self._lock = threading.RLock()
        self._items: List[Connection] = []
        #: deployment connection names an organization took out of use
        self._hidden: Dict[str, Set[str]] = {}
        self.root = root

    def __repr__(self) -> str:
        with self._lock:
            return f"ConnectionRegistry({len(self._items)} connections)"

    @property
    def lock(self) -> threading.RLock:
        """Held by a handler across "is the name free?" and the change that uses the answer."""
        return self._lock

    # -- reading --------------------------------------------------------------------

    def visible(self, user_id: str, organization_id: str) -> List[Connection]:
        """What the caller can use: the deployment's, their organization's, their own."""
        with self._lock:
            hidden = self._hidden.get(organization_id, set())
            out = [
                c
                for c in self._items
                if (c.scope == SCOPE_DEPLOYMENT and c.name not in hidden)
                or (c.scope == SCOPE_ORGANIZATION and c.owner == organization_id)
                or (c.scope == SCOPE_USER and c.owner == user_id)
            ]
        return sorted(out, key=_order)

    def resolve(self, user_id: str, organization_id: str, name: str) -> Optional[Connection]:
        """The most specific connection called ``name`` the caller can use, or None."""
        mine = [c for c in self.visible(user_id, organization_id) if c.name == name]
        if not mine:
            return None
        return max(mine, key=lambda c: SCOPES.index(c.scope))

    def find(self, scope: str, owner: str, name: str) -> Optional[Connection]:
        with self._lock:
            return next((c for c in self._items if (c.scope, c.owner, c.name) == (scope, owner, name)), None)

    # -- changing (the caller checked who may) ----------------------------------------------

    def declare(self, name: str, engine: str, dsn: str, label: Optional[str] = None) -> Connection:
        """A deployment connection (what the platform reads from its configuration)."""
        if engine not in ENGINES:
            raise ValueError(f"unknown engine {engine!r}")
        check_dsn(dsn, ENGINES[engine])
        return self.store(SCOPE_DEPLOYMENT, "", name, engine, dsn, label)[0]

    def store(
        self, scope: str, owner: str, name: str, engine: str, dsn: str, label: Optional[str]
    ) -> Tuple[Connection, bool]:
        """Store or replace whole; returns the connection and whether it is new."""
        with self._lock:
            existing = self.find(scope, owner, name)
            if existing is not None:
                existing.engine, existing.dsn, existing.label = engine, dsn, label
                return existing, False
            connection = Connection(new_id(), name, engine, scope, owner, label, dsn)
            self._items.append(connection)
            return connection, True

    def remove(self, connection: Connection) -> None:
        with self._lock:
            self._items = [c for c in self._items if c is not connection]

    def hide(self, organization_id: str, name: str) -> None:
        with self._lock:
            self._hidden.setdefault(organization_id, set()).add(name)

    # -- presets -----------------------------------------------------------------------

    def demo_dsn(self) -> str:
        """The demo database's DSN (the file is written on first use)."""
        if self.root is None:
            raise RuntimeError("this registry has no data directory for the demo database")
        with self._lock:
            folder = self.root / "connections"
            path = folder / DEMO_FILE
            if not path.exists():
                folder.mkdir(parents=True, exist_ok=True)
                write_demo_database(path)
        return "sqlite:///" + quote(str(path.resolve()), safe="/")

    def preset_dsn(self, preset: Preset) -> str:
        return self.demo_dsn()


def write_demo_database(path: Path) -> None:
    """Two linked tables, deterministic: ``patients`` (20 rows) and ``visits`` (40 rows)."""
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    db = sqlite3.connect(str(partial))
    try:
        db.execute("CREATE TABLE patients (patient_id INTEGER PRIMARY KEY, age INTEGER, sex TEXT, city TEXT)")
        db.execute(
            "CREATE TABLE visits (visit_id INTEGER PRIMARY KEY, patient_id INTEGER REFERENCES patients(patient_id),"
            " visit_date TEXT, diagnosis TEXT)"
        )
        cities = ("Paris", "Lyon", "Nantes", "Lille")
        db.executemany(
            "INSERT INTO patients VALUES (?, ?, ?, ?)",
            [(1000 + i, 20 + (i * 7) % 60, "F" if i % 2 else "M", cities[i % 4]) for i in range(1, 21)],
        )
        diagnoses = ("flu", "checkup", "fracture", "asthma", None)
        db.executemany(
            "INSERT INTO visits VALUES (?, ?, ?, ?)",
            [
                (i, 1000 + 1 + (i * 3) % 20, f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}", diagnoses[i % 5])
                for i in range(1, 41)
            ],
        )
        db.commit()
    finally:
        db.close()
    partial.replace(path)


# -- opening (sqlite only) ----------------------------------------------------------------


def _open_sqlite(dsn: str) -> sqlite3.Connection:
    path = sqlite_path(dsn)
    if not Path(path).is_file():
        raise DsnError("the database file does not exist on the server")
    db = sqlite3.connect(f"file:{quote(path, safe='/')}?mode=ro", uri=True, timeout=5)
    return db


def _quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _tables(db: sqlite3.Connection) -> List[str]:
    rows = db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
    return [str(row[0]) for row in rows]


def probe(connection_engine: str, dsn: str) -> Dict[str, Any]:
    """A ``ConnectionProbe``: what opening the database found (never the DSN)."""
    engine = ENGINES.get(connection_engine)
    if engine is None or not engine.available:
        return {"reachable": False, "engine": connection_engine, "error": engine_unavailable(connection_engine)}
    try:
        db = _open_sqlite(dsn)
        try:
            tables = _tables(db)
            empty = all(db.execute(f"SELECT 1 FROM {_quote_identifier(t)} LIMIT 1").fetchone() is None for t in tables)
        finally:
            db.close()
    except (DsnError, sqlite3.Error) as exc:
        return {"reachable": False, "engine": engine.engine, "error": scrub(f"cannot open the database: {exc}", dsn)}
    return {
        "reachable": True,
        "engine": engine.engine,
        "has_schema": bool(tables),
        "is_empty": empty,
        "table_count": len(tables),
        "error": None,
    }


def sample(connection_engine: str, dsn: str, columns: Dict[str, List[str]], limit: int) -> Dict[str, Any]:
    """A ``ConnectionSample``: up to ``limit`` values of each asked column; absent ones in ``missing``."""
    engine = ENGINES.get(connection_engine)
    if engine is None or not engine.available:
        return {"samples": None, "missing": None, "error": engine_unavailable(connection_engine)}
    samples: Dict[str, Dict[str, List[Optional[str]]]] = {}
    missing: List[str] = []
    try:
        db = _open_sqlite(dsn)
        try:
            tables = set(_tables(db))
            for table, wanted in columns.items():
                if table not in tables:
                    missing.append(table)
                    continue
                present = {str(row[1]) for row in db.execute(f"PRAGMA table_info({_quote_identifier(table)})")}
                values: Dict[str, List[Optional[str]]] = {}
                for column in wanted:
                    if column not in present:
                        missing.append(f"{table}.{column}")
                        continue
                    query = f"SELECT {_quote_identifier(column)} FROM {_quote_identifier(table)} LIMIT ?"
                    values[column] = [None if row[0] is None else str(row[0]) for row in db.execute(query, (limit,))]
                samples[table] = values
        finally:
            db.close()
    except (DsnError, sqlite3.Error) as exc:
        return {"samples": None, "missing": None, "error": scrub(f"cannot open the database: {exc}", dsn)}
    return {"samples": samples, "missing": missing, "error": None}


__all__ = [
    "ENGINES",
    "PRESETS",
    "SCOPES",
    "Connection",
    "ConnectionRegistry",
    "DsnError",
    "check_dsn",
    "dsn_from_fields",
    "probe",
    "redact",
    "sample",
]
