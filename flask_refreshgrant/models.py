"""Typed SQLAlchemy mixins, and the default models built from them once per ``db``.

The mixins carry the columns and the small methods Authlib's protocol code
calls (``check_client_secret``, ``get_scope``, …). The default concrete
models live on the user's own ``db`` in tables named ``oauth2_*``, so
``db.create_all()`` and Alembic autogenerate see them. A user who needs extra
columns subclasses the mixins and passes a :class:`Models` to ``init_app``.

No table stores a token or a client secret, only its SHA-256 digest.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast
from weakref import WeakKeyDictionary

from authlib.oauth2.rfc6749 import AuthorizationCodeMixin as AuthlibCodeMixin
from authlib.oauth2.rfc6749 import ClientMixin as AuthlibClientMixin
from authlib.oauth2.rfc6749 import TokenMixin as AuthlibTokenMixin
from sqlalchemy import BigInteger, Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeEngine

from .config import PER_CLIENT_SETTINGS, per_client_coercion
from .key_models import SigningKeyMixin
from .redirect_uris import redirect_uri_matches
from .registration_models import RegistrationLimitMixin, RegistrationTokenMixin
from .security import digests_match

if TYPE_CHECKING:
    from flask_sqlalchemy import SQLAlchemy

#: Primary keys: 64-bit on servers, SQLite's rowid alias on SQLite.
_ID = BigInteger().with_variant(Integer(), "sqlite")

#: Authentication methods at the token, revocation and introspection endpoints.
CONFIDENTIAL_AUTH_METHODS = ("client_secret_basic", "client_secret_post")
PUBLIC_AUTH_METHOD = "none"


def _split(value: str | None) -> list[str]:
    return value.split() if value else []


class ClientMixin(AuthlibClientMixin):  # type: ignore[misc]
    """A registered OAuth 2.0 client.

    A client without a secret digest is public (RFC 6749 §2.1): it
    authenticates with ``none`` and its refresh tokens always rotate.
    Every per-client setting of :data:`~.config.SETTINGS` is a nullable
    column of the same name (added below the class) that overrides the app's
    value for this client; ``None`` inherits.
    """

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    client_secret_digest: Mapped[str | None] = mapped_column(String(64))
    client_name: Mapped[str] = mapped_column(String(200), default="")
    #: Space-separated lists.
    redirect_uris: Mapped[str] = mapped_column(Text, default="")
    grant_types: Mapped[str] = mapped_column(Text, default="")
    scope: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[int] = mapped_column(BigInteger, default=0)
    #: After a secret rotation with an overlap window: the replaced secret's
    #: digest, accepted until ``previous_secret_expires_at``; else ``None``.
    previous_secret_digest: Mapped[str | None] = mapped_column(String(64))
    previous_secret_expires_at: Mapped[int | None] = mapped_column(BigInteger)
    #: ``"dynamic"`` for a client that registered itself (RFC 7591); else
    #: ``None`` (an operator registered it).
    registered_by: Mapped[str | None] = mapped_column(String(16))
    #: For a dynamic client: when ``purge`` first found a token of it (it
    #: is then kept); ``None``: none seen yet.
    token_seen_at: Mapped[int | None] = mapped_column(BigInteger)
    #: The resources (RFC 8707) this client serves as a resource server,
    #: space-separated: it may introspect any access token whose audience
    #: names one of them (RFC 7662 §4). ``None``: only its own tokens.
    served_resources: Mapped[str | None] = mapped_column(Text)

    @property
    def is_public(self) -> bool:
        return not self.client_secret_digest

    @property
    def scopes(self) -> list[str]:
        return _split(self.scope)

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        uris = _split(self.redirect_uris)
        return uris[0] if uris else None

    def get_allowed_scope(self, scope: str | None) -> str:
        """The requested scopes this client may have, in request order."""
        if scope is None:
            return self.scope or ""
        allowed = set(self.scopes)
        return " ".join(s for s in dict.fromkeys(scope.split()) if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        """Exact match, except any port for a loopback ``http`` URI
        registered without one (RFC 8252 §7.3)."""
        return any(
            redirect_uri_matches(registered, redirect_uri)
            for registered in _split(self.redirect_uris)
        )

    def check_client_secret(self, client_secret: str, now: int | None = None) -> bool:
        """The current secret, or the one it replaced while the rotation's
        overlap window lasts (until ``previous_secret_expires_at``).

        :param now: the app's clock (the server passes it); default: the
            system clock.
        """
        if digests_match(client_secret, self.client_secret_digest):
            return True
        expires_at = self.previous_secret_expires_at
        if expires_at is None:
            return False
        if now is None:
            now = int(time.time())
        return now < expires_at and digests_match(
            client_secret, self.previous_secret_digest
        )

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.is_public:
            return method == PUBLIC_AUTH_METHOD
        return method in CONFIDENTIAL_AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and self.check_grant_type("authorization_code")

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in _split(self.grant_types)


#: SQL types of per-client setting columns, by the setting's Python type.
_COLUMN_TYPES: dict[type, Callable[[], TypeEngine[Any]]] = {
    int: BigInteger,
    bool: Boolean,
    str: lambda: String(32),
}

for _setting in PER_CLIENT_SETTINGS:
    setattr(
        ClientMixin,
        _setting.name,
        mapped_column(
            _COLUMN_TYPES[per_client_coercion(_setting).python_type](), nullable=True
        ),
    )


class _IssuedTokenMixin(AuthlibTokenMixin):  # type: ignore[misc]
    """Columns shared by access and refresh tokens."""

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    #: SHA-256 hex digest of the token, looked up through a unique index.
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str | None] = mapped_column(String(255), index=True)
    scope: Mapped[str] = mapped_column(Text, default="")
    #: The grant type that started the family (``password``, …).
    grant_type: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[int] = mapped_column(BigInteger)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger)
    #: The JWK SHA-256 thumbprint (RFC 7638) of the DPoP key the token is
    #: bound to (RFC 9449), or ``None``: a bearer token.
    dpop_jkt: Mapped[str | None] = mapped_column(String(64))

    def check_client(self, client: ClientMixin) -> bool:
        return bool(self.client_id == client.get_client_id())

    def get_scope(self) -> str:
        return self.scope

    def get_user_id(self) -> str | None:
        return self.user_id

    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class RefreshTokenMixin(_IssuedTokenMixin):
    """One refresh token: a link in its family's chain of rotations.

    ``family_id`` names the grant every token descends from; ``parent_id`` is
    the token this one replaced. A rotated-out token keeps its row (with
    ``rotated_at``) so that presenting it again can be recognised as reuse.
    """

    family_id: Mapped[str] = mapped_column(String(64), index=True)
    parent_id: Mapped[int | None] = mapped_column(BigInteger)
    #: When the family's first refresh token was issued (absolute lifetime).
    family_issued_at: Mapped[int] = mapped_column(BigInteger)
    #: ``None``: never expires.
    expires_at: Mapped[int | None] = mapped_column(BigInteger)
    rotated_at: Mapped[int | None] = mapped_column(BigInteger)
    #: Why the family was revoked (set with ``revoked_at``): ``revocation``
    #: (RFC 7009 endpoint), ``reuse_detected`` (a rotated-out token or a used
    #: authorization code came back), ``cli``, ``user`` or ``client_deleted``.
    revoked_reason: Mapped[str | None] = mapped_column(String(32))
    #: While the grace period after this token's rotation lasts: the response
    #: its rotation returned, encrypted (see ``grace.py``); else ``None``.
    replay: Mapped[str | None] = mapped_column(Text)
    #: OIDC ``auth_time``: when the family's login was (``None``: unknown).
    auth_time: Mapped[int | None] = mapped_column(BigInteger)
    #: The resources (RFC 8707) the grant was given for, space-separated,
    #: kept by every token of the family; ``None``: none named (the
    #: default audience).
    resources: Mapped[str | None] = mapped_column(Text)

    def get_expires_in(self) -> int:
        if self.expires_at is None:
            return 0
        return max(0, self.expires_at - self.issued_at)

    def is_rotated(self) -> bool:
        return self.rotated_at is not None


class AccessTokenMixin(_IssuedTokenMixin):
    """One bearer access token; ``family_id`` is ``None`` for client credentials."""

    family_id: Mapped[str | None] = mapped_column(String(64), index=True)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    #: ``None``: opaque; ``"jwt"``: RFC 9068, ``digest`` is its ``jti``'s.
    token_format: Mapped[str | None] = mapped_column(String(16))
    #: The resources (RFC 8707) this token is for, space-separated: its
    #: audience; ``None``: ``OAUTH2_DEFAULT_RESOURCE`` (else the issuer).
    audience: Mapped[str | None] = mapped_column(Text)

    def get_expires_in(self) -> int:
        return max(0, self.expires_at - self.issued_at)

    def expires_in_at(self, now: int) -> int:
        return max(0, self.expires_at - now)


class AuthorizationCodeMixin(AuthlibCodeMixin):  # type: ignore[misc]
    """A single-use authorization code (RFC 6749 §4.1), bound to its client,
    redirect URI and PKCE challenge. ``family_id`` names the tokens it was
    exchanged for, so that presenting it again revokes them (§4.1.2)."""

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str] = mapped_column(String(255))
    #: As given in the authorization request (``None`` if it was omitted).
    redirect_uri: Mapped[str | None] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text, default="")
    code_challenge: Mapped[str | None] = mapped_column(String(128))
    code_challenge_method: Mapped[str | None] = mapped_column(String(10))
    issued_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    used_at: Mapped[int | None] = mapped_column(BigInteger)
    family_id: Mapped[str | None] = mapped_column(String(64))
    #: ``dpop_jkt`` of the authorization request (RFC 9449 §10): the code is
    #: redeemable only with a DPoP proof of that key.
    dpop_jkt: Mapped[str | None] = mapped_column(String(64))
    nonce: Mapped[str | None] = mapped_column(Text)  # OpenID Connect
    auth_time: Mapped[int | None] = mapped_column(BigInteger)
    #: The resources (RFC 8707) of the authorization request, space-separated;
    #: ``None``: none named.
    resources: Mapped[str | None] = mapped_column(Text)

    def get_redirect_uri(self) -> str | None:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


class PasswordLockoutMixin:
    """Failed password checks of one username, and its lock (RFC 6749
    §4.3.2; see ``grants/lockout.py``). Rows exist for unknown usernames too, so
    that the lock says nothing about which usernames exist; the username
    itself is stored only as a SHA-256 digest (a username field sometimes
    receives a password)."""

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    username_digest: Mapped[str] = mapped_column(String(64), unique=True)
    #: Failed checks since the last success or the last lock.
    failures: Mapped[int] = mapped_column(Integer, default=0)
    #: Length of the last lock (``0``: never locked); the next one doubles it.
    lock_seconds: Mapped[int] = mapped_column(BigInteger, default=0)
    #: While in the future, every check of this username is refused.
    locked_until: Mapped[int | None] = mapped_column(BigInteger)
    last_failure_at: Mapped[int] = mapped_column(BigInteger)


class DPoPProofMixin:
    """A DPoP proof already seen (RFC 9449 §11.1), kept while it could still be
    accepted, so that its ``jti`` is accepted once by every instance."""

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    #: SHA-256 hex digest of the proof's key thumbprint and ``jti``.
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    #: When the proof's ``iat`` is too old to be accepted anyway (purge).
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)


@dataclasses.dataclass(frozen=True)
class Models:
    """The concrete model classes the extension reads and writes.

    ``password_lockout``, ``dpop_proof`` and ``signing_key`` may be left out
    (code written for the first four models keeps working): ``init_app``
    then adds the default ``oauth2_password_lockout``, ``oauth2_dpop_proof``
    and ``oauth2_signing_key`` models on the app's ``db``.
    """

    client: type[ClientMixin]
    refresh_token: type[RefreshTokenMixin]
    access_token: type[AccessTokenMixin]
    authorization_code: type[AuthorizationCodeMixin]
    password_lockout: type[PasswordLockoutMixin] | None = None
    dpop_proof: type[DPoPProofMixin] | None = None
    signing_key: type[SigningKeyMixin] | None = None
    registration_token: type[RegistrationTokenMixin] | None = None
    registration_limit: type[RegistrationLimitMixin] | None = None


_default_models: WeakKeyDictionary[SQLAlchemy, Models] = WeakKeyDictionary()
#: The default model classes built on each ``db``, by table name (mapped once).
_built: WeakKeyDictionary[SQLAlchemy, dict[str, type[Any]]] = WeakKeyDictionary()

_Mixin = TypeVar("_Mixin")


def _default_model(
    db: SQLAlchemy, mixin: type[_Mixin], class_name: str, table: str
) -> type[_Mixin]:
    """The model ``class_name`` on ``db`` from ``mixin``, in ``table``."""
    built = _built.setdefault(db, {})
    if table not in built:
        base: Any = db.Model
        built[table] = type(class_name, (mixin, base), {"__tablename__": table})
    return cast("type[_Mixin]", built[table])


#: The optional models ``init_app`` adds on the app's ``db`` when
#: :class:`Models` leaves them out: ``oauth2_<field>`` tables.
_OPTIONAL_MODELS: dict[str, type[Any]] = {
    "password_lockout": PasswordLockoutMixin,
    "dpop_proof": DPoPProofMixin,
    "signing_key": SigningKeyMixin,
    "registration_token": RegistrationTokenMixin,
    "registration_limit": RegistrationLimitMixin,
}


def is_default_model(model: type[Any]) -> bool:
    """Whether ``model`` is a default model (nothing of an app's own)."""
    return any(model in built.values() for built in _built.values())


def complete_models(db: SQLAlchemy, models: Models | None) -> Models:
    """``models`` (default: :func:`default_models`), with the default
    lockout, DPoP proof, signing key and registration models on ``db``
    where it has none."""
    if models is None:
        return default_models(db)
    for field, mixin in _OPTIONAL_MODELS.items():
        if getattr(models, field) is None:
            name = "OAuth2" + mixin.__name__.removesuffix("Mixin")
            built = _default_model(db, mixin, name, f"oauth2_{field}")
            models = dataclasses.replace(models, **{field: built})
    return models


def default_models(db: SQLAlchemy) -> Models:
    """The default models on ``db``, built on first call and reused after."""
    models = _default_models.get(db)
    if models is None:
        models = complete_models(
            db,
            Models(
                client=_default_model(db, ClientMixin, "OAuth2Client", "oauth2_client"),
                refresh_token=_default_model(
                    db, RefreshTokenMixin, "OAuth2RefreshToken", "oauth2_refresh_token"
                ),
                access_token=_default_model(
                    db, AccessTokenMixin, "OAuth2AccessToken", "oauth2_access_token"
                ),
                authorization_code=_default_model(
                    db,
                    AuthorizationCodeMixin,
                    "OAuth2AuthorizationCode",
                    "oauth2_authorization_code",
                ),
            ),
        )
        _default_models[db] = models
    return models
