"""Client configuration: explicit values, or read from the environment.

One rule for every entry point (:class:`~avatars.ApiClient`,
:class:`~avatars.Manager`, the ``avatars`` command), setting by setting: an
explicit value wins; otherwise the environment variable below; otherwise the
default.  A :class:`ClientConfig` built directly reads nothing from the
environment.  The environment names are the ones the platform's own client
reads, plus the username and password:

``AVATAR_BASE_API_URL``
    The API URL, ending in ``/api`` (``https://avatar.example.com/api``).
``AVATAR_BASE_URL``
    The server root; ``/api`` is appended. Setting both is an error.
``AVATAR_API_KEY``
    An API key (``Authorization: api-key-v1 <key>``).
``AVATAR_TIMEOUT``
    Seconds, for both connect and read (``30``), or ``connect,read`` (``5,120``).
``AVATAR_SHOULD_VERIFY_SSL``
    ``true``/``false`` (also ``1``/``0``, ``yes``/``no``, ``on``/``off``), or the
    path of a CA bundle file.
``AVATAR_USERNAME`` and ``AVATAR_PASSWORD``
    Used by :meth:`ApiClient.authenticate() <avatars.ApiClient.authenticate>`
    when it is called without them.  An API key wins over them.
``AVATAR_STORAGE_ENDPOINT_URL``
    The object store (default: the base URL with its final ``/api`` replaced
    by ``/storage``).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, replace
from typing import Mapping, Optional, Tuple, Union
from urllib.parse import urlsplit

from .errors import ConfigurationError


def check_total_timeout(value: object, *, name: str = "total_timeout") -> float:
    """A usable whole-call budget: a finite, positive number of seconds."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigurationError(f"{name} must be a number of seconds, got {type(value).__name__}")
    if not math.isfinite(value) or value <= 0:
        raise ConfigurationError(f"{name} must be a finite, positive number of seconds, got {value!r}")
    return float(value)


__all__ = [
    "ClientConfig",
    "Timeout",
    "DEFAULT_TIMEOUT",
    "NO_TIMEOUT",
    "normalize_base_url",
    "normalize_storage_url",
    "normalize_timeout",
    "ENV_NAMES",
]

#: Every environment variable the configuration reads.
ENV_NAMES = (
    "AVATAR_BASE_API_URL",
    "AVATAR_BASE_URL",
    "AVATAR_API_KEY",
    "AVATAR_TIMEOUT",
    "AVATAR_SHOULD_VERIFY_SSL",
    "AVATAR_USERNAME",
    "AVATAR_PASSWORD",
)

#: A timeout: seconds for both phases, or ``(connect, read)`` seconds.
Timeout = Union[float, Tuple[float, float]]

#: Connect within 10 s; wait at most 60 s between bytes of an answer.
DEFAULT_TIMEOUT: Tuple[float, float] = (10.0, 60.0)


class _NoTimeout:
    """Sentinel: pass ``timeout=NO_TIMEOUT`` to wait forever (``timeout=None``
    means "use the client's default")."""

    _instance: Optional[_NoTimeout] = None

    def __new__(cls) -> _NoTimeout:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NO_TIMEOUT"

    def __reduce__(self) -> str:
        return "NO_TIMEOUT"


#: Opt out of any timeout for one call (``timeout=NO_TIMEOUT``).
NO_TIMEOUT = _NoTimeout()

_TRUE = {"1", "true", "yes", "on", "y", "t"}
_FALSE = {"0", "false", "no", "off", "n", "f"}


