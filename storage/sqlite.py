"""aiosqlite as SQLAlchemy's DBAPI, with one trip to the connection's thread per statement.

aiosqlite runs every call on its own thread, and SQLAlchemy's adapter makes four such calls per
SELECT (cursor, execute, fetchall, close) and three per UPDATE. Each trip wakes a thread and then
the event loop, and costs more CPU than a small statement does in SQLite itself. Here a statement
is one trip that runs it to the end, and returning a connection that holds no transaction to the
pool costs none. Everything else (errors, isolation levels, server-side cursors) is SQLAlchemy's.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)

Outcome = tuple[Any, list[Any], int | None, int]  # description, rows, lastrowid, rowcount


def _run(connection: sqlite3.Connection, operation: str, parameters: Any) -> Outcome:
    """On the connection's thread: the whole statement, rows included."""
    cursor = connection.cursor()
    try:
        if parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        rows = cursor.fetchall() if cursor.description else []
        return cursor.description, rows, cursor.lastrowid, cursor.rowcount
    finally:
        cursor.close()


def _run_many(connection: sqlite3.Connection, operation: str, parameters: Any) -> Outcome:
    """On the connection's thread: one statement for every set of parameters."""
    cursor = connection.cursor()
    try:
        cursor.executemany(operation, parameters)
        return None, [], cursor.lastrowid, cursor.rowcount
    finally:
        cursor.close()


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """A buffered cursor whose execute() is one trip to the connection's thread."""

    __slots__ = ()

    def execute(self, operation: Any, parameters: Any = None) -> None:
        self._finish(self._trip(_run, operation, parameters))

    def executemany(self, operation: Any, seq_of_parameters: Any) -> None:
        self._finish(self._trip(_run_many, operation, seq_of_parameters))

    def _trip(self, work: Any, operation: Any, parameters: Any) -> Outcome:
        driver: aiosqlite.Connection = self._connection
        try:
            return self.await_(driver._execute(work, driver._conn, operation, parameters))
        except Exception as error:
            self._adapt_connection._handle_exception(error)
            raise  # _handle_exception always raises; this keeps type checkers informed

    def _finish(self, outcome: Outcome) -> None:
        description, rows, lastrowid, rowcount = outcome
        self.description = description
        self._rows.clear()
        self._rows.extend(rows)
        if description:
            self.lastrowid = self.rowcount = -1
        else:
            self.lastrowid, self.rowcount = lastrowid, rowcount


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    """Buffered cursors are OneTripCursors; a rollback with nothing to undo stays here."""

    __slots__ = ()

    def cursor(self, server_side: bool = False) -> AsyncAdapt_aiosqlite_cursor:
        if server_side:
            return super().cursor(server_side=True)
        return OneTripCursor(self)

    def rollback(self) -> None:
        driver: aiosqlite.Connection = self._connection
        if driver._connection is not None and not driver._connection.in_transaction:
            return
        super().rollback()


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """SQLAlchemy's aiosqlite DBAPI module, handing out OneTripConnections."""

    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        adapted = super().connect(*arg, **kw)
        return OneTripConnection(self, adapted._connection)


def dbapi() -> OneTripDBAPI:
    """The module to pass as create_async_engine(..., module=...) for sqlite+aiosqlite URLs."""
    return OneTripDBAPI(aiosqlite, sqlite3)
