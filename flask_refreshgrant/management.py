"""The operators' operations on one app — the Python API's methods on
:class:`~.extension.RefreshGrant` and the ``flask oauth2`` commands are both
thin layers over these functions."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from .registration import check_client_settings, check_grant_types, check_scope
from .state import RefreshGrantState
from .store.admin import ClientCredentials, PurgeCounts


def create_client(
    app_state: RefreshGrantState,
    *,
    name: str,
    grant_types: Iterable[str],
    scope: str = "",
    redirect_uris: Iterable[str] = (),
    public: bool = False,
    **settings: Any,
) -> ClientCredentials:
    """Check and register a client (see :meth:`.RefreshGrant.create_client`)."""
    return app_state.admin.create_client(
        name=name,
        grant_types=check_grant_types(grant_types, public=public),
        scope=check_scope(scope, app_state.settings),
        redirect_uris=list(dict.fromkeys(redirect_uris)),
        public=public,
        now=app_state.server.now(),
        settings=check_client_settings(settings),
    )


def purge(app_state: RefreshGrantState, *, older_than: int = 0) -> PurgeCounts:
    """Delete tokens and codes expired or revoked more than ``older_than``
    seconds ago, grace replay copies whose window has closed, and used DPoP
    proofs too old to be accepted again."""
    admin = app_state.admin
    now = app_state.server.now()
    grace = admin.longest_grace_period(
        app_state.settings.policy.refresh_token_grace_period
    )
    counts = admin.purge(cutoff=now - older_than, replay_cutoff=now - grace)
    proofs = app_state.server.dpop.replays.purge(now=now - older_than)
    return dataclasses.replace(counts, dpop_proofs=proofs)
