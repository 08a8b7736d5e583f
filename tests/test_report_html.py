"""The HTML audit report: escaping in Python, and what a person sees in a real headless Chrome."""

from __future__ import annotations

import dataclasses
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from conftest import EXAMPLES

from lfkit.audit.evidence import RuleMatch
from lfkit.audit.suspects import AuditReport, Flag, audit_labels
from lfkit.data import read_data
from lfkit.report.html import MAX_FLAGS, highlight, render_html
from lfkit.rules.ruleset import RuleSet

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

SCREENSHOT = Path("/tmp/lfkit-report.png")


PER_PAGE = 50


@pytest.fixture(scope="module")
def report(tag_rules: RuleSet) -> AuditReport:
    """A real multilabel audit of the bundled projects, every flag (several pages of them)."""
    df = read_data(EXAMPLES / "projects.json", tag_rules.task)
    found = audit_labels(tag_rules, df)
    assert len(found.flags) == found.n_flags > 3 * PER_PAGE
    return found


def page_data(page: str) -> dict[str, object]:
    """Return the JSON the page embeds for its script."""
    start = page.index('<script type="application/json" id="report-data">')
    text = page[page.index(">", start) + 1 : page.index("</script>", start)]
    return json.loads(text)


def _flag(**changes: object) -> Flag:
    """Return a small hand-made flag, with `changes` applied."""
    base = Flag(
        id=7,
        row=0,
        label="nlp",
        kind="missing",
        score=0.9,
        probability=0.95,
        rule_probability=0.9,
        neighbour_probability=None,
        given=(),
        rules_for=(),
        rules_against=(),
        children=(),
        suggestion=None,
        texts={"title": "bert"},
    )
    return dataclasses.replace(base, **changes)


def _report(*flags: Flag) -> AuditReport:
    """Return a report holding these flags, counted per label and kind."""
    counts: dict[str, dict[str, int]] = {}
    for flag in flags:
        kinds = counts.setdefault(flag.label, {"missing": 0, "spurious": 0, "candidate": 0})
        kinds[flag.kind] += 1
    return AuditReport(
        "multilabel", 10, ("nlp",), "naive-bayes", False, {"rules": 1.0}, 0.5, flags, counts
    )


