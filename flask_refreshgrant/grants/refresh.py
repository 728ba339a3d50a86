"""The refresh token grant (RFC 6749 §6) with WSO2's two knobs, expiry,
atomic rotation and reuse detection (RFC 9700 §4.14.2)."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidRequestError
from authlib.oauth2.rfc6749.hooks import hooked
from flask import current_app

from .. import reasons, signals
from ..dpop.proofs import same_key
from ..models import ClientMixin, RefreshTokenMixin
from ..store.rows import IssuedTokens
from . import grace, lifetimes
from .common import GrantMixin
from .issuing import set_refresh_expires_in
from .resources import for_refresh


def invalid_refresh_token() -> InvalidGrantError:
    """One error body for unknown, expired, revoked, rotated-out and foreign
    refresh tokens, so the response is no oracle."""
    return InvalidGrantError("The refresh token is invalid, expired or revoked.")


class RefreshTokenGrant(GrantMixin, grants.RefreshTokenGrant):  # type: ignore[misc]
    """Refresh an access token (RFC 6749 §6), with WSO2's two knobs.

    Renewal on (``OAUTH2_RENEW_REFRESH_TOKEN_FOR_REFRESH_GRANT``, default; and
    always for public clients, RFC 9700 §2.2.2): the presented token is
    retired and a successor issued in one transaction. Renewal off: the same
    refresh token is returned, untouched, until it expires.

    A refresh token bound to a DPoP key (RFC 9449 §5) needs a proof of that
    key, checked before anything else about the token, so a request without
    the key consumes nothing and revokes nothing; being sender-constrained,
    a public client's bound token follows the renew flag (RFC 9700 §2.2.2).
    """

    @property
    def INCLUDE_NEW_REFRESH_TOKEN(self) -> bool:
        client: ClientMixin = self.request.client
        if self.policy.renew_refresh_token:
            return True
        old: RefreshTokenMixin = self.request.refresh_token
        return client.is_public and old.dpop_jkt is None

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
            storage = self.server.store
            self._presented = (value, storage.find_refresh_token_and_client(value))
        super().validate_token_request()

    def authenticate_refresh_token(
        self, refresh_token: str
    ) -> RefreshTokenMixin | None:
        if self._presented is not None and self._presented[0] == refresh_token:
            return self._presented[1]
        return self.server.store.find_refresh_token(refresh_token)

    def _validate_request_token(self, client: ClientMixin) -> RefreshTokenMixin:
        value = self.request.form.get("refresh_token")
        if not value:
            raise InvalidRequestError("Missing 'refresh_token' in request.")
        token = self.authenticate_refresh_token(value)
        # Client binding first: another client replaying a stale token must
        # not be able to revoke the owner's family.
        if token is None or not token.check_client(client):
            raise invalid_refresh_token()
        # The key next, for the same reason (RFC 9449 §5).
        if not same_key(token.dpop_jkt, self.proof):
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
        """The response ``token``'s rotation returned, while its grace period
        runs (see :func:`.grace.replayed_response`), to a retry of the same
        request (same client — checked before — same ``scope`` and
        ``resource``), while
        the replayed access token is live and the user still loads. Else
        ``None``: the token is a rotated-out one."""
        now = self.server.now()
        response = grace.replayed_response(
            token,
            now=now,
            grace_period=self.policy.refresh_token_grace_period,
            secret_key=current_app.config.get("SECRET_KEY"),
            scope=self.request.payload.scope,
            resource=self.named_resources,
        )
        if response is None:
            return None
        access = self.server.store.find_access_token(response["access_token"])
        if access is None or access.is_revoked() or access.expires_at <= now:
            return None
        if self.authenticate_user(token) is None:
            return None
        return response

    def _replay(
        self, token: RefreshTokenMixin, response: dict[str, Any]
    ) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        """Answer a retry of ``token``'s rotation with the response it got."""
        signals.emit(
            signals.grace_replay_served,
            client_id=token.client_id,
            user_id=token.user_id,
            family_id=token.family_id,
        )
        return 200, response, self.TOKEN_RESPONSE_HEADER

    def _revoke_reused_family(self, token: RefreshTokenMixin) -> None:
        """RFC 9700 §4.14.2: a rotated-out token came back, so either the
        client or an attacker holds a stolen copy; end the whole grant.

        The family records reason ``reuse_detected``; the signal is
        ``refresh_token_reuse_detected`` (not ``token_revoked``)."""
        self.server.store.revoke_family(
            token.family_id, now=self.server.now(), reason=reasons.REUSE_DETECTED
        )
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
        old: RefreshTokenMixin = self.request.refresh_token
        if self.request.replay_response is not None:
            return self._replay(old, self.request.replay_response)
        user = self.authenticate_user(old)
        if user is None:
            raise InvalidGrantError("The user of this refresh token no longer exists.")
        self.request.user = user

        # RFC 8707 §2.2: a subset of the grant's resources narrows the
        # audience; one outside it is invalid_target, and consumes nothing.
        audience = for_refresh(
            self.named_resources, old.resources, self.server.settings
        )
        # RFC 6749 §6: omitted scope means the originally granted scope.
        scope = self.request.payload.scope or old.scope
        token: dict[str, Any] = self.generate_token(
            user=user, scope=scope, include_refresh_token=self.INCLUDE_NEW_REFRESH_TOKEN
        )
        policy = self.policy
        now = self.server.now()
        proof = self.proof
        issued = IssuedTokens.from_response(
            token,
            access_token_jkt=None if proof is None else proof.jkt,
            audience=audience,
        )
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
                sealed = grace.seal(
                    current_app.config.get("SECRET_KEY"),
                    token,
                    scope=self.request.payload.scope,
                    resource=self.named_resources,
                )
            if not self.server.store.rotate(
                old, issued, now=now, expires_at=expires_at, replay=sealed
            ):
                # Lost the race for this token to a concurrent request: within
                # a grace period, answer as the winner was answered; else it is
                # a rotated-out token now, and counts as reused.
                self.server.store.reload(old)
                again = self._grace_replay(old)
                if again is not None:
                    return self._replay(old, again)
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
            if not self.server.store.issue_access_token(old, issued, now=now):
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
