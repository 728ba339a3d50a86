"""The operators' operations on one app — the Python API's methods on
:class:`~.extension.RefreshGrant` and the ``flask oauth2`` commands are both
thin layers over these functions."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from .. import reasons, signals
from ..coercion import TEN_YEARS
from ..config import PER_CLIENT_SETTINGS, TokenPolicy
from ..errors import ClientRegistrationError, NotFoundError
from ..models import ClientMixin
from ..reasons import CLIENT_DELETED, RevokedReason
from ..records import (
    AuditReport,
    AuditViolation,
    AuditViolationKind,
    ClientRecord,
    GrantHistory,
    GrantRecord,
)
from ..server.state import RefreshGrantState
from ..store.admin import ClientCredentials, PurgeCounts
from ..store.audit import FamilyFault
from .grant_records import grant_history as history_of
from .grant_records import grant_record
from .registration import (
    check_client_settings,
    check_grant_types,
    check_redirect_uris,
    check_scope,
    check_served_resources,
)


def create_client(
    app_state: RefreshGrantState,
    *,
    name: str,
    grant_types: Iterable[str],
    scope: str = "",
    redirect_uris: Iterable[str] = (),
    public: bool = False,
    serves_resources: Iterable[str] = (),
    **settings: Any,
) -> ClientCredentials:
    """Check and register a client (see :meth:`.RefreshGrant.create_client`)."""
    if type(public) is not bool:  # "no" is truthy: it would make a public client
        raise ClientRegistrationError(f"public must be True or False, got {public!r}")
    return app_state.admin.create_client(
        served_resources=check_served_resources(serves_resources),
        name=name,
        grant_types=check_grant_types(grant_types, public=public),
        scope=check_scope(scope, app_state.settings),
        redirect_uris=check_redirect_uris(redirect_uris, public=public),
        public=public,
        now=app_state.server.now(),
        settings=check_client_settings(settings),
    )


def purge(app_state: RefreshGrantState, *, older_than: int = 0) -> PurgeCounts:
    """Delete tokens and codes expired or revoked more than ``older_than``
    seconds ago, grace replay copies whose window has closed, used DPoP
    proofs too old to be accepted again, and dynamically registered clients
    that obtained no token within a day; retire signing keys nothing valid
    was signed with."""
    if type(older_than) is not int or not 0 <= older_than <= TEN_YEARS:
        raise ValueError(
            "older_than must be a whole number of seconds from 0 to "
            f"{TEN_YEARS} (ten years), got {older_than!r}"
        )
    admin = app_state.admin
    now = app_state.server.now()
    grace = admin.longest_grace_period(
        app_state.settings.policy.refresh_token_grace_period
    )
    # First, while their tokens are still there to mark the used ones.
    dynamic = app_state.registration.purge(
        now=now, unused_before=now - UNUSED_DYNAMIC_CLIENT_SECONDS
    )
    counts = admin.purge(cutoff=now - older_than, replay_cutoff=now - grace)
    lockouts = app_state.server.lockout.purge()
    proofs = app_state.server.dpop.replays.purge(now=now - older_than)
    return dataclasses.replace(
        counts,
        password_lockouts=lockouts,
        dpop_proofs=proofs,
        dynamic_clients=dynamic,
        signing_keys=app_state.keys.purge(),
    )


#: A dynamic client that obtained no token this long after registering is
#: deleted by ``purge`` (SPEC §12).
UNUSED_DYNAMIC_CLIENT_SECONDS = 86400

# -- clients -------------------------------------------------------------------


def client_record(client: ClientMixin, now: int) -> ClientRecord:
    """``client`` as the management API shows it (never its secret)."""
    kept_until = client.previous_secret_expires_at
    return ClientRecord(
        client_id=client.client_id,
        name=client.client_name,
        grant_types=tuple(client.grant_types.split()),
        scope=client.scope,
        redirect_uris=tuple(client.redirect_uris.split()),
        public=client.is_public,
        created_at=client.created_at,
        settings={s.name: getattr(client, s.name) for s in PER_CLIENT_SETTINGS},
        previous_secret_expires_at=(
            kept_until if kept_until is not None and kept_until > now else None
        ),
        registered_by=client.registered_by,
        serves_resources=tuple((client.served_resources or "").split()),
    )


def _find_client(app_state: RefreshGrantState, client_id: str) -> ClientMixin:
    client = app_state.admin.find_client(client_id)
    if client is None:
        raise NotFoundError(f"no client {client_id!r}")
    return client


def get_client(app_state: RefreshGrantState, client_id: str) -> ClientRecord:
    """One client (see :meth:`.RefreshGrant.get_client`)."""
    return client_record(_find_client(app_state, client_id), app_state.server.now())


def list_clients(app_state: RefreshGrantState) -> list[ClientRecord]:
    """Every client, oldest first."""
    now = app_state.server.now()
    return [client_record(c, now) for c in app_state.admin.all_clients()]


def update_client(
    app_state: RefreshGrantState, client_id: str, **changes: Any
) -> ClientRecord:
    """Check and apply ``changes`` (see :meth:`.RefreshGrant.update_client`)."""
    client = _find_client(app_state, client_id)
    if "public" in changes:
        raise ClientRegistrationError(
            "a client cannot switch between public and confidential; "
            "register a new client instead"
        )
    values: dict[str, Any] = {}
    if "name" in changes:
        name = changes.pop("name")
        if not isinstance(name, str):
            raise ClientRegistrationError(f"name must be a string, got {name!r}")
        values["client_name"] = name
    if "grant_types" in changes:
        grant_types = check_grant_types(
            changes.pop("grant_types"), public=client.is_public
        )
        values["grant_types"] = " ".join(grant_types)
    if "scope" in changes:
        values["scope"] = check_scope(changes.pop("scope"), app_state.settings)
    if "redirect_uris" in changes:
        uris = check_redirect_uris(
            changes.pop("redirect_uris"), public=client.is_public
        )
        values["redirect_uris"] = " ".join(uris)
    if "serves_resources" in changes:
        values["served_resources"] = check_served_resources(
            changes.pop("serves_resources")
        )
    values.update(check_client_settings(changes))
    if not app_state.admin.update_client(client_id, values):
        raise NotFoundError(f"no client {client_id!r}")
    return get_client(app_state, client_id)


def rotate_client_secret(
    app_state: RefreshGrantState, client_id: str, *, keep_old_for: int = 0
) -> ClientCredentials:
    """A new secret (see :meth:`.RefreshGrant.rotate_client_secret`)."""
    if type(keep_old_for) is not int or not 0 <= keep_old_for <= TEN_YEARS:
        raise ClientRegistrationError(
            "keep_old_for must be a whole number of seconds from 0 to "
            f"{TEN_YEARS} (ten years), got {keep_old_for!r}"
        )
    if _find_client(app_state, client_id).is_public:
        raise ClientRegistrationError(
            f"client {client_id!r} is public: it has no secret to rotate"
        )
    now = app_state.server.now()
    secret = app_state.admin.replace_secret(
        client_id, keep_old_until=now + keep_old_for if keep_old_for else None
    )
    if secret is None:
        raise NotFoundError(f"no client {client_id!r}")
    return ClientCredentials(client_id=client_id, client_secret=secret)


def delete_client(app_state: RefreshGrantState, client_id: str) -> int:
    """Revoke every token of the client, then delete it; how many tokens
    were revoked (see :meth:`.RefreshGrant.delete_client`)."""
    revoked = app_state.admin.delete_client(client_id, now=app_state.server.now())
    if revoked is None:
        raise NotFoundError(f"no client {client_id!r}")
    if revoked:
        signals.emit(
            signals.token_revoked,
            client_id=client_id,
            user_id=None,
            family_id=None,
            reason=CLIENT_DELETED,
        )
    return revoked


# -- grants (token families) ---------------------------------------------------


def _policy(app_state: RefreshGrantState, client: ClientMixin | None) -> TokenPolicy:
    """The client's policy now; the app's for a deleted client's tokens."""
    settings = app_state.settings
    return settings.policy if client is None else settings.policy_for(client)