class _Text(HTMLParser):
    """Collect the text and check that every start tag is closed in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text, self.open = "", []

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open.pop() == tag

    def handle_data(self, data: str) -> None:
        self.text += data


def test_html_escapes_script_in_text_ids_and_labels() -> None:
    """Text, ids, labels and rule names with <script> and </script> come out escaped."""
    evil = "<script>alert(1)</script> and </script><img src=x onerror=alert(2)>"
    match = RuleMatch("<b>rule</b>", "</script>", 1, (("title", 0, 8),))
    flag = _flag(
        id="</script><script>alert(3)</script>",
        label="</script>",
        texts={"title": evil, "<desc>": evil},
        rules_for=(match,),
        given=("<i>",),
    )
    page = render_html(_report(flag), title="<script>alert(4)</script>")
    assert page.count("<script") == 2 and page.count("</script>") == 2  # data, code
    code = page[page.rindex("<script>") :]
    assert not any(sink in code for sink in ("innerHTML", "outerHTML", "insertAdjacent", "write("))
    assert "<img" not in page and "<b>rule" not in page and "<i>" not in page
    assert "<title>&lt;script&gt;alert(4)&lt;/script&gt;</title>" in page
    assert '<option value="&lt;/script&gt;">' in page
    data = page_data(page)
    assert data["rows"] == [["</script><script>alert(3)</script>", [evil, evil]]]
    assert data["labels"][data["flags"][0][1]] == "</script>"
    assert data["rules"] == ["<b>rule</b>"]


def test_html_page_holds_compact_json_for_10k_flags(report: AuditReport) -> None:
    """Ten thousand flags embed as compact JSON: each row's text once, names as numbers, about
    half a kilobyte per flag; the limit cuts the page and says so."""
    many = tuple(
        dataclasses.replace(flag, row=n // 3, id=n // 3)
        for n, flag in enumerate(report.flags[i % len(report.flags)] for i in range(10_000))
    )
    big = dataclasses.replace(report, flags=many, counts={"nlp": {"missing": 10_000}})
    page = render_html(big)
    data = page_data(page)
    assert len(data["flags"]) == 10_000 and len(data["rows"]) == 3_334
    assert len(page.encode()) / 10_000 < 1_500
    assert "the page holds the top" not in page
    cut = render_html(big, limit=2_000)
    assert len(page_data(cut)["flags"]) == 2_000 and MAX_FLAGS >= 10_000
    assert "Counts cover all 10,000 flags" in cut and "the page holds the top 2,000" in cut


def test_html_highlights_overlapping_spans_with_well_nested_markup() -> None:
    """Overlapping, adjacent and out-of-range spans keep the text intact and tags nested."""
    text = "deep <learning> & vision"
    out = highlight(
        text,
        [(0, 4, "a"), (2, 10, "b"), (10, 15, "c"), (20, 99, "d")],
        [(5, 12, "e"), (12, 12, "empty"), (-3, 1, "f")],
    )
    parser = _Text()
    parser.feed(out)
    assert parser.text == text and parser.open == []
    assert '<mark class="both" title="for: a; against: f">d</mark>' in out
    assert 'title="for: b, c; against: e">&lt;learni</mark>' in out and "<learn" not in out


def test_html_lists_taxonomy_findings_apart(report: AuditReport) -> None:
    """Taxonomy gaps are a table of their own, with parent, child, row count and fixes, and
    no flag is a missing-parent flag."""
    page = render_html(report)
    assert report.findings and "missing-parent" not in {flag.kind for flag in report.flags}
    section = page[page.index('<table id="findings">') :]
    finding = report.findings[0]
    assert f"<td>{finding.count}</td><td>{finding.parent}</td><td>{finding.child}</td>" in section
    assert "add the parent to these rows, or change the taxonomy" in page


def test_html_empty_report_says_no_flags() -> None:
    """A report without flags renders and says so."""
    page = render_html(_report())
    assert "No flags at this score." in page and "0 of 0 flags match" in page
    assert page_data(page)["flags"] == []


def test_cli_html_holds_every_flag_while_the_table_shows_top(tmp_path: Path) -> None:
    """`lfkit audit --top 3 --html page.html`: the table shows 3 flags, the page all of them."""
    from typer.testing import CliRunner

    from lfkit.cli import app

    html = tmp_path / "page.html"
    rules = EXAMPLES.parents[1] / "rules" / "madewithml-4class"
    args = ["audit", str(EXAMPLES / "dataset.csv"), "--rules", str(rules), "--top", "3"]
    result = CliRunner().invoke(app, [*args, "--html", str(html), "--no-classifier"])
    assert result.exit_code == 0, result.output
    counted = int(result.stdout.split(" flags at score")[0].replace(",", ""))
    assert result.stdout.count("why: ") == 3 and counted > 3
    assert len(page_data(html.read_text())["flags"]) == counted


# ---------------------------------------------------------------- in a real browser


@pytest.fixture(scope="module")
def page(report: AuditReport, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The file:// URL of the rendered report."""
    path = tmp_path_factory.mktemp("html") / "audit.html"
    path.write_text(render_html(report), encoding="utf-8")
    return path.as_uri()


@pytest.fixture
def browser(driver: WebDriver, page: str) -> WebDriver:
    """The driver, with the report freshly loaded."""
    driver.get(page)
    return driver


# One script per read instead of one WebDriver round trip per element and attribute (each
# costs milliseconds of CPU in Python, chromedriver and Chromium; a page of 50 flags took 100).
VISIBLE_FLAGS = """return Array.from(document.querySelectorAll('.flag'))
  .filter(function (f) {
    return f.checkVisibility({checkOpacity: true, checkVisibilityCSS: true});
  })
  .map(function (f) {
    return {rank: Number(f.dataset.rank), label: f.dataset.label, kind: f.dataset.kind,
            score: Number(f.dataset.score), text: f.innerText};
  });"""


def _visible(browser: WebDriver) -> list[dict[str, Any]]:
    """Return the flags shown on the current page, top to bottom: rank, label, kind, score and
    the text a person sees."""
    return list(browser.execute_script(VISIBLE_FLAGS))


def _shown(browser: WebDriver) -> tuple[int, int]:
    text = browser.find_element("id", "shown").text
    found = re.fullmatch(r"(\d+) of (\d+) flags match", text)
    assert found, text
    return int(found[1]), int(found[2])


def _ranks(browser: WebDriver) -> list[int]:
    """Return the ranks of the flags on the current page, top to bottom."""
    return [card["rank"] for card in _visible(browser)]


def _choose(browser: WebDriver, select: str, value: str) -> None:
    from selenium.webdriver.support.ui import Select

    Select(browser.find_element("id", select)).select_by_value(value)


