"""Label Studio hand-off: tasks and config out, annotations back as decisions, and the round
trip through a real Label Studio server (slow; `make labelstudio` installs the server)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from lfkit.audit.suspects import AuditReport, audit_labels
from lfkit.cli import app
from lfkit.data import read_data
from lfkit.display import plural
from lfkit.errors import DataError
from lfkit.review.decisions import read_log
from lfkit.review.labelstudio import (
    ADDS,
    CONTROL,
    labelstudio_config,
    labelstudio_decisions,
    labelstudio_tasks,
    read_annotations,
    taxonomy_path,
)
from lfkit.rules.ruleset import RuleSet
from tests.conftest import CLASS_RULES, EXAMPLES, ROOT, TAG_RULES

CLASS_DATA = EXAMPLES / "dataset.csv"
TAG_DATA = EXAMPLES / "projects.json"
LABEL_STUDIO = ROOT / ".venv-labelstudio" / "bin" / "label-studio"
USER, PASSWORD = "lfkit@example.com", "lfkit-test-pass"
START_TIMEOUT = 600
"""Seconds to wait for a fresh Label Studio (migrations on SQLite) to answer /health."""


@pytest.fixture(scope="module")
def class_tasks(class_rules: RuleSet) -> list[dict[str, Any]]:
    """Tasks for every flagged row of the 4-class data."""
    report = audit_labels(class_rules, read_data(CLASS_DATA, class_rules.task), min_score=0.1)
    return labelstudio_tasks(class_rules, report)


@pytest.fixture(scope="module")
def tag_audit(tag_rules: RuleSet) -> tuple[pd.DataFrame, AuditReport]:
    """The first 500 projects (tags) and their audit's 40 best flags, with its findings."""
    df = read_data(TAG_DATA, tag_rules.task).head(500)
    return df, audit_labels(tag_rules, df, top=40)


@pytest.fixture(scope="module")
def tag_tasks(
    tag_rules: RuleSet, tag_audit: tuple[pd.DataFrame, AuditReport]
) -> list[dict[str, Any]]:
    """Tasks for the 40 best flags and the findings' rows of the first 500 projects."""
    df, report = tag_audit
    return labelstudio_tasks(tag_rules, report, df)


def lfkit(command: str, *args: str, status: int = 0) -> str:
    """Run `lfkit COMMAND ARGS` (paths without spaces) in-process; return its output."""
    result = CliRunner().invoke(app, [*command.split(), *args])
    assert result.exit_code == status, result.output
    return result.output


def choose(ruleset: RuleSet, labels: list[str]) -> list[dict[str, Any]]:
    """Return an annotation result choosing these labels, as Label Studio writes it."""
    if ruleset.multilabel:
        value: dict[str, Any] = {"taxonomy": [taxonomy_path(ruleset, label) for label in labels]}
        kind = "taxonomy"
    else:
        value, kind = {"choices": labels}, "choices"
    return [{"from_name": CONTROL, "to_name": "title", "type": kind, "value": value}]


