"""CI only (image/update-check.sh): a stand-in for GHL's API at http://10.0.2.2:PORT for the
VM's per-location instances. It answers every call as GHL answers an empty location (no
conversations, no messages; the rate-limit headers GHL sends) and appends one line per request
to LOG: METHOD, path with query, and the Authorization header, so the check can see which
location's token reached which location.

    ghl-recorder.py PORT LOG
"""
import http.server
import json
import sys

port, log = int(sys.argv[1]), sys.argv[2]


class Recorder(http.server.BaseHTTPRequestHandler):
    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        with open(log, "a") as out:
            out.write(f"{self.command} {self.path} {self.headers.get('Authorization', '-')}\n")
        body = json.dumps({"conversations": [], "total": 0, "messages": {"messages": [], "nextPage": False}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-RateLimit-Limit-Daily", "200000")
        self.send_header("X-RateLimit-Daily-Remaining", "199990")
        self.send_header("X-RateLimit-Max", "100")
        self.send_header("X-RateLimit-Remaining", "99")
        self.send_header("X-RateLimit-Interval-Milliseconds", "10000")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = answer

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", port), Recorder).serve_forever()
