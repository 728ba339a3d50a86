"""One app's signing keys (SPEC §10): made on first need, cached, rotated
with overlap, retired; signing with the current key and checking with any
published one.

Which key signs is decided from the rows alone, so every instance on one
database agrees: the *current* key is the published key with the highest
``sequence`` whose ``activates_at`` has come. The first key is stored with
``sequence`` 1, a unique column: of several instances that start at once,
one stores it and the others read it back.

Keys are cached in memory and re-read every :data:`RELOAD_SECONDS`, and
whenever a token names a ``kid`` not in the cache; the JWKS is read from the
database on every request, so it always lists a key before anything it
signed can reach a resource server.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..coercion import TEN_YEARS
from ..config import Settings
from ..errors import NotFoundError, SigningKeyError
from ..sealing import InvalidToken, fernet, usable_secret_key
from ..store.signing_keys import SigningKeyRow, SigningKeyStore
from . import jose

if TYPE_CHECKING:
    from joserfc.jwk import Key

#: The ``info`` of the HKDF that derives the sealing key from ``SECRET_KEY``.
_INFO = b"flask-refreshgrant signing key v1"
#: Seconds (monotonic) a process trusts its cached keys.
RELOAD_SECONDS = 5.0
#: How long past its replacement a key may still sign somewhere, at most.
RELOAD_MARGIN = int(RELOAD_SECONDS) + 5

NEXT, CURRENT, PREVIOUS, RETIRED = "next", "current", "previous", "retired"


@dataclasses.dataclass(frozen=True)
class SigningKeyRecord:
    """A signing key as ``flask oauth2 keys list`` shows it (never its private half)."""

    kid: str
    alg: str
    created_at: int
    activates_at: int
    retired_at: int | None
    #: ``next``, ``current``, ``previous`` or ``retired``.
    status: str
    #: For a ``previous`` key: until when a token it signed may be live.
    live_until: int | None = None


def check_secret_key(secret_key: object) -> None:
    """Raise unless ``secret_key`` can seal signing keys (and joserfc is there)."""
    if not jose.AVAILABLE:
        raise SigningKeyError(f"Signing keys need joserfc: {jose.INSTALL_HINT}")
    if not usable_secret_key(secret_key):
        raise SigningKeyError(
            "SECRET_KEY must be set to sign JWT access tokens and ID tokens: "
            "the private signing keys are stored encrypted with a key derived "
            "from it (and every instance must share it)."
        )


def _current(rows: list[SigningKeyRow], now: int) -> SigningKeyRow | None:
    live = [r for r in rows if r.retired_at is None and r.activates_at <= now]
    return max(live, key=lambda r: r.sequence, default=None)


class Keyring:
    """The signing keys of one app (see the module's docstring)."""

    def __init__(
        self,
        store: SigningKeyStore,
        settings: Settings,
        clock: Callable[[], int],
        secret_key: Callable[[], object],
    ) -> None:
        """``secret_key`` reads the app's ``SECRET_KEY`` when a key is sealed
        or unsealed."""
        self.store = store
        self.settings = settings
        self.clock = clock
        self.secret_key = secret_key
        self._rows: list[SigningKeyRow] | None = None
        self._loaded_at = 0.0
        self._private: dict[str, Key] = {}
        self._public: dict[str, Key] = {}
        self._lock = threading.Lock()

    # -- reading ------------------------------------------------------------

    def _load(self) -> list[SigningKeyRow]:
        rows = self.store.all()
        with self._lock:
            self._rows = rows
            self._loaded_at = time.monotonic()
        return rows

    def _cached(self) -> list[SigningKeyRow]:
        rows = self._rows
        if rows is None or time.monotonic() - self._loaded_at > RELOAD_SECONDS:
            return self._load()
        return rows

    def forget(self) -> None:
        """Drop the cache: the next use reads the keys again."""
        self._rows = None

    def _private_key(self, row: SigningKeyRow) -> Key:
        key = self._private.get(row.kid)
        if key is None:
            secret_key = self.secret_key()
            check_secret_key(secret_key)
            assert isinstance(secret_key, str | bytes)
            try:
                clear = fernet(secret_key, _INFO).decrypt(row.private_jwk.encode())
            except InvalidToken:
                raise SigningKeyError(
                    f"The signing key {row.kid} was sealed with another SECRET_KEY; "
                    "restore it, or run 'flask oauth2 keys rotate' to make a key "
                    "this SECRET_KEY can use."
                ) from None
            key = self._private[row.kid] = jose.import_key(clear.decode())
        return key

    def _public_key(self, row: SigningKeyRow) -> Key:
        key = self._public.get(row.kid)
        if key is None:
            key = self._public[row.kid] = jose.import_key(row.public_jwk)
        return key

    # -- signing and checking -----------------------------------------------

    def current(self) -> SigningKeyRow:
        """The key that signs now; made (race-safely) if there is none."""
        now = self.clock()
        row = _current(self._cached(), now)
        if row is None:
            row = _current(self._load(), now)
        for _ in range(3):  # a concurrent writer may take the sequence first
            if row is not None:
                break
            self._add(alg=self.settings.signing_alg, activates_at=now, first=True)
            row = _current(self._load(), now)
        if row is None:
            raise SigningKeyError("Could not store a signing key.")
        return row

    def check_can_sign(self) -> None:
        """Raise :class:`~..errors.SigningKeyError` now if the current key
        cannot sign (no usable ``SECRET_KEY``, or it was sealed under
        another one): before a grant stores anything, not after."""
        self._private_key(self.current())

    def sign(
        self, claims: dict[str, Any], *, typ: str, row: SigningKeyRow | None = None
    ) -> str:
        """``claims`` signed with ``row`` (default: the current key)."""
        row = row or self.current()
        return jose.sign(
            self._private_key(row), alg=row.alg, kid=row.kid, typ=typ, claims=claims
        )

    def verify(self, token: str, *, typ: str) -> dict[str, Any] | None:
        """The claims of ``token`` if a published key signed it and its
        header's ``typ`` is ``typ``; else ``None``. Expiry is not checked."""
        header = jose.unverified_header(token)
        if header is None or header.get("typ") != typ:
            return None
        kid = header.get("kid")
        row = self._published(kid)
        if row is None:
            # Another instance may sign with a key this one has not read
            # yet. One indexed read of a small table, no more than an
            # unknown opaque token costs.
            self._load()
            row = self._published(kid)
        if row is None:
            return None
        return jose.verify(token, self._public_key(row), row.alg)

    def _published(self, kid: object) -> SigningKeyRow | None:
        for row in self._cached():
            if row.kid == kid and row.retired_at is None:
                return row
        return None

    def jwks(self) -> dict[str, Any]:
        """The JWKS (RFC 7517 §5) of every published key, read afresh."""
        rows = self._load()
        if (
            not any(r.retired_at is None for r in rows)
            and jose.AVAILABLE
            and usable_secret_key(self.secret_key())
        ):
            self.current()
            rows = self._load()
        return {
            "keys": [json.loads(r.public_jwk) for r in rows if r.retired_at is None]
        }

    def algorithms(self) -> list[str]:
        """The algorithms of the published keys and of the next one made."""
        algs = [r.alg for r in self._cached() if r.retired_at is None]
        return list(dict.fromkeys([*algs, self.settings.signing_alg]))

    # -- operators ----------------------------------------------------------

    def _add(
        self, *, alg: str, activates_at: int, first: bool = False
    ) -> SigningKeyRow | None:
        """Store a new key after the highest ``sequence``; ``None`` if a
        concurrent writer took that sequence first or, with ``first`` (a
        key made because none signs), if another instance has made one
        since: every instance must sign with the same key."""
        secret_key = self.secret_key()
        check_secret_key(secret_key)
        assert isinstance(secret_key, str | bytes)
        rows = self.store.all()
        if first and _current(rows, activates_at) is not None:
            return None
        key = jose.generate(alg)
        kid = jose.key_id(key)
        row = SigningKeyRow(
            kid=kid,
            sequence=max((r.sequence for r in rows), default=0) + 1,
            alg=alg,
            public_jwk=json.dumps(jose.public_jwk(key, kid=kid, alg=alg)),
            private_jwk=fernet(secret_key, _INFO)
            .encrypt(jose.private_json(key).encode())
            .decode(),
            created_at=self.clock(),
            activates_at=activates_at,
            retired_at=None,
        )
        return row if self.store.add(row) else None

    def rotate(
        self, *, alg: str | None = None, activate_in: int = 0
    ) -> SigningKeyRecord:
        """Add a key, published at once, that signs from ``activate_in``
        seconds on; the key it replaces stays published (see :meth:`purge`)."""
        if type(activate_in) is not int or not 0 <= activate_in <= TEN_YEARS:
            raise ValueError(
                "activate_in must be a whole number of seconds from 0 to "
                f"{TEN_YEARS} (ten years), got {activate_in!r}"
            )
        while True:
            row = self._add(
                alg=alg or self.settings.signing_alg,
                activates_at=self.clock() + activate_in,
            )
            if row is not None:
                break
        self._load()
        return next(r for r in self.records() if r.kid == row.kid)

    def longest_token_lifetime(self) -> int:
        """The longest an access or ID token signed now may stay valid."""
        per_client = self.store.longest_client_access_token_validity() or 0
        return max(
            self.settings.policy.access_token_validity_period,
            self.settings.id_token_validity_period,
            per_client,
        )

    def records(self) -> list[SigningKeyRecord]:
        """Every key, oldest first, with its status."""
        rows = self._load()
        now = self.clock()
        current = _current(rows, now)
        longest = self.longest_token_lifetime()
        records = []
        for row in rows:
            live_until = None
            if row.retired_at is not None:
                status = RETIRED
            elif row.activates_at > now:
                status = NEXT
            elif current is not None and row.kid == current.kid:
                status = CURRENT
            else:
                status = PREVIOUS
                # Another instance may sign with it for RELOAD_SECONDS after
                # it was replaced (its cache), and clocks differ a little.
                live_until = self._replaced_at(rows, row, now) + longest + RELOAD_MARGIN
            records.append(
                SigningKeyRecord(
                    kid=row.kid,
                    alg=row.alg,
                    created_at=row.created_at,
                    activates_at=row.activates_at,
                    retired_at=row.retired_at,
                    status=status,
                    live_until=live_until,
                )
            )
        return records

    @staticmethod
    def _replaced_at(rows: list[SigningKeyRow], row: SigningKeyRow, now: int) -> int:
        """When a later key took over from ``row`` (it signed until then)."""
        return min(
            (
                r.activates_at
                for r in rows
                if r.sequence > row.sequence
                and r.retired_at is None
                and r.activates_at <= now
            ),
            default=now,
        )

    def retire(self, kid: str, *, force: bool = False) -> SigningKeyRecord:
        """Stop publishing ``kid``. Refused for the current key and for a key
        whose tokens may still be live, unless ``force``.

        :raises NotFoundError: no such published key.
        :raises SigningKeyError: refused (nothing changed).
        """
        found = next((r for r in self.records() if r.kid == kid), None)
        if found is None or found.status == RETIRED:
            raise NotFoundError(f"no published signing key {kid!r}")
        now = self.clock()
        if not force:
            if found.status == CURRENT:
                raise SigningKeyError(
                    f"{kid} is the current signing key; rotate first "
                    "(or --force: tokens it signed stop verifying)"
                )
            if found.live_until is not None and found.live_until > now:
                raise SigningKeyError(
                    f"tokens signed by {kid} may be live for "
                    f"{found.live_until - now} more seconds "
                    "(or --force: they stop verifying)"
                )
        self.store.retire(kid, now=now)
        self._load()
        return next(r for r in self.records() if r.kid == kid)

    def purge(self) -> int:
        """Retire every previous key nothing it signed can still be valid
        with; how many (``flask oauth2 purge``)."""
        now = self.clock()
        count = 0
        for record in self.records():
            if record.live_until is not None and record.live_until <= now:
                count += self.store.retire(record.kid, now=now)
        if count:
            self._load()
        return count
