"""Engine and session factory from a database URL, migrations, atomic counters.

SQLite is the embedded default (WAL mode, foreign keys on); PostgreSQL is the
production database. The schema is owned by Alembic: ``migrate`` upgrades any
older database in place, so no code path calls ``create_all``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Engine, Table, bindparam, create_engine, event, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from trust.errors import InputError
from trust.registry.models import Sequence

if TYPE_CHECKING:
    from trust.registry.sealed import DataKeys

MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine with the pragmas SealTrust relies on."""
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": 30, "check_same_thread": False})
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def migrate(url_or_engine: str | Engine, revision: str = "head") -> None:
    """Upgrade the schema to ``revision`` (Alembic), creating it on an empty database."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if isinstance(url_or_engine, str):
        engine = make_engine(url_or_engine)
        owned = True
    else:
        engine, owned = url_or_engine, False
    try:
        with engine.connect() as conn:
            sqlite_db = conn.dialect.name == "sqlite"
            if sqlite_db:
                # SQLite alters a column by copying the table and dropping the old one, which
                # enforced foreign keys refuse; they are checked once the copy is done instead.
                conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
                conn.commit()
            try:
                with conn.begin():
                    cfg.attributes["connection"] = conn
                    command.upgrade(cfg, revision)
                    if sqlite_db and conn.exec_driver_sql("PRAGMA foreign_key_check").first():
                        raise RuntimeError("the migration left rows with dangling foreign keys")
            finally:
                if sqlite_db:
                    conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                    conn.commit()
    finally:
        if owned:
            engine.dispose()


def head_revision() -> str:
    """The newest migration shipped with this code."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The Alembic revision the database is at (None when unmanaged)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


class _SealingConfig:
    """Shared by reference with every session (``Session.info``): the KEKs, set once known."""

    data_keys: DataKeys | None = None


class Registry:
    """Owns one engine and hands out sessions; one per process.

    ``data_keys`` (:class:`trust.registry.sealed.DataKeys`) seal personal data on
    store and open it on read; None stores plaintext (tests, benchmarks).
    """

    def __init__(self, url: str, *, data_keys: DataKeys | None = None,
                 **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self._sealing = _SealingConfig()
        self._sealing.data_keys = data_keys
        self._sessions = sessionmaker(self.engine, expire_on_commit=False,
                                      info={"sealtrust.data_keys": self._sealing})

    @property
    def data_keys(self) -> DataKeys | None:
        """The KEKs sessions of this registry use (None: no encryption)."""
        return self._sealing.data_keys

    @data_keys.setter
    def data_keys(self, keys: DataKeys | None) -> None:
        self._sealing.data_keys = keys

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on error."""
        with self._sessions() as session, session.begin():
            yield session

    def close(self) -> None:
        keys = self._sealing.data_keys
        if keys is not None:
            keys.close()
        self.engine.dispose()


def begin_write(session: Session) -> None:
    """Open the write transaction now, so SAVEPOINTs nest inside it.

    pysqlite opens a transaction only before INSERT/UPDATE/DELETE, so a
    SAVEPOINT issued first would start one itself and its RELEASE would
    commit. Taking the write lock here (waiting up to the busy timeout) is
    what the following writes would do anyway. A no-op on PostgreSQL.
    """
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    dbapi = connection.connection.dbapi_connection
    if dbapi is not None and not getattr(dbapi, "in_transaction", True):
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def holds_write_lock(session: Session) -> bool:
    """Whether ``session`` already holds SQLite's database write lock (it has written).

    Then a second connection cannot write until it commits, so work that
    would otherwise take counters in their own transactions must take them
    in this one. Always False on PostgreSQL, which locks rows, not the database.
    """
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return False
    dbapi = connection.connection.dbapi_connection
    return bool(dbapi is not None and getattr(dbapi, "in_transaction", False))


def next_value(session: Session, name: str, count: int = 1) -> int:
    """Atomically add ``count`` to counter ``name`` and return the new value (starts at 1).

    One statement (INSERT .. ON CONFLICT DO UPDATE .. RETURNING) so two
    processes can never obtain the same value, on SQLite and PostgreSQL alike.
    With ``count`` > 1 the caller owns the block ``new - count + 1 .. new``
    (batch workers reserve blocks so they need not hold the write lock).
    Runs on the session's connection: the counter table needs no autoflush
    of pending ORM objects, and the prebuilt statement skips re-compilation.
    """
    if count < 1:
        raise InputError("a counter block must hold at least one value")
    connection = session.connection()
    stmt = _counter_statement(connection.dialect.name)
    return int(connection.execute(stmt, {"name": name, "count": count}).scalar_one())


@cache
def _counter_statement(dialect: str) -> Any:
    """The upsert behind :func:`next_value`, built once per dialect (its cache key is memoised)."""
    table = cast(Table, Sequence.__table__)
    stmt = conflict_insert(dialect, table).values(name=bindparam("name"), value=bindparam("count"))
    return stmt.on_conflict_do_update(
        index_elements=["name"], set_={"value": table.c.value + stmt.excluded.value}
    ).returning(table.c.value)


def conflict_insert(dialect: str, table: Table) -> Any:
    """An INSERT into ``table`` that accepts ``ON CONFLICT`` clauses (SQLite and PostgreSQL)."""
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise RuntimeError(f"unsupported database {dialect}")  # pragma: no cover


def peek_value(session: Session, name: str) -> int:
    """Current value of a counter without changing it (0 when unused)."""
    value = session.execute(select(Sequence.value).where(Sequence.name == name)).scalar()
    return int(value or 0)
