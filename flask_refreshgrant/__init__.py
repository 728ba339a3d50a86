"""flask-refreshgrant: an OAuth 2.0 authorization server for Flask whose
speciality is the refresh token grant (RFC 6749 §6, RFC 9700)."""

from __future__ import annotations

from .authorize import AuthorizationRequest
from .config import Settings, TokenPolicy
from .errors import ConfigurationError, ExtensionError, RefreshGrantError
from .extension import RefreshGrant
from .models import (
    AccessTokenMixin,
    AuthorizationCodeMixin,
    ClientMixin,
    Models,
    RefreshTokenMixin,
    default_models,
)
from .resource import BearerTokenValidator, current_token, require_oauth
from .state import RefreshGrantState

__version__ = "0.1.0"

__all__ = [
    "AccessTokenMixin",
    "AuthorizationCodeMixin",
    "AuthorizationRequest",
    "BearerTokenValidator",
    "ClientMixin",
    "ConfigurationError",
    "ExtensionError",
    "Models",
    "RefreshGrant",
    "RefreshGrantError",
    "RefreshGrantState",
    "RefreshTokenMixin",
    "Settings",
    "TokenPolicy",
    "__version__",
    "current_token",
    "default_models",
    "require_oauth",
]
