"""Database models: users who may write, the items catalogue, and background jobs."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, DateTime, Enum, ForeignKey, Index, Integer, Numeric, String, Text
from sqlalchemy.dialects.mysql import MEDIUMTEXT
from sqlalchemy.orm import Mapped, mapped_column

from {{ cookiecutter.package_name }}.extensions import db
from {{ cookiecutter.package_name }}.passwords import hash_password, needs_rehash, verify_password

if TYPE_CHECKING:
    # Type checkers see the declarative base itself, whose Mapped[] columns they read; at
    # run time db.Model is Flask-SQLAlchemy's class built from it (query, table names).
    from {{ cookiecutter.package_name }}.extensions import Base as Model
else:
    Model = db.Model


def utcnow() -> datetime:
    """Timezone-aware now, so timestamps compare correctly across hosts."""
    return datetime.now(UTC)


def iso_utc(moment: datetime) -> str:
    """ISO 8601 in UTC; SQLite and MySQL hand back naive datetimes that were stored as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat()


def enum_values(enum_class: type[enum.Enum]) -> list[str]:
    """Store enum values ("done"), not member names ("DONE")."""
    return [str(member.value) for member in enum_class]


# MySQL's TEXT stops at 64 KiB; an uploaded CSV may be as large as MAX_CONTENT_LENGTH.
LongText = Text().with_variant(MEDIUMTEXT(), "mysql", "mariadb")


class TimestampMixin:
    """created_at / updated_at maintained by the ORM."""

    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class User(TimestampMixin, Model):
    """Someone allowed to log in and change data; only a password hash is stored."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))

    def set_password(self, password: str) -> None:
        """Store a salted Argon2id hash of `password` (passwords.py)."""
        self.password_hash = hash_password(password)

    def check_password(self, password: str) -> bool:
        """True when `password` matches the stored hash, whichever scheme made it."""
        return verify_password(self.password_hash, password)

    def password_needs_rehash(self) -> bool:
        """True when the stored hash predates Argon2id or today's parameters."""
        return needs_rehash(self.password_hash)


class Item(TimestampMixin, Model):
    """A catalogue entry: the resource the example API and the load tests exercise."""

    __tablename__ = "items"
    # Pages are ordered by id, which the primary key index already serves; this index
    # serves "newest first" listings and lookups by name.
    __table_args__ = (Index("ix_items_created_at_id", "created_at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    price: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    quantity: Mapped[int] = mapped_column(Integer, default=0)

    def to_dict(self) -> dict[str, Any]:
        """JSON shape of an item; price is a 2-decimal string so no float rounding leaks."""
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "price": f"{self.price:.2f}",
            "quantity": self.quantity,
            "created_at": iso_utc(self.created_at),
            "updated_at": iso_utc(self.updated_at),
        }


class JobKind(enum.StrEnum):
    """What a background job does."""

    REPORT = "report"
    IMPORT = "import"


class JobStatus(enum.StrEnum):
    """Where a background job is in its life."""

    PENDING = "pending"
    RUNNING = "running"
    # Waiting for another attempt after a temporary failure (database or network away).
    RETRYING = "retrying"
    DONE = "done"
    FAILED = "failed"


# Long enough for a sentence, short enough that no stack trace or SQL fits by accident.
JOB_ERROR_MAX_LENGTH = 200


class Job(TimestampMixin, Model):
    """A report or import; its status lives here so any instance can answer a poll.

    Only its owner sees it: the API answers 404 for other users' jobs, exactly as for
    ids that do not exist, so sequential ids reveal nothing about other users' work.
    """

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[JobKind] = mapped_column(
        Enum(JobKind, native_enum=False, length=16, values_callable=enum_values)
    )
    status: Mapped[JobStatus] = mapped_column(
        Enum(JobStatus, native_enum=False, length=16, values_callable=enum_values),
        default=JobStatus.PENDING,
    )
    # Deliveries that started the work; more than one means a retry (temporary error,
    # or a worker that died mid-job), and the count caps how often a job is retried.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    payload: Mapped[str | None] = mapped_column(LongText)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # A short reason a client can read; details (exceptions, SQL, hosts) go to the log.
    error: Mapped[str | None] = mapped_column(String(JOB_ERROR_MAX_LENGTH))
    # Set when the job reaches done or failed; the housekeeping purge goes by it.
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)

    def to_dict(self) -> dict[str, Any]:
        """JSON shape of a job's status; the payload and the owner stay private."""
        return {
            "id": self.id,
            "kind": self.kind.value,
            "status": self.status.value,
            "attempts": self.attempts,
            "result": self.result,
            "error": self.error,
            "created_at": iso_utc(self.created_at),
            "updated_at": iso_utc(self.updated_at),
            "finished_at": iso_utc(self.finished_at) if self.finished_at else None,
        }
