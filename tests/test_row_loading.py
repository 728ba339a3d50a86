"""The hot path's lookups read rows with Core and adopt them into the session:
the instances must be what the ORM's own query returns (persistent, in the
identity map, relationships and refresh working, changes flushed), and models
the shortcut cannot load faithfully must go through the ORM instead."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event, inspect
from sqlalchemy.orm import (
    DeclarativeBase,
    InstanceState,
    Mapped,
    ORMExecuteState,
    Session,
    mapped_column,
    reconstructor,
    relationship,
)

from flask_refreshgrant.store.loading import RowLoader


class Base(DeclarativeBase):
    pass


class Owner(Base):
    __tablename__ = "loading_owner"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(20))


class Item(Base):
    __tablename__ = "loading_item"
    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(sa.String(64), unique=True)
    # An attribute whose column has another name.
    label: Mapped[str] = mapped_column("label_text", sa.String(20))
    owner_id: Mapped[int] = mapped_column(sa.ForeignKey("loading_owner.id"))
    owner: Mapped[Owner] = relationship()


class Rebuilt(Base):
    """Has a ``load`` listener, which only the ORM's loading calls."""

    __tablename__ = "loading_rebuilt"
    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(sa.String(64))

    @reconstructor
    def _on_load(self) -> None:
        self.loaded_by_orm = True


class Thing(Base):
    __tablename__ = "loading_thing"
    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(sa.String(64))
    kind: Mapped[str] = mapped_column(sa.String(10))
    __mapper_args__ = {  # noqa: RUF012 (SQLAlchemy's spelling)
        "polymorphic_on": "kind",
        "polymorphic_identity": "thing",
    }


class SpecialThing(Thing):
    __mapper_args__ = {"polymorphic_identity": "special"}  # noqa: RUF012


@pytest.fixture
def session(database_url: str) -> Iterator[Session]:
    engine = sa.create_engine(database_url)
    Base.metadata.create_all(engine)
    with Session(engine) as setup:
        setup.add(Owner(id=1, name="ada"))
        setup.add(Item(id=10, digest="d-item", label="first", owner_id=1))
        setup.add(Rebuilt(id=20, digest="d-rebuilt"))
        setup.add(SpecialThing(id=30, digest="d-thing"))
        setup.commit()
    with Session(engine) as session:
        yield session
    engine.dispose()


def _by_digest(loader: RowLoader[Any]) -> sa.Select[Any]:
    return loader.select().where(loader.column("digest") == sa.bindparam("value"))


def _orm_statements(session: Session) -> list[bool]:
    """Whether each statement the session runs from now on is an ORM one."""
    seen: list[bool] = []

    @event.listens_for(session, "do_orm_execute")
    def record(state: ORMExecuteState) -> None:
        seen.append(state.is_orm_statement)

    return seen


def test_adopted_instance_is_the_orms_persistent_instance(session: Session) -> None:
    loader = RowLoader(Item)
    assert loader.supported
    seen = _orm_statements(session)

    item = loader.first(session, _by_digest(loader), {"value": "d-item"})

    assert seen == [False]  # one plain Core SELECT
    assert item is not None
    assert (item.id, item.digest, item.label, item.owner_id) == (
        10,
        "d-item",
        "first",
        1,
    )
    state = inspect(item)
    assert state.persistent and item in session
    assert not session.dirty and not session.new
    assert session.get(Item, 10) is item  # the identity map knows it
    assert item.owner.name == "ada"  # relationships load
    item.label = "renamed"  # changes are flushed like any other
    session.commit()
    assert session.scalar(sa.text("SELECT label_text FROM loading_item")) == "renamed"
    session.execute(sa.text("UPDATE loading_item SET label_text = 'elsewhere'"))
    session.refresh(item)
    assert item.label == "elsewhere"


def test_an_instance_already_in_the_session_is_returned_as_it_is(
    session: Session,
) -> None:
    loaded = session.get(Item, 10)
    assert loaded is not None
    loaded.label = "unsaved"
    loader = RowLoader(Item)

    again = loader.first(session, _by_digest(loader), {"value": "d-item"})

    assert again is loaded and again.label == "unsaved"  # as the ORM does


