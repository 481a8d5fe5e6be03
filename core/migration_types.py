"""Column types for Alembic migrations that match what Tortoise generates on each dialect.

Tortoise: BigIntField pk → BIGSERIAL / INTEGER PRIMARY KEY AUTOINCREMENT, JSONField → JSONB / JSON,
UUIDField → UUID / CHAR(36), DatetimeField → TIMESTAMPTZ / TIMESTAMP, BooleanField → BOOL / INT.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


def sqlalchemy_url(database_url: str) -> str:
    scheme, rest = database_url.split("://", 1)
    if scheme.startswith("sqlite"):
        path = rest.split("?", 1)[0]
        return f"sqlite+aiosqlite:///{path}"
    if scheme in {"postgres", "postgresql", "asyncpg", "postgresql+asyncpg"}:
        # Tortoise pool options are not libpq options.
        base, _, query = rest.partition("?")
        keep = [p for p in query.split("&") if p and not p.startswith(("minsize=", "maxsize="))]
        return f"postgresql+asyncpg://{base}" + (f"?{'&'.join(keep)}" if keep else "")
    raise ValueError(f"unsupported database URL scheme: {scheme}")


def pk(name: str = "id") -> sa.Column[Any]:
    return sa.Column(
        name,
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    )


def fk(name: str, target: str, *, nullable: bool = False, ondelete: str = "CASCADE") -> sa.Column[Any]:
    return sa.Column(
        name, sa.BigInteger(), sa.ForeignKey(target, ondelete=ondelete), nullable=nullable
    )


def json_col(name: str, *, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=nullable)


def uuid_col(name: str, *, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.Uuid().with_variant(sa.CHAR(36), "sqlite"), nullable=nullable)


def ts(name: str, *, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(
        name, sa.DateTime(timezone=True).with_variant(sa.TIMESTAMP(), "sqlite"), nullable=nullable
    )


def boolean(name: str) -> sa.Column[Any]:
    return sa.Column(name, sa.Boolean().with_variant(sa.Integer(), "sqlite"), nullable=False)
