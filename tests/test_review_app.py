"""The review app: its HTTP guard (token, host, paths, writes) and, in a real headless Chromium,
the keyboard loop (accept, reject, undo, skip, relabel), the decisions file, resume after a
kill, and data shown as text."""

from __future__ import annotations

import dataclasses
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pandas as pd
import pytest
from conftest import EXAMPLES, TAG_RULES

from lfkit.audit.suspects import AuditReport, audit_labels
from lfkit.data import read_data
from lfkit.errors import LfkitError
from lfkit.review.app import Item, ReviewServer, ReviewSession, review_items
from lfkit.review.decisions import read_decisions, read_log
from lfkit.review.fix import correct_labels
from lfkit.review.memory import leave_out_decided
from lfkit.rules.ruleset import RuleSet

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

SCREENSHOT = Path("/tmp/lfkit-review.png")
XSS = " <script>alert(1)</script><img src=x onerror=\"document.title='pwned'\">"


@pytest.fixture(scope="module")
def projects(tag_rules: RuleSet) -> pd.DataFrame:
    """The bundled projects, labels parsed."""
    return read_data(EXAMPLES / "projects.json", tag_rules.task)


@pytest.fixture(scope="module")
def report(tag_rules: RuleSet, projects: pd.DataFrame) -> AuditReport:
    """A real audit of the projects' tags, top 12 flags (no neighbours: quick), its taxonomy
    findings left out: the queue is then the flags alone, in order (findings score about 1.0
    and would come first; they are reviewed in their own tests below)."""
    found = audit_labels(tag_rules, projects, top=12, neighbours=False)
    return dataclasses.replace(found, findings=())


def _flag_items(session: ReviewSession) -> list[Item]:
    """Return the session's items that are row flags (not findings), in queue order."""
    return [item for item in session.items if item.flag is not None]


def _session(ruleset: RuleSet, df: pd.DataFrame, report: AuditReport, path: Path) -> ReviewSession:
    return ReviewSession(ruleset, df, review_items(report), path, 0, command="lfkit fix ...")


@contextmanager
def serving(session: ReviewSession) -> Iterator[ReviewServer]:
    """Run a review server in a thread for the duration of the block."""
    server = ReviewServer(session)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def server(
    tmp_path: Path, tag_rules: RuleSet, projects: pd.DataFrame, report: AuditReport
) -> Iterator[ReviewServer]:
    """A review server over the real audit, with a fresh decisions file in tmp_path."""
    with serving(_session(tag_rules, projects, report, tmp_path / "decisions.jsonl")) as running:
        yield running


