"""Python client for the Avatar anonymization platform, built on requests.

>>> from avatars import ApiClient
>>> client = ApiClient("https://avatar.example.com/api", api_key="...")  # doctest: +SKIP

Importing the package is kept cheap: :class:`Manager` and :class:`Runner` (the
workflow layer) are imported when first used, marshmallow with the first
response loaded, and tqdm, pandas and werkzeug only by the features that need
them.
"""

import logging as _logging
from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any
from typing import List as _List

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
    CredentialsRequiredError,
    DecompressionLimitError,
    DiskFullError,
    EndpointUnavailableError,
    JobFailedError,
    LocalFileError,
    NotFound,
    PermissionDenied,
    ProxyError,
    RateLimitError,
    RedirectRefusedError,
    RequestNotRetryableError,
    RequestValidationError,
    ResponseDecodeError,
    ResponseTooLargeError,
    SchemaError,
    ServerError,
    TLSError,
    TransportError,
    UnsafeFileNameError,
    ValidationError,
    WaitTimeoutError,
)
from .models import (
    ApiKey,
    ApiKeyWithPlaintext,
    BulkDeleteRequest,
    BulkDeleteResponse,
    CapabilitiesResponse,
    CompatibilityResponse,
    CompatibilityStatus,
    CreateApiKeyRequest,
    CreateApiKeyResponse,
    CreateUser,
    CreditsInfo,
    Environment,
    EventLogResponse,
    FeaturesInfo,
    FileAccess,
    FileCredentials,
    ForgottenPasswordRequest,
    HealthMessage,
    JobCreateRequest,
    JobCreateResponse,
    JobFlowCreateRequest,
    JobFlowCreateResponse,
    JobKind,
    JobResponse,
    JobResponseList,
    JobStatus,
    LoginResponse,
    MeUser,
    ResetPasswordRequest,
    ResourceSetResponse,
    Results,
    User,
    UserRole,
)
from .resources.api_keys import ApiKeys
from .resources.auth import Auth
from .resources.compatibility import Compatibility
from .resources.datasets import Datasets
from .resources.health import Health
from .resources.jobs import Jobs
from .resources.openapi import OpenApi
from .resources.resources import ResourceSets
from .resources.results import ResultFiles
from .resources.users import Users
from .session import AvatarSession, default_retry
from .transfer import DownloadResult, ProgressCallback

if _TYPE_CHECKING:  # pragma: no cover - imported on first use, see __getattr__
    from .documents.pseudonymization import ConstantStrategy as ConstantStrategy
    from .documents.pseudonymization import FakeDataStrategy as FakeDataStrategy
    from .documents.pseudonymization import HashSha256Strategy as HashSha256Strategy
    from .documents.pseudonymization import IntegerStrategy as IntegerStrategy
    from .documents.pseudonymization import PiiType as PiiType
    from .documents.pseudonymization import SpecificIdLetterCase as SpecificIdLetterCase
    from .documents.pseudonymization import SpecificIdStrategy as SpecificIdStrategy
    from .documents.pseudonymization import Uuid4Strategy as Uuid4Strategy
    from .manager import Manager as Manager
    from .runner import Runner as Runner

_LAZY = {"Manager": ".manager", "Runner": ".runner"}
#: the pseudonymization strategies, exported at the top as the platform SDK does
_LAZY.update(
    dict.fromkeys(
        (
            "ConstantStrategy",
            "FakeDataStrategy",
            "HashSha256Strategy",
            "IntegerStrategy",
            "PiiType",
            "SpecificIdLetterCase",
            "SpecificIdStrategy",
            "Uuid4Strategy",
        ),
        ".documents.pseudonymization",
    )
)
#: Submodules that ``import avatars`` used to import; ``avatars.schemas`` & co.
#: still work after a bare ``import avatars``.
_LAZY_SUBMODULES = frozenset({"manager", "runner", "progress", "schemas"})

_logging.getLogger("avatars").addHandler(_logging.NullHandler())


def __getattr__(name: str) -> _Any:
    from importlib import import_module

    if name in _LAZY_SUBMODULES:
        return import_module(f".{name}", __name__)
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module_name, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> _List[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "__version__",
    "ApiClient",
    "Manager",
    "Runner",
    "ConstantStrategy",
    "FakeDataStrategy",
    "HashSha256Strategy",
    "IntegerStrategy",
    "PiiType",
    "SpecificIdLetterCase",
    "SpecificIdStrategy",
    "Uuid4Strategy",
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
    "CredentialsRequiredError",
    "ApiConnectionError",
    "JobFailedError",
    "NotFound",
    "EndpointUnavailableError",
    "PermissionDenied",
    "ProxyError",
    "RateLimitError",
    "RedirectRefusedError",
    "RequestNotRetryableError",
    "RequestValidationError",
    "ResponseDecodeError",
    "ResponseTooLargeError",
    "SchemaError",
    "ServerError",
    "ApiTimeoutError",
    "TLSError",
    "TransportError",
    "ValidationError",
    "WaitTimeoutError",
    "LocalFileError",
    "DiskFullError",
    "UnsafeFileNameError",
    "DecompressionLimitError",
    # models: enums
    "JobKind",
    "JobStatus",
    "UserRole",
    "CompatibilityStatus",
    # models: responses
    "LoginResponse",
    "User",
    "MeUser",
    "Environment",
    "CreditsInfo",
    "FeaturesInfo",
    "ApiKey",
    "ApiKeyWithPlaintext",
    "CreateApiKeyResponse",
    "ResourceSetResponse",
    "JobResponse",
    "JobResponseList",
    "CapabilitiesResponse",
    "EventLogResponse",
    "JobCreateResponse",
    "JobFlowCreateRequest",
    "JobFlowCreateResponse",
    "BulkDeleteResponse",
    "FileAccess",
    "FileCredentials",
    "CompatibilityResponse",
    "HealthMessage",
    "Results",
    # models: requests
    "CreateUser",
    "CreateApiKeyRequest",
    "JobCreateRequest",
    "BulkDeleteRequest",
    "ResetPasswordRequest",
    "ForgottenPasswordRequest",
    # facades (client.auth, client.jobs, ...)
    "Auth",
    "ApiKeys",
    "Compatibility",
    "Datasets",
    "Health",
    "Jobs",
    "OpenApi",
    "ResourceSets",
    "ResultFiles",
    "Users",
    # streaming
    "DownloadResult",
    "ProgressCallback",
]
