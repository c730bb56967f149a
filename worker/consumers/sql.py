"""Schema migrations and the two ways SQL reaches a database: psycopg, and the Redshift Data API.

Statements are written once with `:name` placeholders (the Data API's style) and every parameter is a
string cast in SQL, so the exact same text runs on Redshift and on PostgreSQL (psycopg gets the
placeholders rewritten to `%(name)s`). Migrations are numbered `.sql` files applied in order and
recorded in `schema_migrations`; on PostgreSQL an advisory lock lets several consumers start at once.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from importlib import resources
from typing import Any, Protocol

import psycopg

MIGRATION_LOCK = 0x0DE125  # pg_advisory_xact_lock key: one migrator at a time per database
_PLACEHOLDER = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


def to_psycopg(sql: str) -> str:
    """`:name` -> `%(name)s` (`::` casts untouched, literal `%` escaped)."""
    return _PLACEHOLDER.sub(r"%(\1)s", sql.replace("%", "%%"))


def statements(script: str) -> list[str]:
    """Split a migration file on `;` at line ends (our migrations hold no function bodies)."""
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in re.split(r";\s*$", "\n".join(lines), flags=re.MULTILINE) if s.strip()]


def migrations(kind: str) -> list[tuple[str, list[str]]]:
    """(version, statements) of `migrations/<kind>/*.sql`, in file-name order."""
    folder = resources.files("worker.consumers") / "migrations" / kind
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    return [(f.name.removesuffix(".sql"), statements(f.read_text())) for f in files]


MIGRATIONS_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_migrations (version VARCHAR(128) PRIMARY KEY, applied_at TIMESTAMP NOT NULL)"
)


def migrate_postgres(conn: psycopg.Connection[Any], kind: str) -> list[str]:
    """Apply pending migrations in one transaction under an advisory lock; return the versions applied."""
    applied: list[str] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        conn.execute(MIGRATIONS_TABLE)
        done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        for version, stmts in migrations(kind):
            if version in done:
                continue
            for stmt in stmts:
                conn.execute(stmt)  # type: ignore[arg-type]  # our own files, not user input
            conn.execute("INSERT INTO schema_migrations VALUES (%s, now())", (version,))
            applied.append(version)
    return applied


class Warehouse(Protocol):
    """Where sales facts go: `execute` runs one statement in its own transaction."""

    def execute(self, sql: str, params: dict[str, str]) -> int:
        """Run one statement in its own transaction; return the rows it affected."""
        ...

    def query(self, sql: str, params: dict[str, str] | None = None) -> list[tuple[Any, ...]]: ...

    def migrate(self) -> list[str]: ...


class PostgresWarehouse:
    """The local warehouse: a PostgreSQL database of its own (docs/consumers.md, the local warehouse)."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._conn: psycopg.Connection[Any] | None = None

    @property
    def conn(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = psycopg.connect(self.dsn, autocommit=True)
        return self._conn

    def execute(self, sql: str, params: dict[str, str]) -> int:
        with self.conn.transaction():
            return self.conn.execute(to_psycopg(sql), params).rowcount  # type: ignore[arg-type]

    def query(self, sql: str, params: dict[str, str] | None = None) -> list[tuple[Any, ...]]:
        return self.conn.execute(to_psycopg(sql), params or {}).fetchall()  # type: ignore[arg-type]

    def migrate(self) -> list[str]:
        return migrate_postgres(self.conn, "warehouse")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


class WarehouseError(RuntimeError):
    """A Data API statement that FAILED or was ABORTED; the message carries Redshift's error."""


class DataApiWarehouse:
    """Redshift Serverless through the Data API: no driver, no VPC, IAM-authenticated HTTPS calls.

    The API is asynchronous: each call submits a statement and polls `DescribeStatement` until it ends.
    """

    def __init__(self, client: Any, workgroup: str, database: str, *, poll_seconds: float = 0.1, timeout: float = 60):
        self.client = client
        self.target = {"WorkgroupName": workgroup, "Database": database}
        self.poll_seconds = poll_seconds
        self.timeout = timeout

    def _wait(self, statement_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        while True:
            desc: dict[str, Any] = self.client.describe_statement(Id=statement_id)
            status = desc["Status"]
            if status == "FINISHED":
                return desc
            if status in {"FAILED", "ABORTED"}:
                raise WarehouseError(f"statement {statement_id} {status}: {desc.get('Error', '')}")
            if time.monotonic() > deadline:
                self.client.cancel_statement(Id=statement_id)
                raise WarehouseError(f"statement {statement_id} still {status} after {self.timeout}s; cancelled")
            time.sleep(self.poll_seconds)

    @staticmethod
    def _parameters(params: dict[str, str] | None) -> dict[str, Any]:
        if not params:
            return {}
        return {"Parameters": [{"name": k, "value": v} for k, v in params.items()]}

    def execute(self, sql: str, params: dict[str, str]) -> int:
        response = self.client.execute_statement(Sql=sql, **self.target, **self._parameters(params))
        return int(self._wait(response["Id"]).get("ResultRows", -1))

    def query(self, sql: str, params: dict[str, str] | None = None) -> list[tuple[Any, ...]]:
        response = self.client.execute_statement(Sql=sql, **self.target, **self._parameters(params))
        self._wait(response["Id"])
        rows: list[tuple[Any, ...]] = []
        for page in self.client.get_paginator("get_statement_result").paginate(Id=response["Id"]):
            for record in page["Records"]:
                rows.append(tuple(None if f.get("isNull") else next(iter(f.values())) for f in record))
        return rows

    def run_script(self, sqls: Sequence[str]) -> None:
        """Several statements in one transaction (BatchExecuteStatement; no parameters allowed)."""
        response = self.client.batch_execute_statement(Sqls=list(sqls), **self.target)
        self._wait(response["Id"])

    def migrate(self) -> list[str]:
        self.execute(MIGRATIONS_TABLE, {})
        done = {row[0] for row in self.query("SELECT version FROM schema_migrations")}
        applied = []
        for version, stmts in migrations("warehouse"):
            if version not in done:
                # version is a file name of ours ([0-9a-z_]), safe to inline: batches take no parameters
                self.run_script([*stmts, f"INSERT INTO schema_migrations VALUES ('{version}', GETDATE())"])
                applied.append(version)
        return applied
