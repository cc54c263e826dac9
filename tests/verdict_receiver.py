"""A loopback webhook that records the phone verdicts ``defectsort watch --on-phone`` sends (tests, benchmarks)."""

from __future__ import annotations

import http.server
import json
import threading


class VerdictReceiver(http.server.ThreadingHTTPServer):
    """Records ``(Idempotency-Key, verdict)`` of each POST in ``received``; answers 503 while ``down``."""

    def __init__(self):
        self.received: list[tuple[str, dict]] = []
        self.down = False
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if receiver.down:
                    self.send_response(503)
                else:
                    receiver.received.append((self.headers["Idempotency-Key"], body))
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *_):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        """Return the address to give ``--on-phone``."""
        return f"http://127.0.0.1:{self.server_address[1]}/verdicts"
