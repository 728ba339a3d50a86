"""Authlib grant subclasses: protocol decisions only, storage through ``server.storage``.

* :class:`RefreshTokenGrant` — RFC 6749 §6 with expiry, rotation as a setting
  (per client), atomic rotate-and-issue, reuse detection (RFC 9700 §4.14.2).
* :class:`PasswordGrant` — RFC 6749 §4.3, legacy (RFC 9700 §2.4): only for
  clients registered with it.
* :class:`ClientCredentialsGrant` — RFC 6749 §4.4, never a refresh token.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import (
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
)
from authlib.oauth2.rfc6749.hooks import hooked
from authlib.oauth2.rfc7636 import CodeChallenge
from flask import current_app

from . import lifetimes, replay, signals
from .config import TokenPolicy
from .models import AuthorizationCodeMixin, ClientMixin, RefreshTokenMixin
from .storage import IssuedTokens

if TYPE_CHECKING:
    from .server import AuthorizationServer

#: Every grant accepts all three client authentication methods; which one a
#: client may use follows from whether it has a secret (models.ClientMixin).
TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]


def invalid_refresh_token() -> InvalidGrantError:
    """One error body for unknown, expired, revoked, rotated-out and foreign
    refresh tokens, so the response is no oracle."""
    return InvalidGrantError("The refresh token is invalid, expired or revoked.")


def set_refresh_expires_in(
    token: dict[str, Any], expires_at: int | None, now: int
) -> None:
    """``refresh_token_expires_in``: omitted for a token that never expires."""
    expires_in = lifetimes.seconds_left(expires_at, now)
    if expires_in is not None:
        token["refresh_token_expires_in"] = expires_in


def new_grant_refresh_expiry(
    issued: IssuedTokens, now: int, policy: TokenPolicy
) -> int | None:
    """Expiry of a fresh grant's refresh token (``None`` without one)."""
    if issued.refresh_token is None:
        return None
    return lifetimes.first_refresh_expiry(now, policy)


def announce_new_grant(
    token: dict[str, Any],
    issued: IssuedTokens,
    *,
    now: int,
    refresh_expires_at: int | None,
    family_id: str | None,
    client_id: str,
    user_id: str | None,
    grant_type: str,
) -> None:
    """Once a fresh grant's tokens are stored: the refresh token's lifetime in
    the response, and the ``token_issued`` signal."""
    if issued.refresh_token is not None:
        set_refresh_expires_in(token, refresh_expires_at, now)
    signals.emit(
        signals.token_issued,
        client_id=client_id,
        user_id=user_id,
        grant_type=grant_type,
        family_id=family_id if issued.refresh_token is not None else None,
        scope=issued.scope,
    )


def issued_tokens(token: dict[str, Any]) -> IssuedTokens:
    return IssuedTokens(
        access_token=token["access_token"],
        refresh_token=token.get("refresh_token"),
        scope=token.get("scope", ""),
        access_token_expires_in=token["expires_in"],
    )


class _GrantMixin:
    """What every grant here shares: auth methods and scope checks."""

    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = TOKEN_ENDPOINT_AUTH_METHODS
    server: AuthorizationServer
    request: Any

    def validate_requested_scope(self) -> None:
        """RFC 6749 §3.3: a scope the server or the client does not know is
        ``invalid_scope`` rather than silently dropped."""
        scope = self.request.payload.scope
        self.server.validate_requested_scope(scope)
        client: ClientMixin = self.request.client
        if scope and not set(scope.split()) <= set(client.scopes):
            raise InvalidScopeError()