def normalize_base_url(url: object, *, name: str = "base_url") -> str:
    """Check and normalise an API base URL (``scheme://host[:port]/.../api``)."""
    if not isinstance(url, str):
        raise ConfigurationError(f"{name} must be a string, got {type(url).__name__}")
    value = url.strip()
    if not value:
        raise ConfigurationError(f"{name} is empty")
    if value[0] in "\"'" or value[-1] in "\"'":
        raise ConfigurationError(
            f"{name} contains quotes ({value!r}); remove them "
            "(a common slip when the value comes from a shell or a .env file)"
        )
    try:
        parts = urlsplit(value)
        port = parts.port  # validates the port
    except ValueError as exc:
        raise ConfigurationError(f"{name} is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(
            f"{name} must start with http:// or https:// and name a host, got {value!r} "
            "(for example https://avatar.example.com/api)"
        )
    if parts.username is not None or parts.password is not None:
        raise ConfigurationError(f"{name} must not contain credentials; use api_key or authenticate()")
    if parts.query or parts.fragment:
        raise ConfigurationError(f"{name} must not have a query string or fragment")
    if any(c.isspace() for c in value):
        raise ConfigurationError(f"{name} must not contain spaces")
    path = parts.path.rstrip("/")
    if not path.endswith("/api"):
        segments = path.split("/")
        if "api" in segments:
            # ".../api/v2" or ".../api/jobs": the API root is the path up to /api.
            suggested = "/".join(segments[: segments.index("api") + 1])
        else:
            suggested = f"{path}/api"
        raise ConfigurationError(
            f"{name} must end with /api, got {value!r}; did you mean {parts.scheme}://{parts.netloc}{suggested} ?"
        )
    del port
    return f"{parts.scheme}://{parts.netloc}{path}"