def annotated(task: dict[str, Any], result: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """Return a task as a Label Studio export shows it, with one annotation."""
    annotation = {"id": 1, "result": result, "was_cancelled": False} | extra
    annotation.setdefault("updated_at", "2026-12-01T15:20:00.123456Z")
    return task | {"id": 7, "annotations": [annotation]}


def suggested(task: dict[str, Any]) -> list[str]:
    return list(task["data"]["lfkit_suggestion"])


# --- export ------------------------------------------------------------------------------------


def test_config_multiclass_offers_each_class_once(class_rules: RuleSet) -> None:
    """The 4-class config is one required single choice over the classes, in rule order."""
    root = ET.fromstring(labelstudio_config(class_rules))
    (choices,) = root.iter("Choices")
    assert (choices.get("name"), choices.get("choice"), choices.get("required")) == (
        CONTROL,
        "single",
        "true",
    )
    assert [choice.get("value") for choice in choices] == list(class_rules.labels)
    assert {text.get("value") for text in root.iter("Text")} >= {"$title", "$description"}


def test_config_multilabel_nests_each_tag_under_each_parent(tag_rules: RuleSet) -> None:
    """The tag config is a taxonomy where every tag sits at the root or under each parent."""
    (taxonomy,) = ET.fromstring(labelstudio_config(tag_rules)).iter("Taxonomy")
    under: dict[str, set[str | None]] = {}

    def walk(node: ET.Element, parent: str | None) -> None:
        for choice in node.findall("Choice"):
            under.setdefault(choice.get("value", ""), set()).add(parent)
            walk(choice, choice.get("value"))

    walk(taxonomy, None)
    assert set(under) == set(tag_rules.labels)
    for label in tag_rules.labels:
        assert under[label] == set(tag_rules.parents.get(label) or (None,)), label


def test_tasks_multiclass_one_per_flagged_row_with_suggestion(
    class_rules: RuleSet, class_tasks: list[dict[str, Any]]
) -> None:
    """Each flagged row is one task: its text, id, flags and the suggested class scored."""
    df = read_data(CLASS_DATA, class_rules.task).set_index("id")
    ids = [task["data"]["lfkit_id"] for task in class_tasks]
    assert len(ids) == len(set(ids)) >= 8
    for task in class_tasks:
        data, (prediction,) = task["data"], task["predictions"]
        row = df.loc[data["lfkit_id"]]
        assert (data["title"], data["lfkit_given"]) == (row["title"], [row["tag"]])
        flags = data["lfkit_flags"]
        spurious = [flag for flag in flags if flag["kind"] == "spurious"]
        assert prediction["score"] == max(flag["score"] for flag in flags)
        (result,) = prediction["result"]
        (choice,) = result["value"]["choices"]
        assert choice != row["tag"]
        if spurious:
            assert choice == spurious[0]["suggestion"]
        assert f"score {flags[0]['score']:.3f}" in data["lfkit_evidence"]


def test_tasks_multilabel_predict_tags_with_every_fix(
    tag_rules: RuleSet, tag_tasks: list[dict[str, Any]]
) -> None:
    """A tag task predicts the row's tags with each flag's fix, as paths of the taxonomy."""
    for task in tag_tasks:
        data = task["data"]
        expected = set(data["lfkit_given"])
        for flag in data["lfkit_flags"]:
            (expected.add if flag["kind"] in ADDS else expected.discard)(flag["label"])
        (result,) = task["predictions"][0]["result"]
        paths = result["value"]["taxonomy"]
        assert {path[-1] for path in paths} == expected == set(data["lfkit_suggestion"])
        for path in paths:
            assert not tag_rules.parents.get(path[0])
            for parent, child in zip(path, path[1:], strict=False):
                assert parent in tag_rules.parents[child]


def test_tasks_multilabel_carry_flags_and_findings(
    tag_audit: tuple[pd.DataFrame, AuditReport], tag_tasks: list[dict[str, Any]]
) -> None:
    """Every flag is on its row's task, and every row of a taxonomy finding (a child tag
    without its parent) has a missing-parent flag for the parent."""
    _, report = tag_audit
    flagged = {
        (task["data"]["lfkit_id"], flag["label"], flag["kind"]): flag["score"]
        for task in tag_tasks
        for flag in task["data"]["lfkit_flags"]
    }
    expected = {(flag.id, flag.label, flag.kind): round(flag.score, 6) for flag in report.flags}
    assert report.findings
    for finding in report.findings:
        for row_id in finding.ids:
            expected.setdefault((row_id, finding.parent, "missing-parent"), finding.score)
    assert flagged.keys() == expected.keys()
    assert len(tag_tasks) == len({row_id for row_id, _, _ in flagged})


# --- import ------------------------------------------------------------------------------------


def test_decisions_multiclass_accept_reject_relabel(
    class_rules: RuleSet, class_tasks: list[dict[str, Any]]
) -> None:
    """The suggested class accepts, the given class rejects, a third class relabels."""
    accepted, rejected, relabelled, skipped, left = class_tasks[:5]
    given = rejected["data"]["lfkit_given"][0]
    third = next(
        label
        for label in class_rules.labels
        if label not in relabelled["data"]["lfkit_given"] + suggested(relabelled)
    )
    export = [
        annotated(accepted, choose(class_rules, suggested(accepted))),
        annotated(rejected, choose(class_rules, [given])),
        annotated(relabelled, choose(class_rules, [third])),
        annotated(skipped, [], was_cancelled=True),
        left | {"annotations": []},
    ]
    decisions = labelstudio_decisions(class_rules, export)
    by_id: dict[Any, set[tuple[str, Any]]] = {}
    for decision in decisions:
        by_id.setdefault(decision.id, set()).add((decision.decision, decision.value))
        assert (decision.source, decision.time) == ("label-studio", "2026-12-01T15:20:00+00:00")
    assert set(by_id) == {task["data"]["lfkit_id"] for task in (accepted, rejected, relabelled)}
    assert by_id[accepted["data"]["lfkit_id"]] <= {
        ("accept", suggested(accepted)[0]),
        ("accept", None),
    }
    assert by_id[rejected["data"]["lfkit_id"]] == {("reject", None)}
    assert by_id[relabelled["data"]["lfkit_id"]] == {("relabel", third)}


def test_decisions_multilabel_flags_and_own_changes(
    tag_rules: RuleSet, tag_tasks: list[dict[str, Any]]
) -> None:
    """Flags fixed as suggested accept, left alone reject; own edits accept with no score."""
    accepted, rejected, edited = tag_tasks[:3]
    own = next(label for label in tag_rules.labels if label not in suggested(edited))
    export = [
        annotated(accepted, choose(tag_rules, suggested(accepted))),
        annotated(rejected, choose(tag_rules, rejected["data"]["lfkit_given"])),
        annotated(edited, choose(tag_rules, [*suggested(edited), own])),
    ]
    decisions = labelstudio_decisions(tag_rules, export)
    for task, verdict in ((accepted, "accept"), (rejected, "reject"), (edited, "accept")):
        flagged = {(flag["label"], flag["kind"]) for flag in task["data"]["lfkit_flags"]}
        mine = [d for d in decisions if d.id == task["data"]["lfkit_id"] and d.score is not None]
        assert {(d.label, d.kind) for d in mine} == flagged
        assert {d.decision for d in mine} == {verdict}
    (extra,) = [d for d in decisions if d.score is None]
    assert (extra.id, extra.label, extra.kind, extra.decision) == (
        edited["data"]["lfkit_id"],
        own,
        "missing",
        "accept",
    )


def test_decisions_compare_with_current_data(
    class_rules: RuleSet, class_tasks: list[dict[str, Any]]
) -> None:
    """With the data, ids are checked: a task whose row is gone is an error."""
    task = class_tasks[0]
    df = read_data(CLASS_DATA, class_rules.task)
    export = [annotated(task, choose(class_rules, suggested(task)))]
    assert labelstudio_decisions(class_rules, export, df=df)
    gone = df[df["id"] != task["data"]["lfkit_id"]]
    with pytest.raises(DataError, match="is not in the data"):
        labelstudio_decisions(class_rules, export, df=gone)


BAD_EXPORTS = [
    ("{not json", "not valid JSON"),
    ('{"tasks": []}', "expected a JSON list of tasks"),
    ('[{"id": 1, "data": {"text": "hi"}, "annotations": []}]', "not exported by lfkit"),
    ('[{"id": 1, "annotations": []}]', "has no 'data' object"),
]


@pytest.mark.parametrize(("text", "phrase"), BAD_EXPORTS)
def test_read_annotations_refuses_bad_files(tmp_path: Path, text: str, phrase: str) -> None:
    """A file that is not an lfkit task export is refused, naming the file and a hint."""
    path = tmp_path / "export.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=phrase) as info:
        read_annotations(path)
    assert str(path) in str(info.value) and "hint:" in str(info.value)


def test_decisions_refuse_labels_outside_the_rules(
    class_rules: RuleSet, class_tasks: list[dict[str, Any]]
) -> None:
    """An annotation with a label the rules lack, or two classes, is an error naming the task."""
    task = class_tasks[0]
    for labels, phrase in (
        (["robotics"], "'robotics' are not in the rules"),
        (
            list(class_rules.labels[:2]),
            "exactly one class",
        ),
    ):
        with pytest.raises(DataError, match=phrase) as info:
            labelstudio_decisions(class_rules, [annotated(task, choose(class_rules, labels))])
        assert "task 1 (Label Studio id 7" in str(info.value)


# --- CLI ---------------------------------------------------------------------------------------


def test_cli_export_writes_tasks_and_config(tmp_path: Path) -> None:
    """`lfkit export --to label-studio` writes the tasks and, beside them, the config."""
    out = tmp_path / "tasks.json"
    output = lfkit(
        f"export {CLASS_DATA} --rules {CLASS_RULES} --to label-studio --out {out} --min-score 0.1"
    )
    tasks = json.loads(out.read_text("utf-8"))
    assert len(tasks) >= 8
    assert ET.fromstring(out.with_suffix(".xml").read_text("utf-8")).tag == "View"
    assert f"{len(tasks)} tasks" in output
    output = lfkit(f"export {CLASS_DATA} --rules {CLASS_RULES} --out {out} --top 2", status=1)
    assert "already exists" in output
    lfkit(f"export {CLASS_DATA} --rules {CLASS_RULES} --out {out} --top 2 --force")
    assert 1 <= len(json.loads(out.read_text("utf-8"))) <= 2


def test_cli_export_never_writes_over_its_input(tmp_path: Path) -> None:
    """--out naming the data is refused with exit 1 and the data is untouched."""
    data = tmp_path / "dataset.csv"
    data.write_bytes(CLASS_DATA.read_bytes())
    output = lfkit(f"export {data} --rules {CLASS_RULES} --out {data} --force", status=1)
    assert "is an input file" in output
    assert data.read_bytes() == CLASS_DATA.read_bytes()


def test_cli_import_decisions_appends_and_reports_bad_files(
    tmp_path: Path, class_tasks: list[dict[str, Any]], class_rules: RuleSet
) -> None:
    """import-decisions appends to the log, export --decisions then leaves the rejected flags
    out, and a bad export exits 1 with the file named."""
    task = class_tasks[0]
    export = tmp_path / "export.json"
    rejected = choose(class_rules, task["data"]["lfkit_given"])
    export.write_text(json.dumps([annotated(task, rejected)]))
    log = tmp_path / "decisions.jsonl"
    command = f"import-decisions {export} --from label-studio --rules {CLASS_RULES} --out {log}"
    lfkit(command)
    output = lfkit(command)
    n = len(task["data"]["lfkit_flags"])
    assert len(read_log(log)) == 2 * n
    assert f"{plural(n, 'decision')} (accept 0, reject {n}, relabel 0)" in output
    tasks = tmp_path / "tasks.json"
    output = lfkit(
        f"export {CLASS_DATA} --rules {CLASS_RULES} --out {tasks} --decisions {log}",
        "--min-score=0.1",
    )
    assert f"{plural(n, 'flag')} already decided" in output
    ids = {task["data"]["lfkit_id"] for task in json.loads(tasks.read_text("utf-8"))}
    assert task["data"]["lfkit_id"] not in ids and len(ids) >= len(class_tasks) - 1
    export.write_text("[1]")
    assert f"{export}: task 1 has no 'data'" in lfkit(command, status=1)


# --- the round trip through a real Label Studio server -----------------------------------------


class LabelStudio:
    """A Label Studio server's REST API, over plain HTTP with a legacy token."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token

    def project(
        self, ruleset: RuleSet, tasks: list[dict[str, Any]]
    ) -> tuple[int, list[dict[str, Any]]]:
        """Create a project with lfkit's config and import the tasks; return the project id
        and the tasks as stored."""
        config = labelstudio_config(ruleset)
        project = self.call(
            "POST", "/api/projects", {"title": "lfkit audit", "label_config": config}
        )
        imported = self.call("POST", f"/api/projects/{project['id']}/import", tasks)
        stored = self.call("GET", f"/api/tasks?project={project['id']}&page_size=1000")["tasks"]
        assert imported["task_count"] == imported["prediction_count"] == len(stored) == len(tasks)
        return int(project["id"]), list(stored)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={"Authorization": f"Token {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as err:
            raise AssertionError(f"{method} {path}: {err.code} {err.read()[:500]!r}") from None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _health(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/health", timeout=5) as response:
            return bool(json.loads(response.read()).get("status") == "UP")
    except (OSError, ValueError):
        return False


@pytest.fixture(scope="module")
def label_studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabelStudio]:
    """A fresh Label Studio on a free local port with a temporary data dir, stopped at the end."""
    if not LABEL_STUDIO.exists():
        message = f"Label Studio is not installed at {LABEL_STUDIO}; run `make labelstudio`"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI must run the round trip: `make test` installs it)")
        pytest.skip(message + " (`make test` does)")
    folder = tmp_path_factory.mktemp("label-studio")
    port, token = _free_port(), os.urandom(20).hex()
    env = os.environ | {"LATEST_VERSION_CHECK": "false", "COLLECT_ANALYTICS": "false"}
    command = [
        str(LABEL_STUDIO),
        "start",
        "--no-browser",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--data-dir",
        str(folder / "data"),
        "--username",
        USER,
        "--password",
        PASSWORD,
        "--user-token",
        token,
        "--enable-legacy-api-token",
    ]
    log = open(folder / "server.log", "wb")  # noqa: SIM115  (closed below)
    server = subprocess.Popen(
        command, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _health(url):
            tail = (folder / "server.log").read_text(errors="replace")[-2000:]
            assert server.poll() is None, f"Label Studio exited:\n{tail}"
            assert time.monotonic() < deadline, f"Label Studio did not start:\n{tail}"
            time.sleep(1)
        yield LabelStudio(url, token)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


def _round_trip(
    studio: LabelStudio, tmp_path: Path, data: Path, rules: Path, ruleset: RuleSet, args: list[str]
) -> tuple[dict[str, list[str]], set[str], pd.DataFrame, pd.DataFrame]:
    """Export, annotate some tasks in Label Studio, import the decisions and fix the data.

    Returns the labels chosen per annotated row id, the ids left or skipped, the data before
    and the corrected data.
    """
    tasks_path = tmp_path / "tasks.json"
    lfkit(f"export {data} --rules {rules} --to label-studio --out {tasks_path}", *args)
    assert tasks_path.with_suffix(".xml").read_text("utf-8") == labelstudio_config(ruleset)
    pid, tasks = studio.project(ruleset, json.loads(tasks_path.read_text("utf-8")))
    assert len(tasks) >= 8
    chosen: dict[str, list[str]] = {}
    for number, task in enumerate(tasks[:8]):
        (prediction,) = studio.call("GET", f"/api/predictions?task={task['id']}")
        data_ = task["data"]
        given, suggestion = data_["lfkit_given"], data_["lfkit_suggestion"]
        body: dict[str, Any]
        if number < 3:  # accept lfkit's suggestion as it is
            body = {"result": prediction["result"], "parent_prediction": prediction["id"]}
            chosen[str(data_["lfkit_id"])] = suggestion
        elif number < 5:  # the given labels were right
            body = {"result": choose(ruleset, given)}
            chosen[str(data_["lfkit_id"])] = given
        elif number == 5:  # something else: a third class, or the suggestion plus a tag
            other = [label for label in ruleset.labels if label not in given + suggestion]
            labels = [*suggestion, other[0]] if ruleset.multilabel else other[:1]
            body = {"result": choose(ruleset, labels)}
            chosen[str(data_["lfkit_id"])] = labels
        elif number == 6:  # skipped
            body = {"result": [], "was_cancelled": True}
        else:  # left for later
            continue
        studio.call("POST", f"/api/tasks/{task['id']}/annotations", body)
    export = studio.call(
        "GET", f"/api/projects/{pid}/export?exportType=JSON&download_all_tasks=true"
    )
    assert len(export) == len(tasks)
    export_path = tmp_path / "export.json"
    export_path.write_text(json.dumps(export), encoding="utf-8")
    decisions = tmp_path / "decisions.jsonl"
    lfkit(
        f"import-decisions {export_path} --from label-studio --rules {rules} --out {decisions}"
        f" --data {data}"
    )
    assert {str(decision.id) for decision in read_log(decisions)} == set(chosen)
    corrected = tmp_path / f"corrected{data.suffix}"
    lfkit(f"fix {data} --rules {rules} --decisions {decisions} --out {corrected}")
    again = tmp_path / "again.json"  # the next export sends only what is still open
    lfkit(f"export {corrected} --rules {rules} --out {again} --decisions {decisions}", *args)
    decided = {(str(d.id), d.label) for d in read_log(decisions)}
    for task in json.loads(again.read_text("utf-8")):
        for flag in task["data"]["lfkit_flags"]:
            assert (str(task["data"]["lfkit_id"]), flag["label"]) not in decided
    left = {str(task["data"]["lfkit_id"]) for task in tasks} - set(chosen)
    before, after = read_data(data, ruleset.task), read_data(corrected, ruleset.task)
    return chosen, left, before, after


@pytest.mark.slow
def test_round_trip_multiclass(
    label_studio: LabelStudio, tmp_path: Path, class_rules: RuleSet
) -> None:
    """4-class data: annotated rows get the class chosen in Label Studio, nothing else moves."""
    chosen, left, before, after = _round_trip(
        label_studio, tmp_path, CLASS_DATA, CLASS_RULES, class_rules, ["--min-score", "0.1"]
    )
    assert after.drop(columns="tag").equals(before.drop(columns="tag"))
    for row_id, old, new in zip(before["id"], before["tag"], after["tag"], strict=True):
        key = str(row_id)  # ids keep the data's dtype; Label Studio hands them back as text
        assert new == (chosen[key][0] if key in chosen else old), row_id
    assert sum(before["tag"] != after["tag"]) == 4  # 3 accepted, 1 relabelled
    assert left


@pytest.mark.slow
def test_round_trip_multilabel(
    label_studio: LabelStudio, tmp_path: Path, tag_rules: RuleSet
) -> None:
    """Tags: annotated rows get exactly the chosen known tags; other tags and rows are kept."""
    chosen, left, before, after = _round_trip(
        label_studio, tmp_path, TAG_DATA, TAG_RULES, tag_rules, ["--top", "40"]
    )
    known = set(tag_rules.labels)
    assert after.drop(columns="tags").equals(before.drop(columns="tags"))
    for row_id, old, new in zip(before["id"], before["tags"], after["tags"], strict=True):
        key = str(row_id)
        if key not in chosen:
            assert new == old, row_id
            continue
        assert {tag for tag in new if tag in known} == set(chosen[key]), row_id
        assert [tag for tag in new if tag not in known] == [t for t in old if t not in known]
    assert left


@pytest.fixture(scope="module")
def chrome(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Headless Chromium (`make browser` installs it), as in tests/test_report_html.py."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--window-size=1400,1800",
                f"--user-data-dir={tmp_path_factory.mktemp('chrome-profile')}"):  # fmt: skip
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    yield driver
    driver.quit()


@pytest.mark.slow
@pytest.mark.parametrize("multilabel", [False, True], ids=["classes", "tags"])
def test_labelling_ui_shows_evidence_and_prefills_the_suggestion(
    label_studio: LabelStudio,
    chrome: Any,
    request: pytest.FixtureRequest,
    multilabel: bool,
    tmp_path: Path,
) -> None:
    """In Label Studio's own labelling page, an annotator sees the text and lfkit's evidence,
    and the answer starts as lfkit's suggestion (checked class, or taxonomy paths)."""
    from selenium.webdriver.support.ui import WebDriverWait

    ruleset = request.getfixturevalue("tag_rules" if multilabel else "class_rules")
    tasks = request.getfixturevalue("tag_tasks" if multilabel else "class_tasks")
    pid, stored = label_studio.project(ruleset, tasks[:3])
    if not chrome.current_url.startswith(label_studio.url):  # log in once per server
        chrome.get(label_studio.url + "/user/login/")
        chrome.find_element("id", "email").send_keys(USER)
        chrome.find_element("id", "password").send_keys(PASSWORD)
        chrome.find_element("css selector", "button[type=submit]").click()
        WebDriverWait(chrome, 60).until(lambda d: "/user/login" not in d.current_url)
    chrome.get(f"{label_studio.url}/projects/{pid}/data?task={stored[0]['id']}")
    data = stored[0]["data"]
    selector = ".lsf-taxonomy" if multilabel else "input[type=checkbox]:checked"
    try:
        WebDriverWait(chrome, 120).until(lambda d: d.find_elements("css selector", selector))
    finally:
        chrome.save_screenshot(str(tmp_path / "labelling.png"))
    page = chrome.find_element("tag name", "body").text
    assert data["title"].strip() in page
    assert f"lfkit suggests: {', '.join(data['lfkit_suggestion'])}" in page
    if multilabel:
        (prediction,) = tasks[0]["predictions"]
        paths = prediction["result"][0]["value"]["taxonomy"]
        shown = chrome.find_element("css selector", ".lsf-taxonomy").text.splitlines()
        assert sorted(shown) == sorted(" / ".join(path) for path in paths)
    else:
        checked = chrome.find_elements("css selector", "input[type=checkbox]:checked")
        assert [box.get_attribute("name") for box in checked] == data["lfkit_suggestion"]


def test_tasks_top_bounds_the_rows_of_findings_too(
    tag_rules: RuleSet, tag_audit: tuple[pd.DataFrame, AuditReport]
) -> None:
    """`top` keeps the best tasks, whether their rows come from flags or taxonomy gaps."""
    df, report = tag_audit
    every = labelstudio_tasks(tag_rules, report, df)
    assert report.findings and len(every) > 5
    best = labelstudio_tasks(tag_rules, report, df, top=5)
    assert best == every[:5]
