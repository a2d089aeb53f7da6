"""Proof that one transaction waited for another's lock, without sleeping for it.

A test of "two at once" must show that the second really reached the lock while the
first held it; a sleep only hopes so, and on a loaded machine it is often wrong.
"""

import threading
import time

from django.db import connection


class LockWait:
    """Watches one thread's database connection for the moment it waits on a lock.

    The waiting thread calls `watch()` before it starts the transaction that must wait;
    the thread holding the lock calls `wait_until_blocked()` and commits only after.

    - PostgreSQL: the watched backend shows an ungranted lock in `pg_locks`.
    - SQLite: writers queue for the database's one write lock, which `BEGIN IMMEDIATE`
      takes; the watched connection has issued it once its trace callback sees it.
    """

    def __init__(self, timeout: float = 30) -> None:
        self.timeout = timeout
        self._watching = threading.Event()
        self._began = threading.Event()
        self._pid: int | None = None

    def watch(self) -> None:
        connection.ensure_connection()
        if connection.vendor == "postgresql":
            self._pid = connection.connection.info.backend_pid
        else:
            connection.connection.set_trace_callback(self._trace)
        self._watching.set()

    def _trace(self, statement: str) -> None:
        if statement.upper().startswith("BEGIN"):
            self._began.set()

    def wait_until_blocked(self) -> None:
        assert self._watching.wait(self.timeout), "the other thread never started watching"
        if connection.vendor != "postgresql":
            assert self._began.wait(self.timeout), "the other transaction never began"
            return
        deadline = time.monotonic() + self.timeout
        with connection.cursor() as cursor:
            while True:
                cursor.execute(
                    "SELECT count(*) FROM pg_locks WHERE pid = %s AND NOT granted", [self._pid]
                )
                if cursor.fetchone()[0]:
                    return
                assert time.monotonic() < deadline, "the other transaction never waited"
                time.sleep(0.01)
