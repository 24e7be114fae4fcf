"""Write transactions that SQLite can serialise without failing.

A plain ``BEGIN`` on SQLite takes its snapshot at the first read. If another
connection commits before this one's first write, that write fails at once
with "database is locked" (SQLITE_BUSY_SNAPSHOT): the busy timeout cannot help,
since waiting would not make the snapshot current. ``BEGIN IMMEDIATE`` takes
the write lock first, waiting up to the busy timeout for it, so concurrent
writers queue instead of failing. ``dashboard.database`` emits it for a
connection carrying ``WRITER_OPTION``.
"""

from __future__ import annotations

from sqlalchemy.orm import Session, scoped_session

WRITER_OPTION = "suitescope_writer"


def begin_writing(session: Session | scoped_session) -> None:
    """Start the session's next transaction as a writer (``BEGIN IMMEDIATE`` on SQLite).

    Harmless on PostgreSQL. A no-op when the session is already inside a
    transaction (the test harness's, or a caller's that has read): a caller
    that reads before writing ends its read transaction first.
    """
    own = session() if isinstance(session, scoped_session) else session
    if not own.in_transaction():
        own.connection(execution_options={WRITER_OPTION: True})
