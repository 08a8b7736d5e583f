"""The review app: a local web page to accept, reject or relabel flags, one key at a time.

Standard library only (`http.server.ThreadingHTTPServer`) plus one static page (static/):
one user on one machine needs no framework, and no new dependency. Bound to 127.0.0.1; every
request must carry the per-run random token (query `token=` or header `X-Lfkit-Token`), else
403. It serves only its three static files and its JSON API, and writes only the decisions
file, one fsynced line per decision (`append_decision`), so Ctrl-C or a crash loses nothing.
"""

from __future__ import annotations

import hmac
import json
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pandas as pd

from lfkit._types import REVIEW_CHOICES
from lfkit.audit.suspects import AuditReport, Flag
from lfkit.display import plain
from lfkit.errors import DataError, LfkitError, OptionError, check_choice
from lfkit.review.decisions import Decision, append_decision, decision_for, read_decisions
from lfkit.review.memory import audit_with_decisions
from lfkit.rules.ruleset import RuleSet
from lfkit.rules.text import as_text

HOST = "127.0.0.1"
STATIC = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/app.css": ("app.css", "text/css; charset=utf-8"),
}
HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
}
MAX_BODY = 65_536
EXAMPLES = 5
"""Rows of a taxonomy finding shown as examples."""


@dataclass
class Item:
    """One thing to review: a row flag or a taxonomy finding, and what was decided this run."""

    index: int
    flag: Flag | None
    finding: Any = None
    state: str = "open"
    """open, skip, accept, reject or relabel."""
    value: Any = None


@dataclass
class ReviewSession:
    """The flags under review and the decisions log they go to; thread-safe."""

    ruleset: RuleSet
    df: pd.DataFrame
    items: list[Item]
    decisions: Path
    decided_before: int
    """Active decisions in the log when the session opened (their flags are not queued)."""
    command: str = ""
    history: list[tuple[int, list[tuple[Any, str, str]], str, Any]] = field(default_factory=list)
    """Per decision of this run: the item, the (id, label, kind) keys it wrote, and the item's
    state and value before it (what undo restores)."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def state(self) -> dict[str, Any]:
        """Return everything the page shows: task, labels, items, progress."""
        with self.lock:
            return {
                "kind": self.ruleset.task.kind,
                "labels": list(self.ruleset.labels),
                "decisions": str(self.decisions),
                "command": self.command,
                "items": [self._item(item) for item in self.items],
                "progress": self._progress(),
            }

    def decide(self, index: Any, choice: Any, value: Any = None) -> dict[str, Any]:
        """Record a decision on one item (skip is not written) and return its new state.

        Raises
        ------
        OptionError
            For an unknown item, choice or relabel value.
        """
        check_choice("choice", choice, REVIEW_CHOICES, "decision")
        with self.lock:
            item = self._get(index)
            if choice == "skip":  # not written: a skipped flag comes back next run
                item.state = "skip" if item.state == "open" else item.state
                return {"item": self._item(item), "progress": self._progress()}
            decisions = self._decisions(item, choice, value)
            for decision in decisions:
                append_decision(self.decisions, decision)
            keys = [(d.id, d.label, d.kind) for d in decisions]
            self.history.append((index, keys, item.state, item.value))
            item.state, item.value = choice, value
            return {"item": self._item(item), "progress": self._progress()}

    def undo(self) -> dict[str, Any]:
        """Cancel this run's latest decision (an `undo` line per key); return its item."""
        with self.lock:
            if not self.history:
                return {"item": None, "progress": self._progress()}
            index, keys, state, value = self.history.pop()
            for row_id, label, kind in keys:
                append_decision(self.decisions, Decision(row_id, label, kind, "undo"))
            item = self.items[index]
            item.state, item.value = state, value
            return {"item": self._item(item), "progress": self._progress()}

    def _get(self, index: Any) -> Item:
        if isinstance(index, bool) or not isinstance(index, int):
            raise OptionError("index", f"'index' must be an integer, got {index!r}")
        if not 0 <= index < len(self.items):
            raise OptionError("index", f"no item {index}; there are {len(self.items)}")
        return self.items[index]

    def _decisions(self, item: Item, choice: str, value: Any) -> list[Decision]:
        labels = self.ruleset.labels
        if choice == "relabel":
            if item.flag is None:
                raise OptionError(
                    "choice", "a taxonomy finding can be accepted or rejected, not relabelled"
                )
            if not isinstance(value, str) or value not in labels:
                raise OptionError("value", f"relabel needs one of the rules' labels, got {value!r}")
            return [decision_for(item.flag, "relabel", value=self._relabel(value))]
        if item.flag is not None:
            flag = item.flag
            suggested = not self.ruleset.multilabel and flag.kind == "spurious"
            return [decision_for(flag, choice, value=flag.suggestion if suggested else None)]
        finding = item.finding
        return [
            Decision(row_id, finding.parent, "missing-parent", choice, score=finding.score)
            for row_id in finding.ids
        ]

    def _relabel(self, value: str) -> Any:
        return [value] if self.ruleset.multilabel else value

    def _progress(self) -> dict[str, int]:
        decided = sum(item.state in ("accept", "reject", "relabel") for item in self.items)
        return {
            "reviewed": decided,
            "left": len(self.items) - decided,
            "skipped": sum(item.state == "skip" for item in self.items),
            "decided_before": self.decided_before,
        }

    def _item(self, item: Item) -> dict[str, Any]:
        record: dict[str, Any]
        if item.flag is not None:
            record = {**item.flag.to_dict(), "type": "flag"}
        else:
            record = {**item.finding.to_dict(), "type": "finding", "examples": self._examples(item)}
            record["ids"] = [plain(row_id) for row_id in record.get("ids", [])]
        return {**record, "index": item.index, "state": item.state, "value": item.value}

    def _examples(self, item: Item) -> list[dict[str, Any]]:
        task = self.ruleset.task
        return [
            {
                "id": plain(self.df.at[row, task.id_column]),
                "text": {column: as_text(self.df.at[row, column]) for column in task.text_columns},
            }
            for row in item.finding.rows[:EXAMPLES]
        ]