class RefreshTokenGrant(_GrantMixin, grants.RefreshTokenGrant):  # type: ignore[misc]
    """Refresh an access token (RFC 6749 §6), with WSO2's two knobs.

    Renewal on (``OAUTH2_RENEW_REFRESH_TOKEN_FOR_REFRESH_GRANT``, default; and
    always for public clients, RFC 9700 §2.2.2): the presented token is
    retired and a successor issued in one transaction. Renewal off: the same
    refresh token is returned, untouched, until it expires.
    """

    @cached_property
    def policy(self) -> TokenPolicy:
        """The rules for this request's client (grants live for one request)."""
        return self.server.settings.policy_for(self.request.client)

    @property
    def INCLUDE_NEW_REFRESH_TOKEN(self) -> bool:
        client: ClientMixin = self.request.client
        return self.policy.renew_refresh_token or client.is_public

    #: The refresh token value this request presented and the row it names,
    #: read before client authentication (see validate_token_request).
    _presented: tuple[str, RefreshTokenMixin | None] | None = None

    def validate_token_request(self) -> None:
        """Authlib's, except that the presented token is read first, joined
        with its client: client authentication then finds that client
        already loaded, and a refresh costs one SELECT less. The checks and
        their order (client first, then the token) are Authlib's."""
        value = self.request.form.get("refresh_token")
        if value:
            storage = self.server.storage
            self._presented = (value, storage.find_refresh_token_and_client(value))
        super().validate_token_request()

    def authenticate_refresh_token(
        self, refresh_token: str
    ) -> RefreshTokenMixin | None:
        if self._presented is not None and self._presented[0] == refresh_token:
            return self._presented[1]
        return self.server.storage.find_refresh_token(refresh_token)

    def _validate_request_token(self, client: ClientMixin) -> RefreshTokenMixin:
        value = self.request.form.get("refresh_token")
        if not value:
            raise InvalidRequestError("Missing 'refresh_token' in request.")
        token = self.authenticate_refresh_token(value)
        # Client binding first: another client replaying a stale token must
        # not be able to revoke the owner's family.
        if token is None or not token.check_client(client):
            raise invalid_refresh_token()
        if token.is_revoked():
            raise invalid_refresh_token()
        policy = self.policy
        if token.is_rotated():
            self.request.replay_response = self._grace_replay(token)
            if self.request.replay_response is not None:
                return token
            if policy.refresh_token_reuse_detection:
                self._revoke_reused_family(token)
            raise invalid_refresh_token()
        if lifetimes.refresh_token_expired(token, self.server.now(), policy):
            raise invalid_refresh_token()
        return token

    def _grace_replay(self, token: RefreshTokenMixin) -> dict[str, Any] | None:
        """The identical response ``token``'s rotation returned, if the grace
        period after it still runs and its successor has not been used.

        Lifetimes in it are counted down; nothing new is issued, so the grant
        never has two live refresh tokens.
        """
        if token.replay is None or token.rotated_at is None or token.is_revoked():
            return None
        elapsed = self.server.now() - token.rotated_at
        if elapsed >= self.policy.refresh_token_grace_period:
            return None
        response = replay.unseal(current_app.config.get("SECRET_KEY"), token.replay)
        if response is None:  # SECRET_KEY changed since: nothing to replay
            return None
        for key in ("expires_in", "refresh_token_expires_in"):
            if key in response:
                response[key] = max(0, response[key] - elapsed)
        return response

    def _revoke_reused_family(self, token: RefreshTokenMixin) -> None:
        """RFC 9700 §4.14.2: a rotated-out token came back, so either the
        client or an attacker holds a stolen copy; end the whole grant."""
        self.server.storage.revoke_family(token.family_id, now=self.server.now())
        signals.emit(
            signals.refresh_token_reuse_detected,
            client_id=token.client_id,
            user_id=token.user_id,
            family_id=token.family_id,
        )

    def authenticate_user(self, refresh_token: RefreshTokenMixin) -> Any:
        if refresh_token.user_id is None:
            return None
        return self.server.load_user(refresh_token.user_id)

    @hooked  # type: ignore[untyped-decorator]
    def create_token_response(
        self,
    ) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        if self.request.replay_response is not None:
            return 200, self.request.replay_response, self.TOKEN_RESPONSE_HEADER
        old: RefreshTokenMixin = self.request.refresh_token
        user = self.authenticate_user(old)
        if user is None:
            raise InvalidGrantError("The user of this refresh token no longer exists.")
        self.request.user = user

        # RFC 6749 §6: omitted scope means the originally granted scope.
        scope = self.request.payload.scope or old.scope
        token: dict[str, Any] = self.generate_token(
            user=user, scope=scope, include_refresh_token=self.INCLUDE_NEW_REFRESH_TOKEN
        )
        policy = self.policy
        now = self.server.now()
        issued = issued_tokens(token)
        # Read before the commit expires ``old``'s attributes.
        parent_id = old.id
        family: dict[str, Any] = {
            "client_id": old.client_id,
            "user_id": old.user_id,
            "family_id": old.family_id,
        }
        if issued.refresh_token is not None:
            expires_at = lifetimes.renewed_refresh_expiry(old, now, policy)
            set_refresh_expires_in(token, expires_at, now)
            sealed = None
            if policy.refresh_token_grace_period > 0:
                sealed = replay.seal(current_app.config.get("SECRET_KEY"), token)
            if not self.server.storage.rotate(
                old, issued, now=now, expires_at=expires_at, replay=sealed
            ):
                # Lost the race for this token to a concurrent request: within
                # a grace period, answer as the winner was answered; else it is
                # a rotated-out token now, and counts as reused.
                self.server.storage.reload(old)
                again = self._grace_replay(old)
                if again is not None:
                    return 200, again, self.TOKEN_RESPONSE_HEADER
                if policy.refresh_token_reuse_detection and not old.is_revoked():
                    self._revoke_reused_family(old)
                raise invalid_refresh_token()
            signals.emit(
                signals.refresh_token_rotated,
                parent_id=parent_id,
                **family,
            )
        else:
            expires_at = lifetimes.effective_refresh_expiry(old, policy)
            if not self.server.storage.issue_access_token(old, issued, now=now):
                # Revoked by a concurrent request since it was read.
                raise invalid_refresh_token()
            token["refresh_token"] = self.request.form["refresh_token"]
            set_refresh_expires_in(token, expires_at, now)
        signals.emit(
            signals.token_issued,
            grant_type=self.GRANT_TYPE,
            scope=issued.scope,
            **family,
        )
        return 200, token, self.TOKEN_RESPONSE_HEADER