def _request(
    server: ReviewServer, method: str, path: str, *, body: Any = None, headers: Any = None
) -> tuple[int, bytes]:
    """Send one raw request (the path exactly as given, no normalising)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
    data = None if body is None else json.dumps(body).encode()
    connection.request(method, path, body=data, headers=headers or {})
    response = connection.getresponse()
    answer = (response.status, response.read())
    connection.close()
    return answer


# ------------------------------------------------------------------ the HTTP guard


def test_server_binds_localhost_with_a_random_token(server: ReviewServer) -> None:
    """The URL is on 127.0.0.1 and carries a long random token; another run gets another."""
    url = urlsplit(server.url)
    assert url.hostname == "127.0.0.1"
    assert server.server_address[0] == "127.0.0.1"
    assert len(server.token) >= 32
    other = ReviewServer(server.session)
    assert other.token != server.token
    other.server_close()


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/"), ("GET", "/app.js"), ("GET", "/api/state"), ("POST", "/api/decide")],
)
def test_server_refuses_requests_without_the_token(
    server: ReviewServer, method: str, path: str
) -> None:
    """No token, or a wrong one, is a 403, and nothing is written."""
    body = {"index": 0, "decision": "accept"} if method == "POST" else None
    assert _request(server, method, path, body=body)[0] == 403
    wrong = {"X-Lfkit-Token": "x" * len(server.token)}
    assert _request(server, method, path + "?token=nope", body=body, headers=wrong)[0] == 403
    assert not server.session.decisions.exists()


def test_server_refuses_another_host_name(server: ReviewServer) -> None:
    """A page that reaches the port under another name (DNS rebinding) is refused."""
    headers = {"Host": "evil.example:80", "X-Lfkit-Token": server.token}
    assert _request(server, "GET", "/api/state", headers=headers)[0] == 403


TRAVERSALS = [
    "/../pyproject.toml",
    "/%2e%2e/%2e%2e/etc/passwd",
    "/static/../app.py",
    "/app.py",
    "/static/index.html",
    "//etc/passwd",
    "/app.js/../../decisions.py",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_server_serves_nothing_outside_its_pages(server: ReviewServer, path: str) -> None:
    """Any path but its three pages and its API is a 404, token or not."""
    status, body = _request(server, "GET", f"{path}?token={server.token}")
    assert status == 404
    assert b"root:" not in body and b"import" not in body


def test_server_page_loads_with_the_token(server: ReviewServer) -> None:
    """With the token, the page and the state load; the page sets a strict CSP."""
    connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
    connection.request("GET", f"/?token={server.token}")
    response = connection.getresponse()
    assert response.status == 200 and b"lfkit review" in response.read()
    assert "script-src 'self'" in response.getheader("Content-Security-Policy", "")
    connection.close()
    status, body = _request(server, "GET", "/api/state", headers={"X-Lfkit-Token": server.token})
    assert status == 200
    assert len(json.loads(body)["items"]) == len(server.session.items)


def test_server_writes_only_the_decisions_file(server: ReviewServer, tmp_path: Path) -> None:
    """Decisions are appended to the decisions file; nothing else appears or changes."""
    token = {"X-Lfkit-Token": server.token}
    for item, choice in zip(_flag_items(server.session)[:2], ["accept", "reject"], strict=True):
        body = {"index": item.index, "decision": choice}
        assert _request(server, "POST", "/api/decide", body=body, headers=token)[0] == 200
    assert _request(server, "POST", "/api/undo", body={}, headers=token)[0] == 200
    assert sorted(path.name for path in tmp_path.iterdir()) == ["decisions.jsonl"]
    assert [d.decision for d in read_log(server.session.decisions)] == [
        "accept",
        "reject",
        "undo",
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"index": 999, "decision": "accept"},
        {"index": "0", "decision": "accept"},
        {"index": 0, "decision": "delete"},
        {"index": 0, "decision": "relabel", "value": "no-such-label"},
        [0, "accept"],
    ],
)
def test_server_refuses_bad_decisions(server: ReviewServer, body: Any) -> None:
    """A bad decision request is a 400 with a message, and nothing is written."""
    status, answer = _request(
        server, "POST", "/api/decide", body=body, headers={"X-Lfkit-Token": server.token}
    )
    assert status == 400 and json.loads(answer)["error"]
    assert not server.session.decisions.exists()


def test_session_multiclass_accept_records_the_suggested_class(
    tmp_path: Path, class_rules: RuleSet
) -> None:
    """Accepting a multiclass spurious flag records the class the row gets, as fix needs."""
    df = read_data(EXAMPLES / "dataset.csv", class_rules.task)
    report = audit_labels(class_rules, df, top=10, neighbours=False, min_score=0.1)
    session = _session(class_rules, df, report, tmp_path / "d.jsonl")
    index = next(item.index for item in _flag_items(session) if item.flag.kind == "spurious")
    session.decide(index, "accept")
    (decision,) = read_log(session.decisions)
    assert decision.value == session.items[index].flag.suggestion
    assert decision.value in class_rules.labels


# ------------------------------------------------------------------ in a real browser


def _open(driver: WebDriver, url: str) -> WebDriver:
    """Load the page and wait until the first card is shown."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    WebDriverWait(driver, 20).until(lambda d: "reviewed" in d.find_element("id", "progress").text)
    return driver