def open_session(
    ruleset: RuleSet,
    df: pd.DataFrame,
    decisions: str | Path,
    *,
    command: str = "",
    **audit: Any,
) -> ReviewSession:
    """Audit the labels as corrected by the decisions log so far and queue the open flags.

    `audit` holds `audit_labels` options (label_model, neighbours, min_score, seed, votes,
    progress); `top` limits the open flags queued. A missing log is an empty one.

    Raises
    ------
    DataError
        For bad data, or a decisions log that does not read or apply.
    """
    decisions = Path(decisions)
    decided = read_decisions(decisions) if decisions.exists() else {}
    report, _, corrected = audit_with_decisions(ruleset, df, decided, **audit)
    return ReviewSession(
        ruleset, corrected, review_items(report), decisions, len(decided), command=command
    )


def review_items(report: AuditReport) -> list[Item]:
    """Return the flags and the findings, ranked together by score."""
    ranked: list[tuple[float, Flag | None, Any]] = [(f.score, f, None) for f in report.flags]
    ranked += [(finding.score, None, finding) for finding in getattr(report, "findings", ())]
    ranked.sort(key=lambda entry: -entry[0])
    return [Item(index, flag, finding) for index, (_, flag, finding) in enumerate(ranked)]


class ReviewServer(ThreadingHTTPServer):
    """The HTTP server of one review session, bound to 127.0.0.1 with a random token."""

    daemon_threads = True

    def __init__(self, session: ReviewSession, *, port: int = 0, token: str | None = None) -> None:
        self.session = session
        self.token = token or secrets.token_urlsafe(24)
        try:
            super().__init__((HOST, port), _Handler)
        except OSError as err:
            raise OptionError(
                "port",
                f"cannot listen on {HOST}:{port} ({err.strerror})",
                "pick another port=N, or leave it out for a free one",
            ) from None

    @property
    def url(self) -> str:
        """Return the page's address, token included."""
        return f"http://{HOST}:{self.server_address[1]}/?token={self.token}"


class _Handler(BaseHTTPRequestHandler):
    server: ReviewServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  (quiet server)
        pass

    def do_GET(self) -> None:  # noqa: N802  (http.server's naming)
        self._route("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._route("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._route("PUT")

    def do_DELETE(self) -> None:  # noqa: N802
        self._route("DELETE")

    def _route(self, method: str) -> None:
        url = urlsplit(self.path)
        if not self._authorised(url.query):
            self._send(HTTPStatus.FORBIDDEN, b"forbidden: the page needs its token\n", "text/plain")
            return
        routes: dict[tuple[str, str], Callable[[], None]] = {
            ("GET", "/api/state"): lambda: self._json(self.server.session.state()),
            ("POST", "/api/decide"): self._decide,
            ("POST", "/api/undo"): lambda: self._json(self.server.session.undo()),
        }
        if method == "GET" and url.path in STATIC:
            self._static(*STATIC[url.path])
        elif (method, url.path) in routes:
            routes[(method, url.path)]()
        else:
            self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain")

    def _authorised(self, query: str) -> bool:
        host = self.headers.get("Host", "")
        port = self.server.server_address[1]
        if host not in (f"{HOST}:{port}", f"localhost:{port}"):
            return False  # refuses DNS-rebinding pages that reach us under another name
        given = self.headers.get("X-Lfkit-Token") or parse_qs(query).get("token", [""])[0]
        return hmac.compare_digest(given.encode(), self.server.token.encode())

    def _decide(self) -> None:
        try:
            length = int(self.headers.get("Content-Length", "0"))
            if not 0 < length <= MAX_BODY:
                raise DataError(f"a decision is a JSON body of at most {MAX_BODY} bytes")
            body = json.loads(self.rfile.read(length))
            if not isinstance(body, dict):
                raise DataError("a decision is a JSON object")
            answer = self.server.session.decide(
                body.get("index"), body.get("decision"), body.get("value")
            )
        except (ValueError, LfkitError) as err:
            self._json({"error": str(err)}, HTTPStatus.BAD_REQUEST)
            return
        self._json(answer)

    def _static(self, name: str, kind: str) -> None:
        text = resources.files("lfkit.review").joinpath("static", name).read_text("utf-8")
        self._send(HTTPStatus.OK, text.replace("__TOKEN__", self.server.token).encode(), kind)

    def _json(self, data: Any, status: HTTPStatus = HTTPStatus.OK) -> None:
        body = json.dumps(data, ensure_ascii=False).encode("utf-8")
        self._send(status, body, "application/json; charset=utf-8")

    def _send(self, status: HTTPStatus, body: bytes, kind: str) -> None:
        self.send_response(status)
        for name, value in HEADERS.items():
            self.send_header(name, value)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