class PasswordGrant(_GrantMixin, grants.ResourceOwnerPasswordCredentialsGrant):  # type: ignore[misc]
    """Resource owner password credentials (RFC 6749 §4.3)."""

    def authenticate_user(self, username: str, password: str) -> Any:
        assert self.server.authenticate_user is not None  # registered only then
        user = self.server.authenticate_user(username, password)
        if user is None:
            # RFC 6749 §5.2: invalid resource owner credentials are invalid_grant.
            raise InvalidGrantError("Invalid username or password.")
        return user


class ClientCredentialsGrant(_GrantMixin, grants.ClientCredentialsGrant):  # type: ignore[misc]
    """Client credentials (RFC 6749 §4.4): an access token, never a refresh token.

    Confidential clients only: a public client has no credentials to present.
    """

    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = [
        "client_secret_basic",
        "client_secret_post",
    ]


#: Seconds an authorization code is valid (RFC 6749 §4.1.2: "10 minutes" at most).
AUTHORIZATION_CODE_LIFETIME = 600


class AuthorizationCodeGrant(_GrantMixin, grants.AuthorizationCodeGrant):  # type: ignore[misc]
    """Authorization code (RFC 6749 §4.1) with PKCE (:class:`S256CodeChallenge`).

    Codes are stored as digests, bound to client, redirect URI and challenge,
    valid for :data:`AUTHORIZATION_CODE_LIFETIME` seconds and single-use:
    exchanging one marks it used in the transaction that stores its tokens,
    and presenting it again revokes those tokens (§4.1.2).
    """

    def save_authorization_code(self, code: str, request: Any) -> None:
        now = self.server.now()
        payload = request.payload.data
        self.server.storage.save_authorization_code(
            code,
            client_id=request.client.client_id,
            user_id=self.server.get_user_id(request.user),
            redirect_uri=request.payload.redirect_uri,
            scope=request.scope or "",
            code_challenge=payload.get("code_challenge"),
            code_challenge_method=payload.get("code_challenge_method"),
            now=now,
            expires_at=now + AUTHORIZATION_CODE_LIFETIME,
        )

    def query_authorization_code(
        self, code: str, client: ClientMixin
    ) -> AuthorizationCodeMixin | None:
        found = self.server.storage.find_authorization_code(code)
        if found is None or found.client_id != client.client_id:
            return None
        if found.used_at is not None:
            self._revoke_tokens_of_reused(found)
            raise InvalidGrantError("The authorization code has been used.")
        if self.server.now() >= found.expires_at:
            raise InvalidGrantError("The authorization code has expired.")
        return found

    def _revoke_tokens_of_reused(self, code: AuthorizationCodeMixin) -> None:
        if code.family_id is not None:
            self.server.storage.revoke_family(code.family_id, now=self.server.now())
            signals.emit(
                signals.token_revoked,
                client_id=code.client_id,
                user_id=code.user_id,
                family_id=code.family_id,
                reason="authorization_code_reuse",
            )

    def authenticate_user(self, authorization_code: AuthorizationCodeMixin) -> Any:
        return self.server.load_user(authorization_code.user_id)

    def delete_authorization_code(self, authorization_code: Any) -> None:
        """Never called: :meth:`create_token_response` marks codes used instead."""

    @hooked  # type: ignore[untyped-decorator]
    def create_token_response(
        self,
    ) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        code: AuthorizationCodeMixin = self.request.authorization_code
        client: ClientMixin = self.request.client
        user = self.authenticate_user(code)
        if user is None:
            raise InvalidGrantError("The user of this code no longer exists.")
        self.request.user = user
        token: dict[str, Any] = self.generate_token(user=user, scope=code.scope)
        now = self.server.now()
        issued = issued_tokens(token)
        refresh_expires_at = new_grant_refresh_expiry(
            issued, now, self.server.settings.policy_for(client)
        )
        # Read before the commit expires them.
        client_id, user_id = code.client_id, code.user_id
        family_id = self.server.storage.redeem_authorization_code(
            code, issued, now=now, refresh_expires_at=refresh_expires_at
        )
        if family_id is None:  # a concurrent request used it first
            self.server.storage.reload(code)
            self._revoke_tokens_of_reused(code)
            raise InvalidGrantError("The authorization code has been used.")
        announce_new_grant(
            token,
            issued,
            now=now,
            refresh_expires_at=refresh_expires_at,
            family_id=family_id,
            client_id=client_id,
            user_id=user_id,
            grant_type=self.GRANT_TYPE,
        )
        return 200, token, self.TOKEN_RESPONSE_HEADER


class S256CodeChallenge(CodeChallenge):  # type: ignore[misc]
    """PKCE (RFC 7636) as RFC 9700 §2.1.1 wants it: ``S256`` only (``plain``
    is refused, and so is an omitted method, which would mean ``plain``),
    required for public clients, accepted from confidential ones. Every
    failure at the token endpoint is ``invalid_grant``."""

    SUPPORTED_CODE_CHALLENGE_METHOD: ClassVar[list[str]] = ["S256"]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def __init__(self) -> None:
        super().__init__(required=True)

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        payload = grant.request.payload.data
        client: ClientMixin = grant.request.client
        if client.is_public and not payload.get("code_challenge"):
            raise InvalidRequestError(
                "Public clients must send a 'code_challenge' (PKCE)."
            )
        if (
            payload.get("code_challenge")
            and payload.get("code_challenge_method") != "S256"
        ):
            raise InvalidRequestError("'code_challenge_method' must be 'S256'.")
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant: Any, result: Any) -> None:
        try:
            super().validate_code_verifier(grant, result)
        except InvalidRequestError as error:
            raise InvalidGrantError(error.description) from None
