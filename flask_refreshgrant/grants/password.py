"""The resource owner password credentials grant (RFC 6749 §4.3): legacy
(RFC 9700 §2.4), only for clients registered with it, behind the password
lock of :mod:`.lockout`."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidGrantError

from .common import GrantMixin


class InvalidCredentialsError(InvalidGrantError):  # type: ignore[misc]
    """RFC 6749 §5.2: invalid resource owner credentials are ``invalid_grant``,
    with one body whether the password is wrong, the user unknown or the
    username locked; a lock adds only ``Retry-After``."""

    def __init__(self, retry_after: int | None = None) -> None:
        super().__init__("Invalid username or password.")
        self.retry_after = retry_after

    def get_headers(self) -> list[tuple[str, str]]:
        headers: list[tuple[str, str]] = super().get_headers()
        if self.retry_after is not None:
            headers.append(("Retry-After", str(self.retry_after)))
        return headers


class PasswordGrant(GrantMixin, grants.ResourceOwnerPasswordCredentialsGrant):  # type: ignore[misc]
    """Resource owner password credentials (RFC 6749 §4.3), behind the
    password lock (§4.3.2, :mod:`.lockout`). The client is authenticated
    first, so only a registered client can spend a username's attempts."""

    def authenticate_user(self, username: str, password: str) -> Any:
        authenticate = self.server.authenticate_user
        assert authenticate is not None  # registered only then
        check = self.server.lockout.check(
            username, lambda: authenticate(username, password)
        )
        if check.user is None:
            raise InvalidCredentialsError(check.retry_after)
        return check.user

    @cached_property
    def _checked_at(self) -> int:
        return self.server.now()

    def login_time(self) -> int | None:
        """The password check is the login (``auth_time`` of a JWT)."""
        return self._checked_at
