"""`script(sql)`: run a multi-statement SQL script inside a migration.

SQLAlchemy's asyncpg dialect prepares every statement, and PostgreSQL refuses several commands in
one prepared statement; asyncpg's own `execute` without arguments uses the simple query protocol,
which takes a whole script. Revisions call `script(...)` instead of `op.execute(...)` for that.
"""

from alembic import op
from sqlalchemy.util import await_only


def script(sql: str) -> None:
    driver_connection = op.get_bind().connection.driver_connection
    await_only(driver_connection.execute(sql))


ID = "text NOT NULL CHECK (char_length({c}) BETWEEN 1 AND 200 AND {c} !~ '[[:cntrl:]]')"


def ident(col: str) -> str:
    """A column definition for an identifier from plants or operators: 1-200 characters, no
    control characters (so NUL bytes never reach an index)."""
    return f"{col} " + ID.format(c=col)
