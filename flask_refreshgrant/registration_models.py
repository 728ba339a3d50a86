"""The tables of dynamic client registration (RFC 7591): initial access
tokens and the per-address rate limit. Mixins like those of
:mod:`.models`, which builds their default models."""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

#: Primary keys: 64-bit on servers, SQLite's rowid alias on SQLite.
_ID = BigInteger().with_variant(Integer(), "sqlite")


class RegistrationTokenMixin:
    """An initial access token for dynamic client registration (RFC 7591
    §3), made by ``flask oauth2 registration-token create``; stored as a
    digest."""

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    #: ``None``: never expires.
    expires_at: Mapped[int | None] = mapped_column(BigInteger)
    #: Registrations it may still make; ``None``: any number.
    uses_left: Mapped[int | None] = mapped_column(Integer)


class RegistrationLimitMixin:
    """Dynamic registrations from one client address in the current hour
    (``OAUTH2_REGISTRATION_RATE_LIMIT``); the address is stored as a digest."""

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    address_digest: Mapped[str] = mapped_column(String(64), unique=True)
    window_start: Mapped[int] = mapped_column(BigInteger)
    count: Mapped[int] = mapped_column(Integer)
