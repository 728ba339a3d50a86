"""The table of signing keys (``oauth2_signing_key``, see :mod:`.keys`). A
mixin like those of :mod:`.models`, which builds its default model."""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

#: Primary keys: 64-bit on servers, SQLite's rowid alias on SQLite.
_ID = BigInteger().with_variant(Integer(), "sqlite")


class SigningKeyMixin:
    """A key that signs JWT access tokens and ID tokens (see ``keys/``).

    ``sequence`` orders keys (the current key is the highest one already
    active) and, being unique, lets only one of several instances that start
    at once store the first key. The private half is sealed with a key
    derived from ``SECRET_KEY`` (``sealing.py``): a copy of the database
    alone cannot sign.
    """

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    sequence: Mapped[int] = mapped_column(BigInteger, unique=True)
    alg: Mapped[str] = mapped_column(String(16))
    #: The public JWK, as JSON.
    public_jwk: Mapped[str] = mapped_column(Text)
    #: The private JWK, as JSON, sealed.
    private_jwk: Mapped[str] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(BigInteger)
    #: From when it signs (until a later key activates).
    activates_at: Mapped[int] = mapped_column(BigInteger)
    #: When it stopped being published; ``None``: published.
    retired_at: Mapped[int | None] = mapped_column(BigInteger)