def test_html_summary_lists_label_counts(browser: WebDriver, report: AuditReport) -> None:
    """The summary table shows each label's missing/spurious/candidate counts and total."""
    SCREENSHOT.unlink(missing_ok=True)
    browser.save_screenshot(str(SCREENSHOT))
    cells = browser.execute_script(
        "return Array.from(document.querySelectorAll('#summary tbody tr'), r =>"
        " Array.from(r.querySelectorAll('td'), c => c.textContent))"
    )
    seen = {label: [int(n) for n in numbers] for label, *numbers in cells}
    assert len(seen) == len(cells)
    expected = {
        label: [c["missing"], c["spurious"], c["candidate"], sum(c.values())]
        for label, c in report.counts.items()
    }
    assert seen == expected
    totals = [numbers[-1] for numbers in seen.values()]
    assert totals == sorted(totals, reverse=True)
    assert browser.find_element("css selector", "#summary tbody tr").is_displayed()


def test_html_first_flag_shows_label_kind_and_id(browser: WebDriver, report: AuditReport) -> None:
    """The top flag shows its rank, label, kind badge, id and score, and the N of M count."""
    first, flag = browser.find_element("css selector", ".flag"), report.flags[0]
    head = first.find_element("class name", "head").text
    assert "#1" in head and flag.label in head and flag.kind in head
    assert f"id {flag.id}" in head and f"{flag.score:.3f}" in head
    assert _shown(browser) == (report.n_flags, report.n_flags)


