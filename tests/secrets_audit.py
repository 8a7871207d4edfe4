"""Audit of the whole test run for leaked secrets.

While the suite runs, this records:

* every log line of the ``avatars`` and ``urllib3`` loggers, at DEBUG;
* every :class:`avatars.AvatarError` created (its ``str`` and ``repr``);
* the objects that hold secrets (clients, auth objects, tokens, configs,
  login responses, storage credentials, users and keys made by the local
  server), to ``repr`` them at the end;
* every secret that went through the library: passwords given to login or
  to the local server, access and refresh tokens, API keys, storage
  credentials.

``test_secrets_audit.py`` (moved to the end of the run by ``conftest.py``)
then checks that no secret appears in any of those texts.  Recording is
observation only: each wrapped method calls the original and returns its
result unchanged.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from typing import Any, Callable, Dict, Iterable, List, Optional, Set, Tuple

#: Shorter values are test placeholders ("k", "access-1") that would match by accident.
MIN_SECRET_LENGTH = 10


class _Capture(logging.Handler):
    def __init__(self, sink: List[str]) -> None:
        super().__init__(logging.DEBUG)
        self.sink = sink
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.sink.append(self.format(record))
        except Exception:  # a broken record must not break the suite
            self.sink.append(f"<unformattable record from {record.name}>")


class SecretsAudit:
    def __init__(self) -> None:
        self.secrets: Set[str] = set()
        self.log_lines: List[str] = []
        self.errors: List[BaseException] = []
        self.holders: List[Any] = []
        self._undo: List[Callable[[], None]] = []
        self._levels: Dict[str, int] = {}
        self._handler = _Capture(self.log_lines)
        self.installed = False

    # ------------------------------------------------------------------ recording

    def add_secret(self, *values: Any) -> None:
        for value in values:
            if isinstance(value, str) and len(value) >= MIN_SECRET_LENGTH:
                self.secrets.add(value)

    def _wrap(self, owner: Any, name: str, after: Callable[..., None]) -> None:
        original = owner.__dict__[name]

        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            try:
                after(result, *args, **kwargs)
            except Exception:  # observation must never change behaviour
                pass
            return result

        setattr(owner, name, wrapper)
        self._undo.append(lambda: setattr(owner, name, original))

    def install(self) -> None:
        if self.installed:
            return
        self.installed = True
        for name in ("avatars", "urllib3"):
            logger = logging.getLogger(name)
            self._levels[name] = logger.level
            logger.setLevel(logging.DEBUG)
            logger.addHandler(self._handler)

        from avatars import auth, client, config, errors, models, schemas
        from avatars.resources import auth as auth_facade

        def holder(result: Any, obj: Any, *args: Any, **kwargs: Any) -> None:
            self.holders.append(obj)

        def error(result: Any, obj: Any, *args: Any, **kwargs: Any) -> None:
            self.errors.append(obj)

        def tokens(result: Any, obj: Any, *args: Any, **kwargs: Any) -> None:
            self.holders.append(obj)
            self.add_secret(obj.access, obj.refresh)

        def api_key(result: Any, obj: Any, key: Any = None, *args: Any, **kwargs: Any) -> None:
            self.holders.append(obj)
            self.add_secret(key)

        def login(result: Any, obj: Any, username: Any, password: Any, *args: Any, **kwargs: Any) -> None:
            self.add_secret(password)
            self.add_secret(getattr(result, "access_token", None), getattr(result, "refresh_token", None))

        def fields(*names: str) -> Callable[..., None]:
            def record(result: Any, obj: Any, *args: Any, **kwargs: Any) -> None:
                self.holders.append(obj)
                self.add_secret(*(getattr(obj, n, None) for n in names))

            return record

        self._wrap(errors.AvatarError, "__init__", error)
        self._wrap(auth.AuthTokens, "__init__", tokens)
        self._wrap(auth.AuthTokens, "update", tokens)
        self._wrap(auth.ApiKeyAuth, "__init__", api_key)
        self._wrap(auth.TokenAuth, "__init__", holder)
        self._wrap(client.ApiClient, "__init__", holder)
        self._wrap(config.ClientConfig, "__init__", fields("api_key"))
        self._wrap(auth_facade.Auth, "login", login)
        # The library's seam for loaded objects: every response object comes out
        # of schemas.load / load_many (the fast path builds dataclasses without
        # calling their __init__, so the models themselves are not wrapped).
        secret_fields: Dict[type, Tuple[str, ...]] = {
            models.LoginResponse: ("access_token", "refresh_token"),
            models.FileCredentials: ("access_key_id", "secret_access_key"),
            models.ApiKeyWithPlaintext: ("plaintext",),
        }

        def walk(obj: Any, depth: int = 0) -> None:
            if depth > 4 or obj is None:
                return
            if isinstance(obj, (list, tuple)):
                for item in obj:
                    walk(item, depth + 1)
                return
            names = secret_fields.get(type(obj))
            if names is not None:
                fields(*names)(None, obj)
            if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
                for f in dataclasses.fields(obj):
                    walk(getattr(obj, f.name, None), depth + 1)

        def loaded(result: Any, *args: Any, **kwargs: Any) -> None:
            walk(result)

        self._wrap(schemas, "load", loaded)
        self._wrap(schemas, "load_many", loaded)
        try:
            from avatars.testing import admin as server_admin
        except ImportError:  # the server extra is not installed
            return

        def created_user(result: Any, *args: Any, **kwargs: Any) -> None:
            self.holders.append(result)
            self.add_secret(getattr(result, "password", None))

        def plaintext(result: Any, *args: Any, **kwargs: Any) -> None:
            self.add_secret(result if isinstance(result, str) else getattr(result, "plaintext", None))
            if not isinstance(result, str):
                self.holders.append(result)

        def pair(result: Any, *args: Any, **kwargs: Any) -> None:
            if isinstance(result, tuple):
                self.add_secret(*result)

        def string(result: Any, *args: Any, **kwargs: Any) -> None:
            self.add_secret(result)

        self._wrap(server_admin.ServerAdmin, "create_user", created_user)
        self._wrap(server_admin.ServerAdmin, "set_password", lambda r, obj, user, password: self.add_secret(password))
        self._wrap(server_admin.ServerAdmin, "create_api_key", plaintext)
        self._wrap(server_admin.ServerAdmin, "issue_api_key", plaintext)
        self._wrap(server_admin.ServerAdmin, "issue_tokens", pair)
        self._wrap(server_admin.ServerAdmin, "make_access_token", string)

    def uninstall(self) -> None:
        while self._undo:
            self._undo.pop()()
        for name, level in self._levels.items():
            logger = logging.getLogger(name)
            logger.removeHandler(self._handler)
            logger.setLevel(level)
        self._levels.clear()
        self.installed = False

    # ------------------------------------------------------------------ checking

    def texts(self) -> Iterable[Tuple[str, str]]:
        for line in self.log_lines:
            yield "log", line
        for exc in self.errors:
            yield f"{type(exc).__name__} str", _safe(str, exc)
            yield f"{type(exc).__name__} repr", _safe(repr, exc)
            for text in reachable_texts(exc):
                yield f"{type(exc).__name__} reachable", text
        for obj in self.holders:
            yield f"{type(obj).__name__} repr", _safe(repr, obj)
            yield f"{type(obj).__name__} str", _safe(str, obj)

    def leaks(self, limit: int = 20) -> List[str]:
        """``["<where>: <excerpt>"]`` for each text that contains a secret."""
        found: List[str] = []
        by_kind: Dict[str, List[str]] = {}
        for kind, text in self.texts():
            by_kind.setdefault(kind.split(" ")[0] if kind != "log" else "log", []).append(text)
        blobs = {kind: "\n".join(texts) for kind, texts in by_kind.items()}
        for secret in sorted(self.secrets):
            for kind, blob in blobs.items():
                index = blob.find(secret)
                if index != -1:
                    start = blob.rfind("\n", 0, index) + 1
                    end = blob.find("\n", index)
                    line = blob[start : end if end != -1 else len(blob)]
                    masked = line.replace(secret, f"<SECRET {secret[:3]}...>")
                    found.append(f"{kind}: {masked[:300]}")
                    if len(found) >= limit:
                        return found
        return found


def reachable_texts(exc: BaseException, limit: int = 50) -> List[str]:
    """What an error object keeps reachable, as text: its ``__context__`` and
    ``__cause__`` chain, its ``response`` and ``request``, and the headers and
    body of every request of those responses and of their history."""
    texts: List[str] = []
    seen: Set[int] = set()
    todo: List[Any] = [exc]
    while todo and len(seen) < limit:
        item = todo.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, BaseException):
            texts.append(_safe(repr, item))
            todo += [item.__context__, item.__cause__, getattr(item, "response", None), getattr(item, "request", None)]
            todo += [a for a in item.args if isinstance(a, BaseException)]
        elif hasattr(item, "history") and hasattr(item, "status_code"):  # a requests.Response
            todo += [getattr(item, "request", None), *list(getattr(item, "history", []) or [])]
        elif hasattr(item, "headers") and hasattr(item, "body"):  # a requests.PreparedRequest
            texts.append(_safe(repr, dict(item.headers or {})))
            body = item.body
            texts.append(body.decode("latin-1") if isinstance(body, bytes) else _safe(repr, body))
    return texts


def _safe(fn: Callable[[Any], str], obj: Any) -> str:
    try:
        return fn(obj)
    except Exception as exc:
        return f"<{fn.__name__} failed: {type(exc).__name__}>"


AUDIT: Optional[SecretsAudit] = None


def get_audit() -> SecretsAudit:
    global AUDIT
    if AUDIT is None:
        AUDIT = SecretsAudit()
    return AUDIT
