"""The signing keys' table (``oauth2_signing_key``): read them all, add one,
retire one. What the keys mean is :mod:`..keys`' business."""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from ..key_models import SigningKeyMixin
from .base import StoreBase, rowcount


@dataclasses.dataclass(frozen=True)
class SigningKeyRow:
    """One stored key, detached from any session (cached across requests)."""

    kid: str
    sequence: int
    alg: str
    public_jwk: str
    private_jwk: str
    created_at: int
    activates_at: int
    retired_at: int | None


class SigningKeyStore(StoreBase):
    """Reads and writes of ``oauth2_signing_key``."""

    @property
    def _model(self) -> type[SigningKeyMixin]:
        model = self.models.signing_key
        assert model is not None  # complete_models adds the default
        return model

    def all(self) -> list[SigningKeyRow]:
        """Every key, retired ones included, in ``sequence`` order."""
        model = self._model
        found = self.session.scalars(select(model).order_by(model.sequence)).all()
        return [
            SigningKeyRow(
                kid=row.kid,
                sequence=row.sequence,
                alg=row.alg,
                public_jwk=row.public_jwk,
                private_jwk=row.private_jwk,
                created_at=row.created_at,
                activates_at=row.activates_at,
                retired_at=row.retired_at,
            )
            for row in found
        ]

    def add(self, row: SigningKeyRow) -> bool:
        """Store ``row``; ``False`` (and nothing stored) when its ``sequence``
        or ``kid`` is taken: another instance added a key at the same time."""
        try:
            with self.transaction() as session:
                session.add(self._model(**dataclasses.asdict(row)))
        except IntegrityError:
            return False
        return True

    def retire(self, kid: str, *, now: int) -> bool:
        """Stop publishing ``kid``; ``False`` if it is unknown or retired."""
        model = self._model
        with self.transaction() as session:
            changed = rowcount(
                session,
                update(model)
                .where(model.kid == kid, model.retired_at.is_(None))
                .values(retired_at=now),
            )
        return changed == 1

    def longest_client_access_token_validity(self) -> int | None:
        """The longest per-client access token lifetime, if any client sets one."""
        column: Any = self.models.client.access_token_validity_period
        found: int | None = self.session.scalar(select(func.max(column)))
        return found
