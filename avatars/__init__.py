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
from .manager import Manager
from .models import (
    ApiKey,
    ApiKeyWithPlaintext,
    BulkDeleteRequest,
    BulkDeleteResponse,
    CompatibilityResponse,
    CompatibilityStatus,
    CreateApiKeyRequest,
    CreateApiKeyResponse,
    CreateUser,
    CreditsInfo,
    Dataset,
    Environment,
    FeaturesInfo,
    FileAccess,
    FileCredentials,
    FileType,
    ForgottenPasswordRequest,
    HealthMessage,
    JobCreateRequest,
    JobCreateResponse,
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
from .runner import Runner
from .session import AvatarSession, default_retry
from .transfer import DownloadResult, ProgressCallback

_logging.getLogger("avatars").addHandler(_logging.NullHandler())

__all__ = [
    "__version__",
    "ApiClient",
    "Manager",
    "Runner",
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
    # models: enums
    "JobKind",
    "JobStatus",
    "UserRole",
    "CompatibilityStatus",
    "FileType",
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
    "Dataset",
    "ResourceSetResponse",
    "JobResponse",
    "JobResponseList",
    "JobCreateResponse",
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
