"""Model instances from Core rows: the hot path's reads without the ORM's
per-query loading set-up.

``session.scalars(select(Model))`` builds a fresh loading context (row
processors, one per entity) on every execution; for a one-row lookup by a
unique digest that set-up costs more CPU than the query itself (about
100 µs per entity on this project's benchmark machine). A :class:`RowLoader`
selects the model's columns with SQLAlchemy Core instead and hands the row
to the session the way SQLAlchemy documents for rows read elsewhere
(:func:`~sqlalchemy.orm.make_transient_to_detached`, then
:meth:`~sqlalchemy.orm.Session.add`, or the part of them that does
anything on a fresh instance; see :meth:`RowLoader.adopt`): the instance is
**persistent**, in the session's identity map, with no pending changes —
what the ORM's own query would have returned, so relationships load,
``session.refresh`` works and changes are flushed as usual.

Models the shortcut would get wrong use the ORM's query instead
(:attr:`RowLoader.supported` is false): inheritance, column properties that
are not one plain table column, and classes with ``load`` event listeners
(``@reconstructor``), which only the ORM's loading calls.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy import Column, Select, inspect, select
from sqlalchemy.orm import Mapper, Session, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_dict, instance_state
from sqlalchemy.sql import Executable
from sqlalchemy.sql.elements import Label

_M = TypeVar("_M")

#: ``Session.add``'s step for an instance that has an identity key, without
#: the save-update cascade (see :meth:`RowLoader.adopt`); ``None`` if this
#: SQLAlchemy has no such method (then ``add`` itself is used).
_UPDATE_IMPL: Callable[[Session, Any], None] | None = getattr(
    Session, "_update_impl", None
)


def _plain_columns(mapper: Mapper[Any]) -> list[tuple[str, Column[Any]]] | None:
    """``(attribute, column)`` per mapped column of ``mapper``, or ``None``
    when the shortcut could load an instance differently from the ORM."""
    if mapper.inherits is not None or mapper.polymorphic_on is not None:
        return None
    if mapper.class_manager.dispatch.load:
        return None
    found = []
    for prop in mapper.column_attrs:
        if len(prop.columns) != 1 or not isinstance(prop.columns[0], Column):
            return None
        found.append((prop.key, prop.columns[0]))
    return found


class RowLoader(Generic[_M]):
    """Reads rows of ``model`` with Core and adopts them into the session
    (see the module's docstring)."""

    def __init__(
        self,
        model: type[_M],
        prefix: str = "",
        *,
        given: tuple[str, ...] = (),
        unread: tuple[str, ...] = (),
    ) -> None:
        """``given``: attributes not selected because the caller knows their
        values (passed to :meth:`adopt`); ``unread``: attributes not
        selected, left expired on the instance (read, they load as expired
        attributes do: one ``SELECT`` of them by primary key)."""
        self.model = model
        self._mapper: Mapper[Any] = inspect(model)
        plain = _plain_columns(self._mapper)
        #: Whether :meth:`adopt` may be used; else query with the ORM.
        self.supported = plain is not None
        selected = [
            (key, column)
            for key, column in plain or ()
            if key not in given and key not in unread
        ]
        self._keys = [key for key, _ in selected]
        self._given = given
        self._unread = tuple(key for key, _ in plain or () if key in unread)
        #: Whether a fresh instance with these columns loaded lacks only
        #: relationships (and ``unread``): then :meth:`adopt` may take its
        #: short way.
        self._fresh_is_loaded = _UPDATE_IMPL is not None and set(
            self._mapper.class_manager
        ).difference(self._keys, given, unread) <= set(
            self._mapper.relationships.keys()
        )
        self._primary_key = [
            self._mapper.get_property_by_column(column).key
            for column in self._mapper.primary_key
        ]
        #: The model's selected columns, labelled ``prefix + attribute`` (a
        #: prefix keeps two models' columns apart in a join).
        self.columns: list[Label[Any]] = [
            column.label(prefix + key) for key, column in selected
        ]

    def position(self, attribute: str) -> int:
        """Where ``attribute``'s value is in a row of :attr:`columns`."""
        return self._keys.index(attribute)

    def column(self, attribute: str) -> Column[Any]:
        """The table column behind ``attribute``, for WHERE and ON clauses:
        unlike the mapped attribute, it keeps a statement plain Core (one
        mapped attribute anywhere makes SQLAlchemy compile it, and load its
        rows, as an ORM statement)."""
        column: Column[Any] = self._mapper.c[attribute]
        return column

    def select(self) -> Select[Any]:
        """``SELECT`` of the model: its labelled columns, or the mapped class
        itself when the shortcut is not :attr:`supported`."""
        return select(*self.columns) if self.supported else select(self.model)

    def first(
        self, session: Session, statement: Executable, params: dict[str, Any]
    ) -> _M | None:
        """The instance of the first row of ``statement`` (built on
        :meth:`select`), or ``None``."""
        if not self.supported:
            found: _M | None = session.scalars(statement, params).first()
            return found
        row = session.execute(statement, params).first()
        return None if row is None else self.adopt(session, row)

    def adopt(
        self, session: Session, values: Sequence[Any], given: Sequence[Any] = ()
    ) -> _M:
        """The persistent instance for ``values`` (this loader's columns, in
        order) and ``given`` (the values of its ``given`` attributes): the
        one already in ``session``'s identity map, else a new one added to
        it."""
        loaded = dict(zip(self._keys, values, strict=True))
        if self._given:
            loaded.update(zip(self._given, given, strict=True))
        key = self._mapper.identity_key_from_primary_key(
            tuple(loaded[name] for name in self._primary_key)
        )
        existing = session.identity_map.get(key)
        if existing is not None:
            return existing  # type: ignore[no-any-return]
        instance = self._mapper.class_manager.new_instance()
        instance_dict(instance).update(loaded)
        state = instance_state(instance)
        if (
            _UPDATE_IMPL is None
            or not self._fresh_is_loaded
            or state.manager.dispatch.expire
        ):
            make_transient_to_detached(instance)
            session.add(instance)
            return instance  # type: ignore[no-any-return]
        # What make_transient_to_detached() and add() do, minus what they
        # would find to do nothing on a fresh instance (about half of a
        # refresh's adoption cost): its attributes have no history to
        # commit; the ones not loaded are relationships (_fresh_is_loaded),
        # which are not in its __dict__, so expiring them changes nothing
        # (with no ``expire`` listener to tell) and the save-update cascade
        # finds no related object; they lazy-load when read, as after the
        # ORM's own query. The attach events fire as with add(). Columns
        # left unread are expired, as make_transient_to_detached() does.
        state.key = key
        if self._unread:
            state.expired_attributes.update(self._unread)
        _UPDATE_IMPL(session, state)
        return instance  # type: ignore[no-any-return]