def _press(driver: WebDriver, key: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(driver).send_keys(key).perform()


def _until(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll until `check()` is truthy; return it."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def _lines(path: Path, count: int) -> list[dict[str, Any]]:
    """Wait for the decisions file to hold `count` lines; return them as JSON."""

    def read() -> list[dict[str, Any]] | None:
        lines = path.read_text("utf-8").splitlines() if path.exists() else []
        return [json.loads(line) for line in lines] if len(lines) >= count else None

    return _until(read)


def _card(driver: WebDriver) -> str:
    return driver.find_element("id", "card").text


@pytest.mark.slow
def test_browser_keyboard_accept_reject_undo(driver: WebDriver, server: ReviewServer) -> None:
    """a accepts, x rejects, backspace undoes: the file records each at once, in order."""
    from selenium.webdriver.common.keys import Keys

    items, path = server.session.items, server.session.decisions
    browser = _open(driver, server.url)
    assert f"id {items[0].flag.id}" in _card(browser)
    _press(browser, "a")
    first = _lines(path, 1)[0]
    assert (first["id"], first["label"], first["decision"]) == (
        items[0].flag.id,
        items[0].flag.label,
        "accept",
    )
    assert first["score"] == round(items[0].flag.score, 6) and first["rules"]
    _until(lambda: f"id {items[1].flag.id}" in _card(browser))
    _press(browser, "x")
    assert _lines(path, 2)[1]["decision"] == "reject"
    _until(lambda: "2 reviewed" in browser.find_element("id", "progress").text)
    browser.save_screenshot(str(SCREENSHOT))
    _press(browser, Keys.BACKSPACE)
    undo = _lines(path, 3)[2]
    assert (undo["id"], undo["label"], undo["decision"]) == (
        items[1].flag.id,
        items[1].flag.label,
        "undo",
    )
    _until(lambda: f"id {items[1].flag.id}" in _card(browser))
    assert "1 reviewed" in browser.find_element("id", "progress").text
    assert list(read_decisions(path)) == [(str(items[0].flag.id), items[0].flag.label)]


@pytest.mark.slow
def test_browser_space_skips_without_writing(driver: WebDriver, server: ReviewServer) -> None:
    """Space moves on to the next flag and writes nothing."""
    items = server.session.items
    browser = _open(driver, server.url)
    _press(browser, " ")
    _until(lambda: f"id {items[1].flag.id}" in _card(browser))
    assert "1 skipped" in browser.find_element("id", "progress").text
    assert not server.session.decisions.exists()


@pytest.mark.slow
def test_browser_relabel_with_search(driver: WebDriver, server: ReviewServer) -> None:
    """r opens the label search; typing narrows it; enter relabels with the chosen tag."""
    from selenium.webdriver.common.keys import Keys

    item = server.session.items[0]
    target = next(label for label in server.session.ruleset.labels if label != item.flag.label)
    browser = _open(driver, server.url)
    _press(browser, "r")
    search = browser.find_element("id", "search")
    _until(search.is_displayed)
    search.send_keys(target)
    _until(lambda: browser.find_element("css selector", "#choices li.active").text == target)
    search.send_keys(Keys.ENTER)
    decision = _lines(server.session.decisions, 1)[0]
    assert (decision["decision"], decision["value"]) == ("relabel", [target])
    assert decision["label"] == item.flag.label


@pytest.mark.slow
def test_browser_multiclass_relabel_picks_one_class(
    driver: WebDriver,
    tmp_path: Path,
    class_rules: RuleSet,
) -> None:
    """Multiclass: the question names the suggested class; relabel records one class name."""
    from selenium.webdriver.common.keys import Keys

    df = read_data(EXAMPLES / "dataset.csv", class_rules.task)
    report = audit_labels(class_rules, df, top=6, neighbours=False, min_score=0.1)
    with serving(_session(class_rules, df, report, tmp_path / "d.jsonl")) as running:
        flag = running.session.items[0].flag
        browser = _open(driver, running.url)
        if flag.kind == "spurious":
            assert f"Change class '{flag.label}' to '{flag.suggestion}'?" in _card(browser)
        target = next(c for c in class_rules.labels if c not in (flag.label, flag.suggestion))
        _press(browser, "r")
        search = browser.find_element("id", "search")
        _until(search.is_displayed)
        search.send_keys(target[:4])
        _until(lambda: browser.find_element("css selector", "#choices li.active").text == target)
        search.send_keys(Keys.ENTER)
        decision = _lines(running.session.decisions, 1)[0]
        assert (decision["decision"], decision["value"]) == ("relabel", target)


@pytest.mark.slow
def test_browser_list_view_jumps_to_a_flag(driver: WebDriver, server: ReviewServer) -> None:
    """l shows every flag as a row; clicking one shows it as the card."""
    items = server.session.items
    browser = _open(driver, server.url)
    _press(browser, "l")
    rows = _until(lambda: browser.find_elements("css selector", "#rows tr"))
    assert len(rows) == len(items)
    rows[5].click()
    _until(lambda: f"id {items[5].flag.id}" in _card(browser))


@pytest.mark.slow
def test_browser_shows_data_as_text(
    driver: WebDriver,
    tmp_path: Path,
    tag_rules: RuleSet,
    projects: pd.DataFrame,
) -> None:
    """Titles holding <script> and <img onerror> show as text and never run; highlights stay
    on the matched words after an emoji (two UTF-16 units, one code point)."""
    df = projects.assign(
        title="🤗 " + projects["title"] + XSS, description=XSS + projects["description"]
    )
    report = dataclasses.replace(audit_labels(tag_rules, df, top=5, neighbours=False), findings=())
    with serving(_session(tag_rules, df, report, tmp_path / "d.jsonl")) as running:
        browser = _open(driver, running.url)
        card = browser.find_element("id", "card")
        assert "<script>alert(1)</script>" in card.text and "onerror=" in card.text
        assert card.find_elements("css selector", "script, img") == []
        flag = running.session.items[0].flag
        words = {w for m in flag.rules_for + flag.rules_against for w in m.words(flag.texts)}
        marked = {mark.text for mark in card.find_elements("css selector", "mark")}
        assert marked and marked <= words  # spans count code points: the emoji shifts nothing
        _press(browser, "l")
        _until(lambda: browser.find_elements("css selector", "#rows tr"))
        assert browser.find_elements("css selector", "main img, main script") == []
        assert browser.title == "lfkit review"
        assert browser.execute_script("return document.querySelectorAll('img').length") == 0
        from selenium.common.exceptions import NoAlertPresentException

        with pytest.raises(NoAlertPresentException):
            _ = browser.switch_to.alert.text


# ----------------------------------------------- the command, killed and restarted


def _start(data: Path, decisions: Path) -> tuple[subprocess.Popen[str], str, float]:
    """Start `lfkit review` in a subprocess; return it, its URL and when it was started."""
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "lfkit", "review", str(data), "--rules", str(TAG_RULES)]
        + ["--decisions", str(decisions), "--no-open", "--no-neighbours", "--top", "12"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("review at "):
            return process, line.split()[-1], started
    raise AssertionError(f"no URL printed: {process.stderr.read() if process.stderr else ''}")


def _open_flag(browser: WebDriver, rank: int) -> None:
    """Show the flag of this rank among the flags (findings, which come first, left aside)
    through the list view: a flag's id cell holds its id, a finding's says 'N rows'."""
    _press(browser, "l")
    rows = _until(lambda: browser.find_elements("css selector", "#rows tr"))
    cells = [[cell.text for cell in row.find_elements("tag name", "td")] for row in rows]
    flags = [row for row, cell in zip(rows, cells, strict=True) if not cell[4].endswith(" rows")]
    flags[rank].click()
    _until(lambda: browser.find_element("id", "one").is_displayed())


def _stop(process: subprocess.Popen[str], sig: signal.Signals) -> None:
    process.send_signal(sig)
    process.communicate(timeout=30)


@pytest.mark.slow
def test_command_resumes_after_being_killed(driver: WebDriver, tmp_path: Path) -> None:
    """Decisions survive a SIGKILL; a restart leaves them out and says how many were decided."""
    decisions = tmp_path / "decisions.jsonl"
    data = EXAMPLES / "projects.json"
    process, url, started = _start(data, decisions)
    try:
        browser = _open(driver, url)
        _open_flag(browser, 0)
        _press(browser, "a")
        first = _lines(decisions, 1)[0]
        print(f"lfkit review start -> first decision saved: {time.monotonic() - started:.1f}s")
        assert first["decision"] == "accept"
        _until(lambda: "1 reviewed" in browser.find_element("id", "progress").text)
        _open_flag(browser, 1)
        _press(browser, "x")
        decided = {(str(d["id"]), d["label"]) for d in _lines(decisions, 2)}
    finally:
        _stop(process, signal.SIGKILL)
    assert len(read_decisions(decisions)) == 2
    process, url, _ = _start(data, decisions)
    try:
        browser = _open(driver, url)
        assert "2 decided earlier" in browser.find_element("id", "progress").text
        _press(browser, "l")
        rows = _until(lambda: browser.find_elements("css selector", "#rows tr"))
        cells = [[cell.text for cell in row.find_elements("tag name", "td")] for row in rows]
        shown = {(cell[4], cell[3]) for cell in cells}
        assert not decided & shown
    finally:
        _stop(process, signal.SIGTERM)


def test_cli_review_refuses_a_decisions_path_that_is_an_input(tmp_path: Path) -> None:
    """--decisions naming the data file is refused before any audit or server starts."""
    from typer.testing import CliRunner

    from lfkit.cli import app

    data = tmp_path / "projects.json"
    data.write_bytes((EXAMPLES / "projects.json").read_bytes())
    args = ["review", str(data), "-r", str(TAG_RULES), "-d", str(data), "--no-open"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert "is an input file" in result.stderr
    assert data.read_bytes() == (EXAMPLES / "projects.json").read_bytes()


def test_cli_review_refuses_a_bad_decisions_log(tmp_path: Path) -> None:
    """A decisions log with a bad line stops `lfkit review` with file:line, no traceback."""
    from typer.testing import CliRunner

    from lfkit.cli import app

    log = tmp_path / "d.jsonl"
    log.write_text('{"id": 1, "label": "x", "kind": "missing", "decision": "maybe"}\n')
    args = ["review", str(EXAMPLES / "projects.json"), "-r", str(TAG_RULES), "-d", str(log)]
    result = CliRunner().invoke(app, [*args, "--no-open"])
    assert result.exit_code == 1
    assert f"{log}:1: 'decision' must be one of" in result.stderr
    assert "Traceback" not in result.output


@pytest.fixture(scope="module")
def full_report(tag_rules: RuleSet, projects: pd.DataFrame) -> AuditReport:
    """A real audit of the projects' tags with every flag and the taxonomy findings."""
    return audit_labels(tag_rules, projects, neighbours=False)


def test_session_finding_accept_decides_each_row(
    tmp_path: Path, tag_rules: RuleSet, projects: pd.DataFrame, full_report: AuditReport
) -> None:
    """Accepting a taxonomy finding writes one missing-parent decision per row; fix adds the
    parent to those rows; the re-audit leaves the finding out."""
    session = _session(tag_rules, projects, full_report, tmp_path / "d.jsonl")
    item = next(item for item in session.items if item.finding is not None)
    finding = item.finding
    session.decide(item.index, "accept")
    log = read_log(session.decisions)
    assert [(str(d.id), d.label, d.kind, d.decision) for d in log] == [
        (str(row_id), finding.parent, "missing-parent", "accept") for row_id in finding.ids
    ]
    decided = read_decisions(session.decisions)
    labels = correct_labels(tag_rules, projects, decided).labels
    assert all(finding.parent in labels[row] for row in finding.rows)
    kept, left_out = leave_out_decided(full_report, decided)
    assert (finding.child, finding.parent) not in {(f.child, f.parent) for f in kept.findings}
    assert left_out >= finding.count
    with pytest.raises(LfkitError, match="not relabelled"):
        session.decide(item.index, "relabel", tag_rules.labels[0])


@pytest.mark.slow
def test_browser_shows_a_finding_with_example_rows(
    driver: WebDriver,
    tmp_path: Path,
    tag_rules: RuleSet,
    projects: pd.DataFrame,
    full_report: AuditReport,
) -> None:
    """A finding's card asks to add the parent to its rows and shows example rows as text."""
    with serving(_session(tag_rules, projects, full_report, tmp_path / "d.jsonl")) as running:
        item = next(item for item in running.session.items if item.finding is not None)
        finding = item.finding
        browser = _open(driver, running.url)
        _press(browser, "l")
        rows = _until(lambda: browser.find_elements("css selector", "#rows tr"))
        rows[item.index].click()
        question = f"Add parent '{finding.parent}' to {finding.count} rows that have"
        _until(lambda: question in _card(browser))
        first = projects.at[finding.rows[0], "title"]
        assert first in _card(browser)
        _press(browser, "x")
        log = _lines(running.session.decisions, finding.count)
        assert {d["decision"] for d in log} == {"reject"} and len(log) == finding.count
