"""What every grant here shares: :class:`GrantMixin` — client
authentication methods, scope checks, the client's
:class:`~flask_refreshgrant.config.TokenPolicy` read once per request, and
fresh grants finished through :mod:`.issuing`."""

from __future__ import annotations

from functools import cached_property
from typing import Any, ClassVar

from authlib.oauth2.rfc6749.errors import InvalidScopeError

from ..config import TokenPolicy
from ..dpop.proofs import InvalidDPoPProofError, Proof
from ..models import ClientMixin
from . import resources
from .issuing import finish_new_grant
from .protocols import GrantServer

#: Every grant accepts all three client authentication methods; which one a
#: client may use follows from whether it has a secret (models.ClientMixin).
TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]


class GrantMixin:
    """What every grant here shares (mixed in before Authlib's grant class)."""

    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = TOKEN_ENDPOINT_AUTH_METHODS
    GRANT_TYPE: ClassVar[str]
    server: GrantServer
    request: Any

    @cached_property
    def policy(self) -> TokenPolicy:
        """The rules for this request's client (a grant lives for one request)."""
        return self.server.settings.policy_for(self.request.client)

    def authenticate_token_endpoint_client(self) -> ClientMixin:
        """Authlib's, then RFC 9449 §5.2: a client registered with
        ``dpop_bound_access_tokens`` must send a DPoP proof."""
        client: ClientMixin = super().authenticate_token_endpoint_client()  # type: ignore[misc]
        self.request.client = client
        if self.policy.dpop_bound_access_tokens and self.request.dpop is None:
            raise InvalidDPoPProofError("This client must send a DPoP proof.")
        # RFC 8707: before anything is read or written for the grant.
        resources.check_named(self.named_resources, self.server.settings)
        return client

    @property
    def named_resources(self) -> tuple[str, ...]:
        """The token request's ``resource`` parameters (RFC 8707)."""
        return resources.token_request_resources(self.request)

    @property
    def proof(self) -> Proof | None:
        """The request's accepted DPoP proof, if any (see :mod:`..server.authorization_server`)."""
        proof: Proof | None = getattr(self.request, "dpop", None)
        return proof

    def new_grant_bindings(self) -> tuple[str | None, str | None]:
        """The DPoP keys a new family's access and refresh tokens are bound
        to: the access token to the proof's, and a public client's refresh
        token too (a confidential client's refresh token is bound to its
        credentials already, RFC 9449 §5)."""
        proof = self.proof
        if proof is None:
            return None, None
        client: ClientMixin = self.request.client
        return proof.jkt, proof.jkt if client.is_public else None

    def validate_requested_scope(self) -> None:
        """RFC 6749 §3.3: a scope the server or the client does not know is
        ``invalid_scope`` rather than silently dropped."""
        scope = self.request.payload.scope
        self.server.validate_requested_scope(scope)
        client: ClientMixin = self.request.client
        if scope and not set(scope.split()) <= set(client.scopes):
            raise InvalidScopeError()

    def generate_token(
        self,
        user: Any = None,
        scope: str | None = None,
        grant_type: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        """Authlib's, with the access token lifetime of the client's policy."""
        token: dict[str, Any] = super().generate_token(  # type: ignore[misc]
            user=user,
            scope=scope,
            grant_type=grant_type,
            expires_in=expires_in or self.policy.access_token_validity_period,
            include_refresh_token=include_refresh_token,
        )
        if self.proof is not None:
            token["token_type"] = "DPoP"  # RFC 9449 §5
        return token

    def save_token(self, token: dict[str, Any]) -> None:
        """Store the tokens of a fresh grant (Authlib calls this from the
        password and client credentials grants)."""
        user = self.request.user
        access_token_jkt, refresh_token_jkt = self.new_grant_bindings()
        targets = resources.for_new_grant(self.named_resources)
        finish_new_grant(
            token,
            policy=self.policy,
            now=self.server.now(),
            client_id=self.request.client.client_id,
            user_id=None if user is None else self.server.get_user_id(user),
            grant_type=self.GRANT_TYPE,
            store=self.server.store.issue_new_grant,
            access_token_jkt=access_token_jkt,
            refresh_token_jkt=refresh_token_jkt,
            audience=targets.audience,
            resources=targets.grant,
        )