def normalize_storage_url(url: object, *, name: str = "storage_endpoint_url") -> str:
    """Check and normalise the object store's URL (``scheme://host[:port][/path]``)."""
    if not isinstance(url, str):
        raise ConfigurationError(f"{name} must be a string, got {type(url).__name__}")
    value = url.strip()
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - validates the port
    except ValueError as exc:
        raise ConfigurationError(f"{name} is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(f"{name} must start with http:// or https:// and name a host, got {value!r}")
    if parts.username is not None or parts.password is not None:
        raise ConfigurationError(f"{name} must not contain credentials")
    if parts.query or parts.fragment or any(c.isspace() for c in value):
        raise ConfigurationError(f"{name} must not have a query string, a fragment or spaces")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def normalize_timeout(value: object, *, name: str = "timeout") -> Optional[Timeout]:
    """Check a timeout value; ``None`` stays ``None`` (meaning: the default)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ConfigurationError(f"{name} must be seconds or (connect, read), not a bool")
    if isinstance(value, (int, float)):
        if not math.isfinite(value) or value <= 0:
            raise ConfigurationError(
                f"{name} must be a finite, positive number of seconds, got {value!r} "
                "(pass avatars.NO_TIMEOUT to wait without a per-phase timeout)"
            )
        return float(value)
    if isinstance(value, (tuple, list)) and len(value) == 2:
        connect, read = value
        for part in (connect, read):
            if isinstance(part, bool) or not isinstance(part, (int, float)) or not math.isfinite(part) or part <= 0:
                raise ConfigurationError(f"{name} parts must be finite, positive seconds, got {value!r}")
        return (float(connect), float(read))
    raise ConfigurationError(f"{name} must be seconds or a (connect, read) pair, got {value!r}")


def _parse_timeout_env(raw: str) -> Timeout:
    text = raw.strip()
    try:
        if "," in text:
            connect, read = (float(p) for p in text.split(",", 1))
            result = normalize_timeout((connect, read), name="AVATAR_TIMEOUT")
        else:
            result = normalize_timeout(float(text), name="AVATAR_TIMEOUT")
    except ValueError as exc:
        if isinstance(exc, ConfigurationError):
            raise
        raise ConfigurationError(
            f"AVATAR_TIMEOUT must be seconds (e.g. 30) or connect,read (e.g. 5,120), got {raw!r}"
        ) from None
    assert result is not None
    return result


def _parse_verify_env(raw: str) -> Union[bool, str]:
    text = raw.strip()
    low = text.lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    if os.path.exists(text):
        return text
    raise ConfigurationError(f"AVATAR_SHOULD_VERIFY_SSL must be true/false or the path of a CA bundle, got {raw!r}")


def _check_verify(value: object) -> Union[bool, str]:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value:
        if not os.path.exists(value):
            raise ConfigurationError(f"should_verify_ssl: CA bundle {value!r} does not exist")
        return value
    if isinstance(value, os.PathLike):
        return _check_verify(os.fspath(value))
    raise ConfigurationError(f"should_verify_ssl must be True, False or a CA bundle path, got {value!r}")


def check_api_key(value: object, *, name: str = "api_key") -> str:
    """A usable API key: a non-empty string without white space or control characters."""
    if not isinstance(value, str):
        raise ConfigurationError(f"{name} must be a string")
    if not value.strip():
        raise ConfigurationError(f"{name} is empty")
    if any(c.isspace() or ord(c) < 32 for c in value):
        raise ConfigurationError(f"{name} contains whitespace or control characters; check how it was copied")
    return value


@dataclass(frozen=True)
class ClientConfig:
    """Base URL, timeout, TLS verification and credentials of a client.

    Build it explicitly (nothing is read from the environment), or with
    :meth:`from_env`, where explicit values win over the environment.
    ``repr()`` never shows the API key or the password.
    """

    base_url: str
    timeout: Timeout = DEFAULT_TIMEOUT
    #: ``True``/``False``, a CA bundle path, or ``None``: "not said" (verify,
    #: or keep an injected session's own ``verify``).
    should_verify_ssl: Optional[Union[bool, str]] = None
    api_key: Optional[str] = field(default=None, repr=False)
    #: Used by ``authenticate()`` when called without a username/password.
    username: Optional[str] = None
    password: Optional[str] = field(default=None, repr=False)
    #: The whole-call budget in seconds; ``None`` means the library's default
    #: (``avatars._deadline.DEFAULT_TOTAL_TIMEOUT``, 300 s).  Always finite.
    total_timeout: Optional[float] = None
    #: The object store's URL; ``None``: the base URL with ``/api`` replaced by ``/storage``.
    storage_endpoint_url: Optional[str] = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_url", normalize_base_url(self.base_url))
        if self.storage_endpoint_url is not None:
            object.__setattr__(self, "storage_endpoint_url", normalize_storage_url(self.storage_endpoint_url))
        timeout = normalize_timeout(self.timeout)
        object.__setattr__(self, "timeout", DEFAULT_TIMEOUT if timeout is None else timeout)
        if self.should_verify_ssl is not None:
            object.__setattr__(self, "should_verify_ssl", _check_verify(self.should_verify_ssl))
        if self.api_key is not None:
            object.__setattr__(self, "api_key", check_api_key(self.api_key))
        for name in ("username", "password"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value):
                raise ConfigurationError(f"{name} must be a non-empty string")
        if self.total_timeout is not None:
            object.__setattr__(self, "total_timeout", check_total_timeout(self.total_timeout))

    def __repr__(self) -> str:
        key = "'***'" if self.api_key else "None"
        password = "'***'" if self.password else "None"
        return (
            f"ClientConfig(base_url={self.base_url!r}, timeout={self.timeout!r}, "
            f"should_verify_ssl={self.should_verify_ssl!r}, api_key={key}, "
            f"username={self.username!r}, password={password}, total_timeout={self.total_timeout!r}"
            + (f", storage_endpoint_url={self.storage_endpoint_url!r}" if self.storage_endpoint_url else "")
            + ")"
        )

    def credentials(self, username: Optional[str], password: Optional[str]) -> Tuple[str, str]:
        """The username and password to log in with: the ones given, else this
        configuration's (``AVATAR_USERNAME``/``AVATAR_PASSWORD``)."""
        user = username if username is not None else self.username
        secret = password if password is not None else self.password
        if not user:
            raise ConfigurationError("no username: pass username=..., or set AVATAR_USERNAME")
        if not secret:
            raise ConfigurationError("no password: pass password=..., or set AVATAR_PASSWORD")
        return user, secret

    @property
    def storage_url(self) -> str:
        """The object store's URL: ``storage_endpoint_url``, or the platform's default."""
        if self.storage_endpoint_url is not None:
            return self.storage_endpoint_url
        return self.base_url[: -len("/api")] + "/storage"

    def with_changes(self, **changes: object) -> ClientConfig:
        """A copy with some values replaced (validated again)."""
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_env(
        cls,
        env: Optional[Mapping[str, str]] = None,
        *,
        base_url: Optional[str] = None,
        timeout: Optional[Timeout] = None,
        should_verify_ssl: Optional[Union[bool, str]] = None,
        api_key: Optional[str] = None,
        username: Optional[str] = None,
        password: Optional[str] = None,
        storage_endpoint_url: Optional[str] = None,
    ) -> ClientConfig:
        """Read the ``AVATAR_*`` variables (from ``env``, default ``os.environ``);
        keyword arguments that are not ``None`` win over them, one by one."""
        source = os.environ if env is None else env
        api_url = source.get("AVATAR_BASE_API_URL", "").strip()
        root_url = source.get("AVATAR_BASE_URL", "").strip()
        if base_url is None:
            if api_url and root_url:
                raise ConfigurationError(
                    "both AVATAR_BASE_API_URL and AVATAR_BASE_URL are set; keep one "
                    "(AVATAR_BASE_API_URL ends with /api, AVATAR_BASE_URL is the server root)"
                )
            if api_url:
                base_url = normalize_base_url(api_url, name="AVATAR_BASE_API_URL")
            elif root_url:
                checked_root = root_url.rstrip("/")
                if checked_root.endswith("/api"):
                    raise ConfigurationError(
                        "AVATAR_BASE_URL is the server root and must not end with /api; "
                        "use AVATAR_BASE_API_URL for the .../api URL"
                    )
                base_url = normalize_base_url(checked_root + "/api", name="AVATAR_BASE_URL")
            else:
                raise ConfigurationError(
                    "no base URL: pass base_url='https://host/api', or set AVATAR_BASE_API_URL (…/api) "
                    "or AVATAR_BASE_URL (the server root)"
                )
        if timeout is None and source.get("AVATAR_TIMEOUT", "").strip():
            timeout = _parse_timeout_env(source["AVATAR_TIMEOUT"])
        if should_verify_ssl is None and source.get("AVATAR_SHOULD_VERIFY_SSL", "").strip():
            should_verify_ssl = _parse_verify_env(source["AVATAR_SHOULD_VERIFY_SSL"])
        if api_key is None and "AVATAR_API_KEY" in source:
            raw_key = source["AVATAR_API_KEY"]
            if not raw_key.strip():
                raise ConfigurationError("AVATAR_API_KEY is set but empty")
            api_key = raw_key.strip()
        if username is None and source.get("AVATAR_USERNAME", "").strip():
            username = source["AVATAR_USERNAME"].strip()
        if password is None and source.get("AVATAR_PASSWORD", ""):
            password = source["AVATAR_PASSWORD"]
        if storage_endpoint_url is None and source.get("AVATAR_STORAGE_ENDPOINT_URL", "").strip():
            storage_endpoint_url = normalize_storage_url(
                source["AVATAR_STORAGE_ENDPOINT_URL"], name="AVATAR_STORAGE_ENDPOINT_URL"
            )
        return cls(
            base_url=base_url,
            timeout=DEFAULT_TIMEOUT if timeout is None else timeout,
            should_verify_ssl=should_verify_ssl,
            api_key=api_key,
            username=username,
            password=password,
            storage_endpoint_url=storage_endpoint_url,
        )
