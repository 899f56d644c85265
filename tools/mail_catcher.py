#!/usr/bin/env python3
"""Catch every e-mail sent to a local SMTP port and show it on a web page.

A stand-in for Mailpit on machines without Docker. The SMTP server (aiosmtpd)
accepts any message on 127.0.0.1:1025 and relays nothing. The web page on
127.0.0.1:8025 lists the messages, newest first, and shows each one. Messages
are kept in memory, up to ``--max-messages`` (older ones are dropped), and
with ``--store FILE`` also appended to a JSON Lines file that the next start
reads back, so a restarted catcher still lists the earlier messages.

The web server also answers a subset of Mailpit's REST API, so that the CDNOW
demo reads the e-mails the same way from either:

* ``GET /api/v1/messages?start=0&limit=50``: ``{"total", "messages": [...]}``,
  each message with ``ID``, ``MessageID``, ``Subject``, ``From``, ``To`` and
  ``Created``;
* ``GET /api/v1/message/<ID>``: the same fields plus ``HTML`` and ``Text``.

Run it with ``python3 tools/mail_catcher.py``; Ctrl+C stops it.
"""

import argparse
import email
import email.policy
import html
import json
import logging
import threading
import time
import uuid
from collections import OrderedDict
from datetime import datetime, timezone
from email.utils import getaddresses
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

_logger = logging.getLogger("mail_catcher")

LOOPBACK = "127.0.0.1"


class MessageStore:
    """Thread-safe, bounded, in-memory list of the messages received, optionally
    saved to a JSON Lines file (one message per line)."""

    def __init__(self, max_messages=20000, path=None):
        self.max_messages = max_messages
        self._messages = OrderedDict()
        self._lock = threading.Lock()
        self.path = Path(path) if path else None
        if self.path and self.path.exists():
            self._load()

    def _load(self):
        with self.path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                try:
                    record = json.loads(line)
                except ValueError:
                    _logger.warning(
                        "Skipped unreadable line %s of %s", number, self.path
                    )
                    continue
                self._keep(record)
        _logger.info("Loaded %s messages from %s", len(self._messages), self.path)

    def _keep(self, record):
        self._messages[record["ID"]] = record
        while len(self._messages) > self.max_messages:
            self._messages.popitem(last=False)

    def add(self, raw, envelope_to):
        message = email.message_from_bytes(raw, policy=email.policy.default)
        html_part = message.get_body(preferencelist=("html",))
        text_part = message.get_body(preferencelist=("plain",))
        recipients = getaddresses(message.get_all("To", []) or envelope_to)
        sender = getaddresses(message.get_all("From", []))
        record = {
            "ID": uuid.uuid4().hex,
            "MessageID": (message.get("Message-Id") or "").strip().strip("<>"),
            "Subject": str(message.get("Subject") or ""),
            "From": _address(sender[0] if sender else ("", "")),
            "To": [_address(pair) for pair in recipients],
            "Created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "HTML": html_part.get_content() if html_part else "",
            "Text": text_part.get_content() if text_part else "",
            "Size": len(raw),
        }
        with self._lock:
            self._keep(record)
            if self.path:
                # NOTE: the file keeps every message, also those dropped from
                # memory past --max-messages; delete it to start afresh.
                with self.path.open("a", encoding="utf-8") as lines:
                    lines.write(json.dumps(record) + "\n")
        return record

    def summaries(self, start=0, limit=50):
        with self._lock:
            newest_first = list(reversed(self._messages.values()))
        page = newest_first[start : start + limit]
        keys = ("ID", "MessageID", "Subject", "From", "To", "Created", "Size")
        return len(newest_first), [{key: item[key] for key in keys} for item in page]

    def get(self, message_id):
        with self._lock:
            return self._messages.get(message_id)


def _address(pair):
    name, address = pair
    return {"Name": name, "Address": address}


class SmtpHandler:
    """aiosmtpd handler that stores each message and accepts every recipient."""

    def __init__(self, store):
        self.store = store

    async def handle_DATA(self, server, session, envelope):
        record = self.store.add(envelope.original_content, envelope.rcpt_tos)
        _logger.debug(
            "Received message %s for %s recipients",
            record["ID"],
            len(envelope.rcpt_tos),
        )
        return "250 Message accepted for delivery"


