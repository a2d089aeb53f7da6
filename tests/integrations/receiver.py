"""A webhook receiver written against the Standard Webhooks spec, run as a real HTTP
server in the tests: it checks the signature and the timestamp of each request, answers
400 to a bad one, and takes each event id once (a repeat is answered 200 and dropped)."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


class Receiver:
    def __init__(self, secret: str = "") -> None:
        self.secret = secret
        self.events: dict[str, dict] = {}  # by event id: each once
        self.requests = 0
        self.duplicates = 0
        self.refused = 0
        self.fail_next = 0  # answer 500 to this many requests
        self.delay = 0.0  # take this long to answer (after taking the event)
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with receiver.lock:
                    receiver.requests += 1
                    if receiver.fail_next:
                        receiver.fail_next -= 1
                        return self.answer(500)
                    try:
                        payload = Webhook(receiver.secret).verify(body, dict(self.headers))
                    except WebhookVerificationError:
                        receiver.refused += 1
                        return self.answer(400)
                    event_id = self.headers["webhook-id"]
                    if event_id in receiver.events:
                        receiver.duplicates += 1
                    else:
                        receiver.events[event_id] = payload
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.answer(204)

            def answer(self, status: int) -> None:
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/pitlane"

    @property
    def payloads(self) -> list[dict]:
        return list(self.events.values())

    def start(self) -> "Receiver":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def as_json(payload: dict) -> str:
    return json.dumps(payload, sort_keys=True)