def list_grants(
    app_state: RefreshGrantState,
    *,
    user_id: str | None = None,
    client_id: str | None = None,
    include_inactive: bool = False,
) -> list[GrantRecord]:
    """Grants, oldest first (see :meth:`.RefreshGrant.list_grants`)."""
    if type(include_inactive) is not bool:
        raise TypeError(
            f"include_inactive must be True or False, got {include_inactive!r}"
        )
    now = app_state.server.now()
    admin = app_state.admin
    families = admin.families(
        user_id=None if user_id is None else str(user_id),
        client_id=client_id,
        live_at=None if include_inactive else now,
    )
    records = [grant_record(f, _policy(app_state, f.client), now) for f in families]
    if not include_inactive:
        records = [r for r in records if r.status == "active"]
    if client_id is not None and not records and not admin.client_exists(client_id):
        raise NotFoundError(f"no client {client_id!r}")
    return records


def grant_history(
    app_state: RefreshGrantState, grant_id: str, *, user_id: str | None = None
) -> GrantHistory:
    """A grant and its refresh tokens (see :meth:`.RefreshGrant.grant_history`)."""
    admin = app_state.admin
    found = admin.families(
        family_id=grant_id, user_id=None if user_id is None else str(user_id)
    )
    if not found:
        raise NotFoundError(f"no grant {grant_id!r}")
    family = found[0]
    return history_of(
        family,
        admin.family_tokens(grant_id),
        _policy(app_state, family.client),
        app_state.server.now(),
    )


