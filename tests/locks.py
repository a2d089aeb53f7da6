"""Two transactions at once, on PostgreSQL: proof that the second waited for the first."""

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, connections, transaction

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="shows a second transaction waiting for a row lock (pg_stat_activity); CI runs it",
)


def a_transaction_waits_for_a_lock(timeout: float = 15.0) -> bool:
    """True as soon as another connection to this database waits for a lock; False if
    none did within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0]:
                return True
            time.sleep(0.02)
    return False


def while_held(hold: Callable[[], Any], contend: Callable[[], Any]) -> tuple[Any, Any, bool]:
    """Runs `hold` in a transaction on one thread and keeps that transaction open until
    `contend`, started on a second thread, is seen waiting for a lock (or 15 s passed);
    then commits. Returns what each returned, and whether `contend` waited."""
    held, release = threading.Event(), threading.Event()
    results: dict[str, Any] = {}

    def run(name: str, work: Callable[[], Any], in_transaction: bool) -> None:
        try:
            if in_transaction:
                with transaction.atomic():
                    results[name] = work()
                    held.set()
                    release.wait(timeout=60)
            else:
                results[name] = work()
        except BaseException as error:  # re-raised in the test's thread
            results[f"{name} error"] = error
        finally:
            held.set()
            connections.close_all()

    first = threading.Thread(target=run, args=("hold", hold, True))
    second = threading.Thread(target=run, args=("contend", contend, False))
    first.start()
    held.wait(timeout=60)
    waited = False
    try:
        if "hold error" not in results:
            second.start()
            waited = a_transaction_waits_for_a_lock()
    finally:
        release.set()
        first.join(timeout=60)
        if second.ident is not None:
            second.join(timeout=60)
    for name in ("hold", "contend"):
        if f"{name} error" in results:
            raise results[f"{name} error"]
    return results.get("hold"), results.get("contend"), waited
