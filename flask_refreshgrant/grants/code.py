"""The authorization code grant (RFC 6749 §4.1) with PKCE (RFC 7636) as
RFC 9700 §2.1.1 wants it."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidRequestError
from authlib.oauth2.rfc6749.hooks import hooked
from authlib.oauth2.rfc7636 import CodeChallenge

from .. import reasons, signals
from ..dpop.proofs import same_key
from ..issuer import issuer_url
from ..models import AuthorizationCodeMixin, ClientMixin
from ..resource_uris import joined
from ..store.rows import IssuedTokens
from .common import GrantMixin
from .issuing import finish_new_grant
from .oidc import CodeFacts, has_openid, refresh_without_offline_access
from .resources import authorization_request_resources, for_new_grant

#: Seconds an authorization code is valid (RFC 6749 §4.1.2: "10 minutes" at most).
AUTHORIZATION_CODE_LIFETIME = 600


class AuthorizationCodeGrant(GrantMixin, grants.AuthorizationCodeGrant):  # type: ignore[misc]
    """Authorization code (RFC 6749 §4.1) with PKCE (:class:`S256CodeChallenge`).

    Codes are stored as digests, bound to client, redirect URI and challenge,
    valid for :data:`AUTHORIZATION_CODE_LIFETIME` seconds and single-use:
    exchanging one marks it used in the transaction that stores its tokens,
    and presenting it again revokes those tokens (§4.1.2).
    """

    def create_authorization_response(
        self, redirect_uri: str, grant_user: Any
    ) -> tuple[int, str, list[tuple[str, str]]]:
        """Authlib's redirect with the code, plus ``iss`` (RFC 9207): the
        client can tell which server answered (mix-up defence, RFC 9700
        §4.4). Error redirects get it in the server's error handling."""
        status, body, headers = super().create_authorization_response(
            redirect_uri, grant_user
        )
        iss = [("iss", issuer_url(self.server.settings))]
        return (
            status,
            body,
            [
                (name, add_params_to_uri(value, iss) if name == "Location" else value)
                for name, value in headers
            ],
        )

    @staticmethod
    def validate_authorization_redirect_uri(request: Any, client: Any) -> str:
        """Authlib's, without the requested URI in the description: Authlib
        put it there, and one holding a quote, a backslash or a non-ASCII
        character (not allowed in an ``error_description``) raised
        ``ValueError``, a 500."""
        redirect_uri: str | None = request.payload.redirect_uri
        if redirect_uri and not client.check_redirect_uri(redirect_uri):
            raise InvalidRequestError(
                "The redirect_uri is not registered for this client."
            )
        validated: str = (
            grants.AuthorizationCodeGrant.validate_authorization_redirect_uri(
                request, client
            )
        )
        return validated

    def save_authorization_code(self, code: str, request: Any) -> None:
        now = self.server.now()
        payload = request.payload.data
        self.server.store.save_authorization_code(
            code,
            client_id=request.client.client_id,
            user_id=self.server.get_user_id(request.user),
            redirect_uri=request.payload.redirect_uri,
            scope=request.scope or "",
            code_challenge=payload.get("code_challenge"),
            code_challenge_method=payload.get("code_challenge_method"),
            now=now,
            expires_at=now + AUTHORIZATION_CODE_LIFETIME,
            dpop_jkt=DPoPKeyThumbprint.requested(self),
            nonce=payload.get("nonce") if has_openid(request.scope) else None,
            # As the app reported it (AuthorizationRequest.approve), else now:
            # the time of consent.
            auth_time=getattr(request, "auth_time", None) or now,
            resources=joined(authorization_request_resources(request)),
        )

    def query_authorization_code(
        self, code: str, client: ClientMixin
    ) -> AuthorizationCodeMixin | None:
        found = self.server.store.find_authorization_code(code)
        if found is None or found.client_id != client.client_id:
            return None
        # RFC 9449 §10: a code bound to a key needs a proof of it, checked
        # before a reuse can revoke anything.
        if not same_key(found.dpop_jkt, self.proof):
            raise InvalidGrantError(
                "The authorization code is bound to another DPoP key."
            )
        if found.used_at is not None:
            self._revoke_tokens_of_reused(found)
            raise InvalidGrantError("The authorization code has been used.")
        if self.server.now() >= found.expires_at:
            raise InvalidGrantError("The authorization code has expired.")
        return found

    def _revoke_tokens_of_reused(self, code: AuthorizationCodeMixin) -> None:
        if code.family_id is not None:
            self.server.store.revoke_family(
                code.family_id, now=self.server.now(), reason=reasons.REUSE_DETECTED
            )
            signals.emit(
                signals.token_revoked,
                client_id=code.client_id,
                user_id=code.user_id,
                family_id=code.family_id,
                reason=reasons.REUSE_DETECTED,
            )

    def authenticate_user(self, authorization_code: AuthorizationCodeMixin) -> Any:
        return self.server.load_user(authorization_code.user_id)

    def login_time(self) -> int | None:
        code: AuthorizationCodeMixin = self.request.authorization_code
        return code.auth_time or code.issued_at

    def delete_authorization_code(self, authorization_code: Any) -> None:
        """Never called: :meth:`create_token_response` marks codes used instead."""

    @hooked  # type: ignore[untyped-decorator]
    def create_token_response(
        self,
    ) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        code: AuthorizationCodeMixin = self.request.authorization_code
        user = self.authenticate_user(code)
        if user is None:
            raise InvalidGrantError("The user of this code no longer exists.")
        self.request.user = user
        # RFC 8707 §2.2: a subset of the code's resources, checked before
        # the code is used.
        targets = for_new_grant(self.named_resources, code.resources)
        self.access_token_audience = targets.audience
        token: dict[str, Any] = self.generate_token(
            user=user,
            scope=code.scope,
            include_refresh_token=not refresh_without_offline_access(
                self.server, code.scope
            ),
        )
        if has_openid(code.scope):  # grants.oidc.OpenIDCode adds the id_token
            # ... after the code is redeemed: a key that cannot sign must
            # fail the request before that, so a retry can still succeed.
            self.server.keys.check_can_sign()
            self.request.openid = CodeFacts(code)
        auth_time = self.login_time()
        store = self.server.store
        access_token_jkt, refresh_token_jkt = self.new_grant_bindings()

        def redeem(
            issued: IssuedTokens, *, now: int, refresh_expires_at: int | None, **_: Any
        ) -> str | None:
            family_id = store.redeem_authorization_code(
                code, issued, now=now, refresh_expires_at=refresh_expires_at
            )
            if family_id is None:  # a concurrent request used it first
                store.reload(code)
                self._revoke_tokens_of_reused(code)
                raise InvalidGrantError("The authorization code has been used.")
            return family_id

        finish_new_grant(
            token,
            policy=self.policy,
            now=self.server.now(),
            # Read before the commit expires them.
            client_id=code.client_id,
            user_id=code.user_id,
            grant_type=self.GRANT_TYPE,
            store=redeem,
            access_token_jkt=access_token_jkt,
            refresh_token_jkt=refresh_token_jkt,
            access_token_jti=self.access_token_jti,
            auth_time=auth_time,
            audience=targets.audience,
            resources=targets.grant,
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


#: A JWK SHA-256 thumbprint: 32 bytes, base64url without padding.
_JKT = re.compile(r"[A-Za-z0-9_-]{43}")


class DPoPKeyThumbprint:
    """``dpop_jkt`` at the authorization endpoint (RFC 9449 §10): the code is
    bound to that key. A malformed value is ``invalid_request``, sent back to
    the client's redirect URI; with DPoP off the parameter is ignored."""

    def __call__(self, grant: Any) -> None:
        grant.register_hook(
            "after_validate_authorization_request_payload", self.validate
        )

    def validate(self, grant: Any, redirect_uri: Any) -> None:
        value = grant.request.payload.data.get("dpop_jkt")
        if not grant.server.dpop.enabled:
            return
        if value is not None and not _JKT.fullmatch(value):
            raise InvalidRequestError("'dpop_jkt' must be a JWK SHA-256 thumbprint.")

    @staticmethod
    def requested(grant: Any) -> str | None:
        """The ``dpop_jkt`` to bind a code to, if DPoP is on."""
        value = grant.request.payload.data.get("dpop_jkt")
        if not grant.server.dpop.enabled or not isinstance(value, str):
            return None
        return value if _JKT.fullmatch(value) else None
