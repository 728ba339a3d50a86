"""Initial access tokens for dynamic client registration (RFC 7591 §3):
the operation under ``flask oauth2 registration-token create``."""

from __future__ import annotations

import dataclasses
from typing import Any

from ..errors import ClientRegistrationError
from ..server.state import RefreshGrantState

#: The longest lifetime a setting or option takes (SPEC §13): ten years.
MAX_SECONDS = 315_360_000


@dataclasses.dataclass(frozen=True)
class RegistrationToken:
    """A new initial access token, shown once (only its digest is stored)."""

    token: str
    #: ``None``: never expires.
    expires_at: int | None
    #: Registrations it allows; ``None``: any number.
    uses: int | None

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def create_registration_token(
    app_state: RefreshGrantState,
    *,
    expires_in: int | None = None,
    uses: int | None = None,
) -> RegistrationToken:
    """A token that lets a client register itself when
    ``OAUTH2_DYNAMIC_REGISTRATION = "token"``: valid ``expires_in`` seconds
    (``None``: always) for ``uses`` registrations (``None``: any number)."""
    if expires_in is not None and (
        type(expires_in) is not int or not 0 < expires_in <= MAX_SECONDS
    ):
        raise ClientRegistrationError(
            f"expires_in must be 1 to {MAX_SECONDS} seconds, got {expires_in!r}"
        )
    if uses is not None and (type(uses) is not int or uses < 1):
        raise ClientRegistrationError(f"uses must be 1 or more, got {uses!r}")
    now = app_state.server.now()
    expires_at = None if expires_in is None else now + expires_in
    token = app_state.registration.create_token(
        now=now, expires_at=expires_at, uses=uses
    )
    return RegistrationToken(token=token, expires_at=expires_at, uses=uses)
