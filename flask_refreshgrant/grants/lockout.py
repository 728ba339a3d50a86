"""Password guessing (RFC 6749 §4.3.2: the server MUST protect the password
grant against brute force), after Keycloak's brute-force detection.

``OAUTH2_PASSWORD_MAX_FAILURES`` consecutive failed checks of one username
lock it for ``OAUTH2_PASSWORD_LOCKOUT_SECONDS``; each further lock of the
same username doubles that, up to ``OAUTH2_PASSWORD_MAX_LOCKOUT_SECONDS``.
While it is locked, no password is checked for it, the right one included,
and attempts neither count nor extend the lock; a success resets the count;
an attempt is counted before its password is checked (and taken back by a
success), so a burst of simultaneous attempts gets at most
``OAUTH2_PASSWORD_MAX_FAILURES`` passwords checked before the lock applies;
a username with no failure for :data:`FORGET_AFTER_SECONDS` starts again
from zero. Unknown usernames are counted and locked exactly like known ones,
so the lock says nothing about which usernames exist.

The count and the lock are rows in the database (:mod:`..store.lockout`), so
every instance on one database shares them. The password grant goes through
:meth:`PasswordLockout.check`, and so can an app's own login form
(``oauth.check_password``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Generic, TypeVar

from .. import signals
from ..config import Settings
from ..security import token_digest
from ..store.lockout import LockoutStore

#: A username whose last failure is this old counts from zero again (and its
#: next lock lasts ``OAUTH2_PASSWORD_LOCKOUT_SECONDS`` again). Keycloak calls
#: this the failure reset time.
FORGET_AFTER_SECONDS = 24 * 3600

_User = TypeVar("_User")


@dataclasses.dataclass(frozen=True)
class PasswordCheck(Generic[_User]):
    """The outcome of a password check behind the lock (``oauth.check_password``)."""

    #: What ``verify`` returned, or ``None``: refused (wrong password,
    #: unknown user, or locked — deliberately indistinguishable).
    user: _User | None
    #: While the username is locked (also when this failure locked it): the
    #: seconds until the lock ends, for a ``Retry-After`` header.
    retry_after: int | None = None

    @property
    def locked(self) -> bool:
        return self.retry_after is not None


class PasswordLockout:
    """One app's password lock: its settings, its table and its clock."""

    def __init__(
        self, store: LockoutStore, settings: Settings, clock: Callable[[], float]
    ) -> None:
        self.store = store
        self.max_failures = settings.password_max_failures
        self.first_lock = min(
            settings.password_lockout_seconds, settings.password_max_lockout_seconds
        )
        self.max_lock = settings.password_max_lockout_seconds
        self._clock = clock

    @property
    def enabled(self) -> bool:
        return self.max_failures > 0

    def check(
        self, username: str, verify: Callable[[], _User | None]
    ) -> PasswordCheck[_User]:
        """Count an attempt for ``username`` unless it is locked, then call
        ``verify()`` (the app's password check, which returns the user or
        ``None``); a success takes the attempt back and resets the count.
        So at most ``OAUTH2_PASSWORD_MAX_FAILURES`` passwords are checked
        per lock, whatever the concurrency.

        Whatever the outcome, the caller should answer a refusal the same
        way (one message for a wrong password, an unknown user and a lock),
        adding ``Retry-After`` when :attr:`PasswordCheck.retry_after` is set.
        """
        if not self.enabled:
            return PasswordCheck(verify())
        digest = token_digest(username)
        now = int(self._clock())
        # Counted before the password is checked, so that simultaneous
        # attempts cannot all be checked before the first failure lands.
        counted = self.store.count_attempt(
            digest,
            now=now,
            max_failures=self.max_failures,
            first_lock=self.first_lock,
            max_lock=self.max_lock,
            forget_before=now - FORGET_AFTER_SECONDS,
        )
        if not counted.counted:
            return PasswordCheck(None, _remaining(counted.locked_until, now))
        user = verify()
        if user is not None:
            own_lock = counted.locked_until if counted.lock_started else None
            self.store.release(digest, now=now, own_lock=own_lock)
            return PasswordCheck(user)
        if counted.locked_until is None:
            return PasswordCheck(None)
        signals.emit(
            signals.password_lockout,
            username=username,
            lock_seconds=counted.lock_seconds,
            locked_until=counted.locked_until,
        )
        return PasswordCheck(None, counted.locked_until - now)

    def purge(self) -> int:
        """Delete the records of usernames that would count from zero anyway."""
        now = int(self._clock())
        return self.store.purge(now=now, forget_before=now - FORGET_AFTER_SECONDS)


def _remaining(locked_until: int | None, now: int) -> int | None:
    """Seconds until ``locked_until`` (for ``Retry-After``), if in the future."""
    if locked_until is None or locked_until <= now:
        return None
    return locked_until - now
