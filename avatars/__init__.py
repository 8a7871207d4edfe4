"""Python client for the Avatar anonymization platform, built on requests.

>>> from avatars import ApiClient
>>> client = ApiClient("https://avatar.example.com/api", api_key="...")  # doctest: +SKIP
"""

import logging as _logging

from ._version import __version__
from .auth import ApiKeyAuth, AuthTokens, NoAuth, TokenAuth
from .client import ApiClient, InsecureTLSWarning
from .config import DEFAULT_TIMEOUT, NO_TIMEOUT, ClientConfig
from .errors import (
    ApiConnectionError,
    ApiError,
    ApiTimeoutError,
    AuthenticationError,
    AvatarError,
    BadRequestError,
    ConfigurationError,
    ConflictError,
    JobFailedError,
    NotFound,
    PermissionDenied,
    ProxyError,
    RateLimitError,
    RequestNotRetryableError,
    RequestValidationError,
    ResponseDecodeError,
    SchemaError,
    ServerError,
    TLSError,
    TransportError,
    ValidationError,
)
from .session import AvatarSession, default_retry

_logging.getLogger("avatars").addHandler(_logging.NullHandler())

__all__ = [
    "__version__",
    "ApiClient",
    "AvatarSession",
    "ClientConfig",
    "ApiKeyAuth",
    "TokenAuth",
    "NoAuth",
    "AuthTokens",
    "DEFAULT_TIMEOUT",
    "NO_TIMEOUT",
    "InsecureTLSWarning",
    "default_retry",
    "AvatarError",
    "ApiError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "ConflictError",
    "ApiConnectionError",
    "JobFailedError",
    "NotFound",
    "PermissionDenied",
    "ProxyError",
    "RateLimitError",
    "RequestNotRetryableError",
    "RequestValidationError",
    "ResponseDecodeError",
    "SchemaError",
    "ServerError",
    "ApiTimeoutError",
    "TLSError",
    "TransportError",
    "ValidationError",
]