class WebHandler(BaseHTTPRequestHandler):
    store = None

    def log_message(self, format, *args):
        _logger.debug(format, *args)

    def do_GET(self):
        url = urlparse(self.path)
        query = parse_qs(url.query)
        if url.path == "/api/v1/messages":
            start = int(query.get("start", ["0"])[0])
            limit = int(query.get("limit", ["50"])[0])
            total, messages = self.store.summaries(start, limit)
            self._send_json({"total": total, "start": start, "messages": messages})
        elif url.path.startswith("/api/v1/message/"):
            record = self.store.get(url.path.rsplit("/", 1)[-1])
            if record:
                self._send_json(record)
            else:
                self._send(404, "text/plain", b"message not found")
        elif url.path.startswith("/view/"):
            record = self.store.get(url.path.rsplit("/", 1)[-1])
            if record:
                self._send(200, "text/html", self._render_message(record))
            else:
                self._send(404, "text/plain", b"message not found")
        elif url.path == "/":
            start = int(query.get("start", ["0"])[0])
            self._send(200, "text/html", self._render_list(start))
        else:
            self._send(404, "text/plain", b"not found")

    def _send_json(self, value):
        self._send(200, "application/json", json.dumps(value).encode())

    def _send(self, status, content_type, body):
        self.send_response(status)
        self.send_header("Content-Type", f"{content_type}; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _render_list(self, start, page_size=100):
        total, messages = self.store.summaries(start, page_size)
        rows = "".join(
            "<tr><td>{created}</td><td>{sender}</td><td>{to}</td>"
            '<td><a href="/view/{id}">{subject}</a></td></tr>'.format(
                created=html.escape(item["Created"]),
                sender=html.escape(item["From"]["Address"]),
                to=html.escape(", ".join(to["Address"] for to in item["To"])),
                id=item["ID"],
                subject=html.escape(item["Subject"] or "(no subject)"),
            )
            for item in messages
        )
        pages = ""
        if start + page_size < total:
            pages = f'<p><a href="/?start={start + page_size}">Older messages</a></p>'
        return (
            "<!DOCTYPE html><html><head><meta charset='utf-8'>"
            "<title>Mail catcher</title><style>body{font-family:sans-serif}"
            "td,th{padding:2px 8px;text-align:left;border-bottom:1px solid #ddd}"
            "</style></head><body>"
            f"<h1>Mail catcher</h1><p>{total} messages, newest first. Nothing is "
            "relayed.</p><table><tr><th>Received (UTC)</th><th>From</th><th>To</th>"
            f"<th>Subject</th></tr>{rows}</table>{pages}</body></html>"
        ).encode()

    def _render_message(self, record):
        body = record["HTML"] or f"<pre>{html.escape(record['Text'])}</pre>"
        # The e-mail is shown in a sandboxed frame: no script runs and its
        # links open in a new tab.
        return (
            "<!DOCTYPE html><html><head><meta charset='utf-8'>"
            f"<title>{html.escape(record['Subject'])}</title>"
            "<style>body{font-family:sans-serif}iframe{width:100%;height:80vh;"
            "border:1px solid #ccc}</style></head><body>"
            '<p><a href="/">All messages</a></p>'
            f"<h2>{html.escape(record['Subject'])}</h2>"
            f"<p>From: {html.escape(record['From']['Address'])}<br>"
            f"To: {html.escape(', '.join(to['Address'] for to in record['To']))}<br>"
            f"Message-Id: {html.escape(record['MessageID'])}</p>"
            '<iframe sandbox="allow-popups" srcdoc="'
            f'{html.escape("<base target=_blank>" + body, quote=True)}"></iframe>'
            "</body></html>"
        ).encode()


class MailCatcher:
    """SMTP server and web page over one ``MessageStore``, both on loopback."""

    def __init__(self, smtp_port=1025, web_port=8025, max_messages=20000, store=None):
        from aiosmtpd.controller import Controller

        self.store = MessageStore(max_messages, store)
        self.smtp = Controller(
            SmtpHandler(self.store), hostname=LOOPBACK, port=smtp_port
        )
        handler = type("BoundWebHandler", (WebHandler,), {"store": self.store})
        self.web = ThreadingHTTPServer((LOOPBACK, web_port), handler)
        self._web_thread = threading.Thread(
            target=self.web.serve_forever, name="mail-catcher-web", daemon=True
        )

    @property
    def smtp_port(self):
        return self.smtp.port

    @property
    def web_port(self):
        return self.web.server_address[1]

    def start(self):
        self.smtp.start()
        self._web_thread.start()
        _logger.info(
            "Mail catcher: SMTP on %s:%s, web page on http://%s:%s",
            LOOPBACK,
            self.smtp_port,
            LOOPBACK,
            self.web_port,
        )
        return self

    def stop(self):
        self.web.shutdown()
        self.web.server_close()
        self.smtp.stop()
        _logger.info("Mail catcher stopped")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--smtp-port", type=int, default=1025, help="SMTP port on 127.0.0.1"
    )
    parser.add_argument(
        "--web-port", type=int, default=8025, help="web page port on 127.0.0.1"
    )
    parser.add_argument(
        "--max-messages",
        type=int,
        default=20000,
        help="messages kept in memory; older ones are dropped (default: 20000)",
    )
    parser.add_argument(
        "--store",
        help="JSON Lines file that keeps the messages across restarts "
        "(default: memory only)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    # aiosmtpd logs every SMTP command at info level.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    try:
        catcher = MailCatcher(
            args.smtp_port, args.web_port, args.max_messages, args.store
        )
    except ImportError:
        parser.exit(
            2,
            "error: aiosmtpd is missing; install it with "
            "'pip install -r requirements-test.txt'.\n",
        )
    except OSError as error:
        parser.exit(2, f"error: cannot listen on the web port: {error}\n")
    catcher.start()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        catcher.stop()


if __name__ == "__main__":
    main()
