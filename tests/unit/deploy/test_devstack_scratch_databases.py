"""Scratch databases (epd_devstack.databases): a drop refused because an autovacuum worker is on the
database is tried again; a refusal that lasts is raised. A fake connection stands in for PostgreSQL."""

import asyncpg
import pytest

from epd_devstack import databases


class FakeAdmin:
    def __init__(self, refusals: int):
        self.refusals = refusals
        self.statements = []
        self.closed = False

    async def execute(self, sql):
        self.statements.append(sql)
        if self.refusals:
            self.refusals -= 1
            raise asyncpg.InsufficientPrivilegeError("must be a member of the role whose process is being terminated")

    async def close(self):
        self.closed = True


async def test_a_drop_refused_for_an_autovacuum_worker_is_tried_again(monkeypatch):
    admin = FakeAdmin(refusals=2)

    async def connect(dsn):
        return admin

    monkeypatch.setattr(databases.asyncpg, "connect", connect)
    await databases.drop_database("postgresql://x/epd", "t_1")
    assert admin.statements == ['DROP DATABASE IF EXISTS "t_1" WITH (FORCE)'] * 3 and admin.closed


async def test_a_lasting_refusal_is_raised(monkeypatch):
    admin = FakeAdmin(refusals=100)

    async def connect(dsn):
        return admin

    monkeypatch.setattr(databases.asyncpg, "connect", connect)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await databases.drop_database("postgresql://x/epd", "t_1", attempts=3)
    assert len(admin.statements) == 3 and admin.closed
