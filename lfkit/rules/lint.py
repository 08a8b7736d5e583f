"""Linter findings on rules files: located diagnostics with stable codes, the static warnings,
and the text / JSON / SARIF forms `lfkit check` prints.

Every problem and warning is a `Diagnostic` pinned to file:line:column with a code (LF0xx
errors in the rules, LF1xx warnings about the rules, LF2xx checks against data). The codes are
listed in `CODES` and documented in docs/check.md; they never change meaning.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

from lfkit._types import MatchMode
from lfkit.display import plural
from lfkit.errors import OptionError, RuleError, did_you_mean, message
from lfkit.rules.patterns import keyword_regex, keyword_words
from lfkit.rules.schema import Label, Rule

Severity = Literal["error", "warning"]

CODES: dict[str, tuple[Severity, str]] = {
    "LF001": ("error", "unreadable file, YAML syntax or a file that is not a rules mapping"),
    "LF002": ("error", "unknown key or section"),
    "LF003": ("error", "missing key"),
    "LF004": ("error", "wrong type or value"),
    "LF005": ("error", "regex does not compile with RE2"),
    "LF006": ("error", "token pattern is not valid spaCy Matcher syntax"),
    "LF007": ("error", "token attribute needs a trained spaCy pipeline"),
    "LF008": ("error", "reference to an undefined label, parent or text column"),
    "LF009": ("error", "defined twice (label, alias, rule name, task)"),
    "LF010": ("error", "other rule problem (nothing to match, parent loop, ...)"),
    "LF101": ("warning", "alias of at most 2 characters"),
    "LF102": ("warning", "alias is a common English word"),
    "LF103": ("warning", "rule can never fire: its 'unless' matches wherever it does"),
    "LF104": ("warning", "rule only repeats aliases of its label"),
    "LF201": ("error", "task column is not in the data"),
    "LF202": ("error", "score column is not in the data"),
    "LF203": ("error", "label value in the data does not parse"),
    "LF204": ("warning", "label in the data is not defined in the rules"),
    "LF205": ("warning", "label defined in the rules never occurs in the data"),
}
"""Every code `lfkit check` reports: its severity and what it means."""

Location = tuple[Path, int, int]
"""A place in a rules file: (path, 1-based line, 1-based column; 0 when unknown)."""


@dataclass(frozen=True)
class Diagnostic:
    """One problem or warning, pinned to file:line:column, with a stable code."""

    path: Path
    line: int
    column: int
    code: str
    problem: str
    hint: str = ""
    rule: str = ""
    what: str = "rule"
    """What `rule` names: a rule, or a label."""

    @property
    def severity(self) -> Severity:
        """Return 'error' or 'warning', from the code."""
        return CODES[self.code][0]

    @classmethod
    def from_error(cls, err: RuleError) -> Diagnostic:
        """Return the diagnostic of a loader error; errors without a code get LF001/LF010."""
        code = err.code or ("LF010" if err.rule else "LF001")
        return cls(err.path, err.line, err.column, code, err.problem, err.hint, err.rule, err.what)

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}:{self.column or 1}" if self.line else f"{self.path}"
        subject = f"{self.what} '{self.rule}': " if self.rule else ""
        text = f"{where}: {self.code} {self.severity}: {subject}{self.problem}"
        return f"{text}\n  hint: {self.hint}" if self.hint else text


def closest_hint(
    word: str, choices: Sequence[str], *, known: bool = False, cutoff: float = 0.6
) -> str:
    """Return "did you mean 'x'?" for the closest choice ('' when none is close); with
    `known`, list the choices too."""
    hint = did_you_mean(word, choices, cutoff=cutoff)
    if known:
        hint += f" (known keys: {', '.join(sorted(choices))})"
    return hint.strip()


@cache
def _common_words() -> frozenset[str]:
    text = resources.files("lfkit.rules").joinpath("common_words.txt").read_text("utf-8")
    return frozenset(line for line in text.splitlines() if not line.startswith("#"))


def _risky_aliases(name: str, label: Label) -> list[tuple[str, str, int]]:
    """Return (code, alias, index) for each risky keyword of a label; index -1 is its name."""
    keywords = ([(-1, name)] if label.match_name else []) + list(enumerate(label.aliases))
    found = []
    for index, alias in keywords:
        words = keyword_words(alias.casefold())
        if len(alias.strip()) <= 2:
            found.append(("LF101", alias, index))
        elif len(words) == 1 and words[0] in _common_words():
            found.append(("LF102", alias, index))
    return found


def alias_warnings(
    labels: Iterable[tuple[str, Label, Location, Sequence[Location]]],
) -> list[Diagnostic]:
    """Return LF101/LF102 for aliases that will likely match where the label does not apply.

    Each label comes with the location of its name and of each alias (in order).
    """
    found = []
    for name, label, at_name, at_aliases in labels:
        for code, alias, index in _risky_aliases(name, label):
            path, line, column = at_aliases[index] if 0 <= index < len(at_aliases) else at_name
            if code == "LF101":
                hint = "use a case-sensitive rule or 'unless'"
                problem = f"alias '{alias}' has at most 2 characters: it may match unrelated text"
            else:
                hint = "set 'match_name: false' or move it into a rule with 'unless'"
                problem = f"alias '{alias}' is a common English word"
            found.append(Diagnostic(path, line, column, code, problem, hint, name, "label"))
    return found


def summarize_alias_warnings(labels: Iterable[tuple[str, Label]]) -> tuple[str, ...]:
    """Return one warning per kind of risky alias, with the count and the names."""
    risky = [
        (code, f"{alias} ({name})")
        for name, label in labels
        for code, alias, _ in _risky_aliases(name, label)
    ]
    short = [text for code, text in risky if code == "LF101"]
    common = [text for code, text in risky if code == "LF102"]
    warnings = []
    if short:
        warnings.append(
            message(
                f"{len(short)} aliases of at most 2 characters may match unrelated "
                f"text: {', '.join(short)}",
                "use a case-sensitive rule or 'unless'",
            )
        )
    if common:
        warnings.append(
            message(
                f"{len(common)} aliases are common English words: {', '.join(common)}",
                "set 'match_name: false' or move them into a rule with 'unless'",
            )
        )
    return tuple(warnings)


def rule_warnings(
    rule: Rule, at: Location, label: Label | None, keywords_at: Sequence[Location] = ()
) -> list[Diagnostic]:
    """Return LF103/LF104 for one rule: it can never fire, or it only repeats aliases.

    `keywords_at` holds the location of each keyword (in order); LF104 points at the first.
    A rule that lists its label's name or an alias among other keywords is not flagged: it
    reads as a whole, and on the bundled data removing such repeats did not improve the audit
    (docs/check.md).
    """
    path, line, column = at
    found = []

    def forms(keywords: Iterable[str], match: MatchMode) -> set[str]:
        sensitive = rule.case_sensitive
        return {
            keyword_regex(k if sensitive else k.casefold(), case_sensitive=sensitive, match=match)
            for k in keywords
        }

    unless = rule.unless
    if unless is not None and (rule.keywords or rule.regex) and not rule.patterns:
        covered = forms(rule.keywords, rule.match) <= forms(unless.keywords, unless.match)
        if covered and set(rule.regex) <= set(unless.regex):
            found.append(
                Diagnostic(
                    path,
                    line,
                    column,
                    "LF103",
                    "the rule can never fire: every keyword and regex is also in its 'unless'",
                    "remove them from 'unless', or remove the rule",
                    rule.name,
                )
            )
    plain = (
        rule.vote == "positive"
        and not rule.fields
        and unless is None
        and rule.length is None
        and rule.score is None
        and not rule.case_sensitive
    )
    if label is not None and plain and rule.enabled and not (rule.regex or rule.patterns):
        aliases = list(label.aliases) + ([rule.label] if label.match_name else [])
        if rule.keywords and forms(rule.keywords, rule.match) <= forms(aliases, label.match):
            words = ", ".join(f"'{keyword}'" for keyword in rule.keywords)
            found.append(
                Diagnostic(
                    *(keywords_at[0] if keywords_at else at),
                    "LF104",
                    f"every keyword ({words}) repeats an alias of label '{rule.label}', which "
                    "votes on them already: the rule adds no evidence, it counts the same words "
                    "twice",
                    "remove the rule, or give it keywords the aliases do not cover",
                    rule.name,
                )
            )
    return found


def _matching(prefix: str) -> list[str]:
    return [code for code in CODES if code.startswith(prefix)]


def check_codes(codes: Iterable[str]) -> tuple[str, ...]:
    """Return the codes or code prefixes (`LF104`, `LF1`, `LF`), upper-cased, that select or
    ignore warnings.

    Raises
    ------
    OptionError
        For a code that matches no code, or that matches only errors (errors cannot be
        ignored: the rules do not load with them).
    """
    chosen = []
    for raw in codes:
        code = raw.strip().upper()
        matched = _matching(code) if code else []
        if not matched:
            hint = closest_hint(code, list(CODES))
            raise OptionError(
                "codes",
                f"unknown code '{raw}' (codes: {', '.join(CODES)}, or a prefix such as LF1)",
                hint,
            )
        if all(CODES[c][0] == "error" for c in matched):
            raise OptionError(
                "codes",
                f"'{raw}' names only errors, which are always reported (the rules cannot be "
                "used with them); select or ignore warnings (LF1xx, LF204, LF205)",
            )
        chosen.append(code)
    return tuple(chosen)


def select_diagnostics(
    found: Iterable[Diagnostic], *, select: Sequence[str] = (), ignore: Sequence[str] = ()
) -> list[Diagnostic]:
    """Return the errors and the warnings whose code starts with one in `select` (all when it
    is empty) and with none in `ignore`; see `check_codes`.

    Examples
    --------
    >>> found = [Diagnostic(Path("r.yaml"), 3, 1, code, "") for code in ("LF005", "LF102", "LF104")]
    >>> [d.code for d in select_diagnostics(found, ignore=["LF104"])]
    ['LF005', 'LF102']
    >>> [d.code for d in select_diagnostics(found, select=["LF104"])]
    ['LF005', 'LF104']
    """
    select, ignore = check_codes(select), check_codes(ignore)
    return [
        d
        for d in found
        if d.severity == "error"
        or (
            (not select or d.code.startswith(select)) and not (ignore and d.code.startswith(ignore))
        )
    ]


def exit_code(found: Sequence[Diagnostic], *, strict: bool = False) -> int:
    """Return 1 when there is an error (or, with `strict`, a warning), else 0."""
    failing = ("error", "warning") if strict else ("error",)
    return int(any(d.severity in failing for d in found))


def sort_key(diagnostic: Diagnostic) -> tuple[str, int, int, str]:
    """Order diagnostics by file, line, column and code."""
    return (str(diagnostic.path), diagnostic.line, diagnostic.column, diagnostic.code)


def render_text(found: Sequence[Diagnostic]) -> str:
    """Return one paragraph per diagnostic and a count line, as a linter prints them."""
    errors = sum(d.severity == "error" for d in found)
    lines = [str(d) for d in found]
    lines.append(f"{plural(errors, 'error')}, {plural(len(found) - errors, 'warning')}")
    return "\n".join(lines)


def render_json(found: Sequence[Diagnostic]) -> str:
    """Return a JSON list of diagnostics: path, line, column, code, severity, rule, ..."""
    items = [
        {**asdict(d), "path": str(d.path), "severity": d.severity, "rule_kind": d.what}
        for d in found
    ]
    for item in items:
        item.pop("what")
    return json.dumps(items, indent=2, ensure_ascii=False)


def render_sarif(found: Sequence[Diagnostic], *, version: str = "") -> str:
    """Return a SARIF 2.1.0 log of the diagnostics, for code-scanning tools and editors."""
    codes = sorted({d.code for d in found})
    rules = [
        {
            "id": code,
            "shortDescription": {"text": CODES[code][1]},
            "defaultConfiguration": {"level": CODES[code][0]},
        }
        for code in codes
    ]
    results = []
    for d in found:
        region = {"startLine": max(d.line, 1), "startColumn": max(d.column, 1)}
        message = d.problem if not d.rule else f"{d.what} '{d.rule}': {d.problem}"
        results.append(
            {
                "ruleId": d.code,
                "ruleIndex": codes.index(d.code),
                "level": d.severity,
                "message": {"text": f"{message}\nhint: {d.hint}" if d.hint else message},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": d.path.as_posix()},
                            "region": region,
                        }
                    }
                ],
            }
        )
    driver: dict[str, object] = {"name": "lfkit", "rules": rules}
    if version:
        driver["version"] = version
    log = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{"tool": {"driver": driver}, "results": results}],
    }
    return json.dumps(log, indent=2, ensure_ascii=False)
