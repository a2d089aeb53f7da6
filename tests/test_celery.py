import secrets

from config.celery import ping


def test_a_task_round_trips_through_a_real_worker(celery_worker_process):
    """Not eager mode: the task goes through the configured broker (Redis in CI)."""
    token = secrets.token_hex(8)
    result = ping.delay(token)
    try:
        assert result.get(timeout=60) == f"pong {token}"
    finally:
        print("".join(celery_worker_process.log_lines[-40:]))
