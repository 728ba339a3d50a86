"""flask-refreshgrant: an OAuth 2.0 authorization server for Flask whose
speciality is the refresh token grant (RFC 6749 §6, RFC 9700).

What an app imports is here; everything else hangs off the
:class:`RefreshGrant` object or stays in its own module.
"""

from __future__ import annotations

from . import signals
from .endpoints.authorization_request import AuthorizationRequest
from .errors import (
    ClientRegistrationError,
    ConfigurationError,
    ExtensionError,
    NotFoundError,
    RefreshGrantError,
    SigningKeyError,
)
from .extension import RefreshGrant
from .grants.lockout import PasswordCheck
from .key_models import SigningKeyMixin
from .models import (
    AccessTokenMixin,
    AuthorizationCodeMixin,
    ClientMixin,
    DPoPProofMixin,
    Models,
    PasswordLockoutMixin,
    RefreshTokenMixin,
)
from .records import (
    AuditReport,
    AuditViolation,
    ClientRecord,
    GrantHistory,
    GrantRecord,
)
from .resource import current_token, require_oauth
from .store.admin import ClientCredentials

__version__ = "0.2.0"

__all__ = [
    "AccessTokenMixin",
    "AuditReport",
    "AuditViolation",
    "AuthorizationCodeMixin",
    "AuthorizationRequest",
    "ClientCredentials",
    "ClientMixin",
    "ClientRecord",
    "ClientRegistrationError",
    "ConfigurationError",
    "DPoPProofMixin",
    "ExtensionError",
    "GrantHistory",
    "GrantRecord",
    "Models",
    "NotFoundError",
    "PasswordCheck",
    "PasswordLockoutMixin",
    "RefreshGrant",
    "RefreshGrantError",
    "RefreshTokenMixin",
    "SigningKeyError",
    "SigningKeyMixin",
    "__version__",
    "current_token",
    "require_oauth",
    "signals",
]