def test_html_pages_through_every_flag(browser: WebDriver, report: AuditReport) -> None:
    """All flags the summary counts are in the page, 50 a page; next/previous walk them."""
    pages = -(-report.n_flags // PER_PAGE)
    seen: list[int] = []
    assert browser.find_element("id", "prev").get_attribute("disabled")
    for number in range(1, pages + 1):
        info = browser.find_element("id", "page-info").text
        assert info.endswith(f"page {number} of {pages}"), info
        seen += _ranks(browser)
        if number < pages:
            browser.find_element("id", "next").click()
    assert browser.find_element("id", "next").get_attribute("disabled")
    assert seen == list(range(1, report.n_flags + 1))
    browser.find_element("id", "prev").click()
    assert _ranks(browser)[0] == (pages - 2) * PER_PAGE + 1
    _choose(browser, "page-size", "200")
    assert _ranks(browser) == list(range(1, min(200, report.n_flags) + 1))


def test_html_label_beyond_the_first_page(browser: WebDriver, report: AuditReport) -> None:
    """Clicking a label whose flags all rank below the first page shows every one of them."""
    first = {flag.label for flag in report.flags[:PER_PAGE]}
    label = next(f.label for f in report.flags[PER_PAGE:] if f.label not in first)
    want = [rank for rank, f in enumerate(report.flags, start=1) if f.label == label]
    assert min(want) > PER_PAGE and len(want) == sum(report.counts[label].values())
    browser.find_element("css selector", f'#summary button[data-label="{label}"]').click()
    assert _shown(browser) == (len(want), report.n_flags)
    assert _ranks(browser) == want[:PER_PAGE]
    assert {card["label"] for card in _visible(browser)} == {label}


@pytest.mark.parametrize("order", ["score-asc", "label", "kind"])
def test_html_sorts_by_score_label_and_kind(
    browser: WebDriver, report: AuditReport, order: str
) -> None:
    """Sorting reorders all matching flags (not just a page): lowest score first, by label
    A to Z, or by kind; ties keep the score order."""
    ranked = list(enumerate(report.flags, start=1))
    key = {
        "score-asc": lambda item: (round(item[1].score, 4), -item[0]),
        "label": lambda item: (item[1].label, item[0]),
        "kind": lambda item: (["missing", "spurious", "candidate"].index(item[1].kind), item[0]),
    }[order]
    _choose(browser, "sort", order)
    _choose(browser, "page-size", "200")
    want = [rank for rank, _ in sorted(ranked, key=key)][:200]
    assert _ranks(browser) == want


def test_html_highlights_rule_matches(browser: WebDriver, report: AuditReport) -> None:
    """A rule's matched text appears inside a highlighted <mark> in its flag."""
    rank, flag, (field, start, end) = next(
        (rank, flag, span)
        for rank, flag in enumerate(report.flags[:PER_PAGE])
        for span in (flag.rules_for[0].spans if flag.rules_for else ())
        if not any(
            f == span[0] and s < span[2] and span[1] < e
            for m in flag.rules_against
            for f, s, e in m.spans
        )
    )
    matched = flag.texts[field][start:end]
    card = browser.find_elements("css selector", ".flag")[rank]
    marks = card.find_elements("css selector", "mark.for")
    assert any(matched in mark.text for mark in marks if mark.is_displayed()), matched
    assert flag.rules_for[0].rule in card.find_element("class name", "evidence").text


def test_html_label_filter_hides_other_labels(browser: WebDriver, report: AuditReport) -> None:
    """Choosing a label (select or summary click) shows only its flags and updates N of M."""
    from selenium.webdriver.support.ui import Select

    label = report.flags[0].label
    want = sum(flag.label == label for flag in report.flags)
    Select(browser.find_element("id", "label")).select_by_value(label)
    visible = _visible(browser)
    assert len(visible) == min(want, PER_PAGE) and want < len(report.flags)
    assert {card["label"] for card in visible} == {label}
    assert _shown(browser) == (want, len(report.flags))
    Select(browser.find_element("id", "label")).select_by_value("")
    browser.find_element("css selector", f'#summary button[data-label="{label}"]').click()
    assert _shown(browser) == (want, len(report.flags))


def test_html_unticking_a_kind_hides_it(browser: WebDriver, report: AuditReport) -> None:
    """Unticking the 'missing' checkbox hides every missing flag."""
    want = sum(flag.kind != "missing" for flag in report.flags)
    browser.find_element("css selector", '.kind[value="missing"]').click()
    visible = _visible(browser)
    assert "missing" not in {card["kind"] for card in visible}
    assert len(visible) == min(want, PER_PAGE)
    assert _shown(browser) == (want, len(report.flags))


def test_html_min_score_slider_hides_lower_scores(browser: WebDriver, report: AuditReport) -> None:
    """Raising the min-score slider hides flags that score lower; at 1 it says so."""
    slider = browser.find_element("id", "min-score")
    set_value = (
        "arguments[0].value = arguments[1];"
        "arguments[0].dispatchEvent(new Event('input', {bubbles: true}));"
    )
    cut = sorted(flag.score for flag in report.flags)[len(report.flags) // 2]
    browser.execute_script(set_value, slider, f"{int(cut * 100) / 100:.2f}")
    floor = float(slider.get_attribute("value"))
    want = sum(flag.score >= floor - 1e-9 for flag in report.flags)
    assert 0 < want < len(report.flags)
    assert all(card["score"] >= floor for card in _visible(browser))
    assert _shown(browser) == (want, len(report.flags))
    assert not browser.find_element("id", "empty").is_displayed()
    browser.execute_script(set_value, slider, "1")
    assert _shown(browser)[0] == 0
    assert browser.find_element("id", "empty").is_displayed()


def test_html_search_filters_by_text(browser: WebDriver, report: AuditReport) -> None:
    """Typing an id into the search box keeps the flags that mention it."""
    flag = report.flags[-1]
    browser.find_element("id", "search").send_keys(str(flag.id))
    visible = _visible(browser)
    assert 0 < len(visible) < len(report.flags)
    assert all(str(flag.id) in card["text"] for card in visible)
    assert len(report.flags) in _ranks(browser)  # found on the last page too


def test_html_makes_no_network_requests(browser: WebDriver) -> None:
    """The page loads no resources and links no external scripts, styles or fonts."""
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0
    external = browser.execute_script(
        "return Array.from(document.querySelectorAll('[src], link[href]'))"
        ".map(e => e.getAttribute('src') || e.getAttribute('href'))"
    )
    assert external == []
    assert "http" not in browser.page_source.split("<style>")[1].split("</style>")[0]


def test_html_empty_report_in_browser(driver: WebDriver, tmp_path: Path) -> None:
    """With no flags the page shows 'No flags at this score.' and '0 of 0 flags shown'."""
    path = tmp_path / "empty.html"
    path.write_text(render_html(_report()), encoding="utf-8")
    driver.get(path.as_uri())
    assert driver.find_element("id", "empty").is_displayed()
    assert _shown(driver) == (0, 0)
    assert "No flags at this score." in driver.find_element("tag name", "body").text


def test_html_shows_markup_in_data_as_text(driver: WebDriver, tmp_path: Path) -> None:
    """Text, ids, labels and rule names holding HTML show up as those characters: no element
    is created from them and no script runs."""
    evil = "<img src=x onerror=\"document.title='owned'\"><b>bold</b></script>"
    match = RuleMatch("<i>rule</i>", "<u>label</u>", 1, (("title", 0, 4),))
    flag = _flag(id="<s>7</s>", label="<u>label</u>", texts={"title": evil}, rules_for=(match,))
    path = tmp_path / "evil.html"
    path.write_text(render_html(_report(flag)), encoding="utf-8")
    driver.get(path.as_uri())
    card = driver.find_element("css selector", ".flag")
    assert evil in card.text and "id <s>7</s>" in card.text and "<i>rule</i>" in card.text
    assert card.find_elements("css selector", "img, s, u, i:not(.bar i)") == []
    bold = {b.text.rstrip(": ") for b in card.find_elements("tag name", "b")}
    assert bold <= {"title", "Why", "Rules for", "Given labels"}
    assert driver.title == "lfkit audit"
    (mark,) = card.find_elements("css selector", "mark.for")
    assert mark.text == "<img" and mark.get_attribute("title") == "for: <i>rule</i>"
