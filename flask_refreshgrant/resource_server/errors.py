"""The one error type :class:`~.verifier.TokenVerifier` raises."""

from __future__ import annotations

from ..errors import RefreshGrantError


class TokenVerificationError(RefreshGrantError):
    """A token was refused, or could not be checked.

    ``error`` is an RFC 6750 / RFC 9449 code — ``invalid_token``,
    ``insufficient_scope``, ``invalid_dpop_proof`` — or
    ``temporarily_unavailable`` when the authorization server could not be
    reached and nothing cached could decide; ``status`` the HTTP status a
    resource server answers with (401, 403 or 503). ``description`` is ASCII,
    fit for ``error_description``.
    """

    def __init__(self, error: str, description: str, status: int = 401) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


def invalid_token(description: str) -> TokenVerificationError:
    return TokenVerificationError("invalid_token", description)


def unavailable(description: str) -> TokenVerificationError:
    return TokenVerificationError("temporarily_unavailable", description, 503)