def test_no_row_is_none(session: Session) -> None:
    loader = RowLoader(Item)
    assert loader.first(session, _by_digest(loader), {"value": "nope"}) is None
    assert not session.identity_map


def test_prefixed_columns_keep_two_models_apart(session: Session) -> None:
    items, owners = RowLoader(Item), RowLoader(Owner, "owner__")
    statement = (
        sa.select(*items.columns, *owners.columns)
        .join_from(
            items.column("owner_id").table,
            owners.column("id").table,
            owners.column("id") == items.column("owner_id"),
        )
        .where(items.column("digest") == "d-item")
    )
    row = session.execute(statement).one()
    assert list(row._mapping)[-2:] == ["owner__id", "owner__name"]
    item = items.adopt(session, row[: len(items.columns)])
    owner = owners.adopt(session, row[len(items.columns) :])
    assert item.owner is owner and owner.name == "ada"


@pytest.mark.parametrize(
    ("model", "digest", "expected"),
    [(Rebuilt, "d-rebuilt", Rebuilt), (Thing, "d-thing", SpecialThing)],
    ids=["load-listener", "inheritance"],
)
def test_models_the_shortcut_would_get_wrong_use_the_orm(
    session: Session, model: type[Any], digest: str, expected: type[Any]
) -> None:
    loader = RowLoader(model)
    assert not loader.supported
    seen = _orm_statements(session)

    found = loader.first(session, _by_digest(loader), {"value": digest})

    assert seen == [True]
    assert type(found) is expected
    if model is Rebuilt:
        assert getattr(found, "loaded_by_orm", False)


def test_adoption_fires_the_session_events_add_fires(session: Session) -> None:
    """Adopting is ``make_transient_to_detached`` and ``add``: the session's
    attach events fire for it, once, as they do for ``add``."""
    fired: list[tuple[str, Any]] = []
    for name in ("before_attach", "after_attach"):
        event.listen(
            session,
            name,
            lambda _session, instance, name=name: fired.append((name, instance)),
        )
    event.listen(
        session,
        "detached_to_persistent",
        lambda _session, instance: fired.append(("detached_to_persistent", instance)),
    )
    loader = RowLoader(Item)

    item = loader.first(session, _by_digest(loader), {"value": "d-item"})

    assert fired == [
        ("before_attach", item),
        ("after_attach", item),
        ("detached_to_persistent", item),
    ]
    assert not inspect(item).modified and not session.dirty


def test_an_expire_listener_sees_the_unloaded_attributes_expired(
    session: Session,
) -> None:
    """``make_transient_to_detached`` expires what the row did not load (the
    relationships); a model's ``expire`` listener is told so, as before."""
    expired: list[set[str] | None] = []

    def record(_state: InstanceState[Any], names: set[str] | None) -> None:
        expired.append(None if names is None else set(names))

    event.listen(Item, "expire", record)
    try:
        loader = RowLoader(Item)
        item = loader.first(session, _by_digest(loader), {"value": "d-item"})
    finally:
        event.remove(Item, "expire", record)
    assert expired == [{"owner"}]
    assert item is not None and item.owner.name == "ada"


def test_given_and_unread_attributes(session: Session) -> None:
    """A loader may leave out columns: ``given`` ones the caller supplies,
    ``unread`` ones stay expired and load, as expired attributes do, when
    read."""
    loader = RowLoader(Item, given=("digest",), unread=("label",))
    assert [column.name for column in loader.columns] == ["id", "owner_id"]
    statements: list[str] = []
    bind = session.get_bind()

    def record(*args: Any) -> None:
        statements.append(args[2])

    event.listen(bind, "before_cursor_execute", record)
    try:
        row = session.execute(_by_digest(loader), {"value": "d-item"}).one()
        item = loader.adopt(session, row, ("d-item",))
        assert (item.id, item.digest, item.owner_id) == (10, "d-item", 1)
        assert len(statements) == 1 and not session.dirty
        assert item.label == "first"  # loaded now, by primary key
        assert len(statements) == 2 and "label_text" in statements[1]
        assert not inspect(item).expired_attributes
    finally:
        event.remove(bind, "before_cursor_execute", record)