def revoke_grant(
    app_state: RefreshGrantState,
    grant_id: str,
    *,
    reason: RevokedReason,
    user_id: str | None = None,
) -> int:
    """Revoke a grant's refresh and access tokens, recording ``reason``;
    how many were live (see :meth:`.RefreshGrant.revoke_grant`)."""
    admin = app_state.admin
    owner = None if user_id is None else str(user_id)
    found = admin.families(family_id=grant_id, user_id=owner)
    if not found:
        raise NotFoundError(f"no grant {grant_id!r}")
    head = found[0].head
    client_id, family_user = head.client_id, head.user_id
    revoked = admin.revoke_all(
        now=app_state.server.now(), reason=reason, family_id=grant_id
    )
    if revoked:
        signals.emit(
            signals.token_revoked,
            client_id=client_id,
            user_id=family_user,
            family_id=grant_id,
            reason=reason,
        )
    return revoked


# -- audit ---------------------------------------------------------------------


def _violations(
    kind: AuditViolationKind, faults: list[FamilyFault]
) -> list[AuditViolation]:
    return [
        AuditViolation(kind, f.table, f.family_id, f.token_id, f.count) for f in faults
    ]


def audit(app_state: RefreshGrantState) -> AuditReport:
    """Check the stored tokens' invariants and count them by status (see
    :meth:`.RefreshGrant.audit`)."""
    admin = app_state.admin
    now = app_state.server.now()
    grants, revoked_grants = admin.family_count()
    return AuditReport(
        checked_at=now,
        refresh_tokens=admin.refresh_token_counts(
            now=now,
            absolute_lifetime=app_state.settings.policy.refresh_token_absolute_lifetime,
        ),
        access_tokens=admin.access_token_counts(now=now),
        authorization_codes=admin.code_counts(now=now),
        grants=grants,
        revoked_grants=revoked_grants,
        violations=tuple(
            _violations("two_live_refresh_tokens", admin.forked_families())
            + _violations("usable_after_revocation", admin.usable_after_revocation())
            + _violations("token_without_family", admin.tokens_without_family())
        ),
    )


def revoke_user(app_state: RefreshGrantState, user_id: str) -> int:
    """Revoke every token of ``user_id`` (see :meth:`.RefreshGrant.revoke_user`)."""
    revoked = app_state.admin.revoke_all(
        now=app_state.server.now(), reason=reasons.USER, user_id=user_id
    )
    if revoked:
        signals.emit(
            signals.token_revoked,
            client_id=None,
            user_id=user_id,
            family_id=None,
            reason=reasons.USER,
        )
    return revoked
