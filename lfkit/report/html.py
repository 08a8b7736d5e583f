"""Render an audit report as one self-contained HTML page (inline CSS and JS, no network).

The flags travel as compact JSON in a `<script type="application/json">` element (every `<`,
`>` and `&` escaped, so no text can close it); the inline script pages, filters and sorts them
and builds every element with `textContent`, never by parsing data as HTML.
"""

from __future__ import annotations

import json
from html import escape
from string import Template
from typing import Any

from lfkit.audit.evidence import RuleMatch
from lfkit.audit.suspects import KINDS, AuditReport, Flag
from lfkit.display import plain
from lfkit.report.table import describe, new_labels_line

SHOWN_IDS = 30
MAX_FLAGS = 50_000
"""The most flags one page holds (about 25 MB of HTML on the bundled projects); beyond
that the page says how many it leaves out, and JSON Lines or CSV hold them all."""
PAGE_SIZES = (25, 50, 100, 200)
SIDES = ("for", "against", "both")
WORDS = 3
"""Matched words quoted per rule in the evidence."""

_PAGE = Template("""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title>
<style>
body{font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;
 background:#f6f7f9;margin:0}
main{max-width:1100px;margin:0 auto;padding:20px 24px 60px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px}
.meta{color:#57606a;margin:0}
table{border-collapse:collapse;background:#fff;border:1px solid #d0d7de;font-size:13px}
th,td{padding:3px 10px;text-align:right;border-bottom:1px solid #eaeef2}
th:first-child,td:first-child{text-align:left}
#summary-wrap{max-height:260px;overflow:auto;display:inline-block}
#summary thead th{position:sticky;top:0;background:#f0f2f5}
#summary td button{all:unset;cursor:pointer;color:#0969da}
#summary tr.active td{background:#fff8c5}
.controls{position:sticky;top:0;z-index:1;background:#f6f7f9;padding:10px 0;display:flex;
 flex-wrap:wrap;gap:10px 14px;align-items:center;border-bottom:1px solid #d0d7de}
.controls input[type=search],.controls select{padding:3px 6px;font:inherit}
#shown{margin-left:auto;font-weight:600}
.pager{display:flex;gap:10px;align-items:center;flex-basis:100%}
.pager button{font:inherit;padding:2px 10px}
.flag{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:10px 14px;margin:10px 0}
.head{display:flex;gap:12px;align-items:center;flex-wrap:wrap}
.rank{color:#57606a;min-width:2.5em}.label{font-weight:600}.id{color:#57606a}
.score{font-variant-numeric:tabular-nums;display:flex;gap:6px;align-items:center}
.bar{width:70px;height:7px;background:#eaeef2;border-radius:4px;overflow:hidden}
.bar i{display:block;height:100%;background:#cf222e}
.badge{font-size:12px;padding:0 8px;border-radius:10px;color:#fff}
.k-missing{background:#1a7f37}.k-spurious{background:#cf222e}.k-candidate{background:#9a6700}
.k-missing-parent{background:#8250df}
#findings td:nth-child(n+2){text-align:left}.ids{font-size:12px;color:#57606a;max-width:420px}
.field{margin:6px 0 0;white-space:pre-wrap;overflow-wrap:anywhere}
.field b{color:#57606a;font-weight:500;margin-right:6px}
mark{border-radius:3px;padding:0 1px}
mark.for{background:#aceebb}mark.against{background:#ffcecb}
mark.both{background:linear-gradient(#aceebb 50%,#ffcecb 50%)}
.evidence{margin:8px 0 0;padding:6px 0 0;border-top:1px dashed #d0d7de;font-size:13px;
 color:#424a53}
.evidence p{margin:2px 0}.rule{font-family:ui-monospace,monospace;font-size:12px}
.empty{color:#57606a;font-style:italic;padding:20px 0}
</style></head><body><main>
<h1>$title</h1>
$header
<h2>Flags per label</h2>
$summary
<div class="controls">
<label>Label <select id="label"><option value="">all labels</option>$options</select></label>
<span>$kinds</span>
<label>Min score <input id="min-score" type="range" min="$smin" max="1" step="0.01"
 value="$smin"> <output id="min-score-value">$smin</output></label>
<label><input id="search" type="search" placeholder="Search text, ids, rules"></label>
<label>Sort <select id="sort"><option value="score">score, highest first</option>
<option value="score-asc">score, lowest first</option><option value="label">label, A to Z</option>
<option value="kind">kind</option></select></label>
<span id="shown">$n of $n flags match</span>
<div class="pager"><button type="button" id="prev">&larr; previous</button>
<span id="page-info"></span><button type="button" id="next">next &rarr;</button>
<label>per page <select id="page-size">$sizes</select></label></div>
</div>
<div id="flags"></div>
<p id="empty" class="empty"$empty_hidden>No flags at this score.</p>
$findings
</main>
<script type="application/json" id="report-data">$data</script>
<script>
(function () {
  'use strict';
  var q = function (s) { return document.querySelector(s); };
  var data = JSON.parse(q('#report-data').textContent);
  var flags = data.flags, rows = data.rows, labels = data.labels, kinds = data.kinds;
  var rules = data.rules, fields = data.fields, sides = data.sides;
  var label = q('#label'), score = q('#min-score'), search = q('#search'), sort = q('#sort');
  var size = q('#page-size'), box = q('#flags'), page = 0, shown = [], texts = [];
  var boxes = Array.prototype.slice.call(document.querySelectorAll('.kind'));

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }
  function pct(v) { return v === null ? 'n/a' : (100 * v).toFixed(1) + '%'; }
  function haystack(i) {
    if (texts[i] === undefined) {
      var f = flags[i], row = rows[f[0]], names = [];
      f[10].concat(f[11]).forEach(function (r) { names.push(rules[r[0]]); });
      texts[i] = [String(row[0]), labels[f[1]], row[1].join(' '), f[8], names.join(' ')]
        .join('\\n').toLowerCase();
    }
    return texts[i];
  }
  function keep(i, on, floor, text) {
    var f = flags[i];
    return (!label.value || labels[f[1]] === label.value) && on[kinds[f[2]]] &&
      f[3] >= floor - 1e-9 && (!text || haystack(i).indexOf(text) >= 0);
  }
  var orders = {
    'score': function (a, b) { return a - b; },
    'score-asc': function (a, b) { return flags[a][3] - flags[b][3] || b - a; },
    'label': function (a, b) {
      var x = labels[flags[a][1]], y = labels[flags[b][1]];
      return x < y ? -1 : x > y ? 1 : a - b;
    },
    'kind': function (a, b) { return flags[a][2] - flags[b][2] || a - b; }
  };

  function field(f, k) {
    var text = rows[f[0]][1][k], p = el('p', 'field'), at = 0;
    p.appendChild(el('b', '', fields[k]));
    f[12].filter(function (m) { return m[0] === k; }).forEach(function (m) {
      p.appendChild(document.createTextNode(text.slice(at, m[1])));
      var mark = el('mark', sides[m[3]], text.slice(m[1], m[2]));
      mark.title = m[4];
      p.appendChild(mark);
      at = m[2];
    });
    p.appendChild(document.createTextNode(text.slice(at)));
    return p;
  }
  function ruleList(f, list) {
    var span = el('span');
    list.forEach(function (r, n) {
      if (n) { span.appendChild(document.createTextNode('; ')); }
      span.appendChild(el('span', 'rule', rules[r[0]]));
      var words = r[2].map(function (w) { return '\\u201c' + w + '\\u201d'; }).join(', ');
      var target = r[1] >= 0 ? ' \\u2192 ' + labels[r[1]] : '';
      if (target || words) { span.appendChild(document.createTextNode(target + ' ' + words)); }
    });
    return span;
  }
  function line(title, content) {
    var p = el('p');
    p.appendChild(el('b', '', title + ': '));
    p.appendChild(typeof content === 'string' ? document.createTextNode(content) : content);
    return p;
  }
  function card(i) {
    var f = flags[i], kind = kinds[f[2]], name = labels[f[1]], rank = i + 1;
    var a = el('article', 'flag'), head = el('div', 'head'), s = el('span', 'score');
    a.dataset.label = name; a.dataset.kind = kind; a.dataset.score = f[3]; a.dataset.rank = rank;
    var bar = el('span', 'bar'), fill = el('i');
    fill.style.width = (100 * f[3]).toFixed(1) + '%';
    bar.appendChild(fill);
    s.appendChild(bar);
    s.appendChild(document.createTextNode(f[3].toFixed(3)));
    [el('span', 'rank', '#' + rank), s, el('span', 'badge k-' + kind, kind),
     el('span', 'label', name), el('span', 'id', 'id ' + rows[f[0]][0])]
      .forEach(function (e) { head.appendChild(e); });
    a.appendChild(head);
    fields.forEach(function (_, k) { a.appendChild(field(f, k)); });
    var ev = el('div', 'evidence');
    ev.appendChild(el('p', '', 'P(label) ' + pct(f[4]) + ' \\u00b7 rules ' + pct(f[5]) +
      ' \\u00b7 similar rows ' + pct(f[6]) + ' \\u00b7 classifier ' + pct(f[7])));
    if (f[8]) { ev.appendChild(line('Why', f[8])); }
    if (f[10].length) { ev.appendChild(line('Rules for', ruleList(f, f[10]))); }
    if (f[11].length) { ev.appendChild(line('Rules against', ruleList(f, f[11]))); }
    ev.appendChild(line('Given labels',
      f[9].map(function (g) { return labels[g]; }).join(', ') || '(none)'));
    a.appendChild(ev);
    return a;
  }

  function render() {
    var per = Number(size.value), pages = Math.max(1, Math.ceil(shown.length / per));
    page = Math.min(Math.max(page, 0), pages - 1);
    var start = page * per, end = Math.min(start + per, shown.length);
    box.textContent = '';
    shown.slice(start, end).forEach(function (i) { box.appendChild(card(i)); });
    q('#page-info').textContent = shown.length ?
      'flags ' + (start + 1) + '\\u2013' + end + ', page ' + (page + 1) + ' of ' + pages : '';
    q('#prev').disabled = page === 0;
    q('#next').disabled = page >= pages - 1;
  }
  function update() {
    var on = {}, text = search.value.trim().toLowerCase(), floor = Number(score.value);
    boxes.forEach(function (k) { on[k.value] = k.checked; });
    q('#min-score-value').textContent = floor.toFixed(2);
    shown = [];
    for (var i = 0; i < flags.length; i += 1) {
      if (keep(i, on, floor, text)) { shown.push(i); }
    }
    shown.sort(orders[sort.value]);
    page = 0;
    q('#shown').textContent = shown.length + ' of ' + flags.length + ' flags match';
    q('#empty').hidden = shown.length > 0;
    document.querySelectorAll('#summary tr[data-label]').forEach(function (r) {
      r.classList.toggle('active', r.dataset.label === label.value);
    });
    render();
  }
  document.querySelectorAll('#summary button').forEach(function (b) {
    b.addEventListener('click', function () {
      label.value = label.value === b.dataset.label ? '' : b.dataset.label;
      update();
    });
  });
  [label, score, search, sort].concat(boxes).forEach(function (e) {
    e.addEventListener('input', update);
    e.addEventListener('change', update);
  });
  size.addEventListener('change', function () { page = 0; render(); });
  function turn(by) {
    page += by;
    render();
    var top = box.getBoundingClientRect().top, bar = q('.controls').offsetHeight;
    if (top < bar) { window.scrollBy(0, top - bar - 8); }
  }
  q('#prev').addEventListener('click', function () { turn(-1); });
  q('#next').addEventListener('click', function () { turn(1); });
  update();
}());
</script></body></html>
""")


def _header(report: AuditReport, held: int) -> str:
    lines = [escape(line) for line in describe(report, shown=held)]
    new = new_labels_line(report)
    if new:
        lines.append(escape(new))
    lines.append(
        'Highlights: <mark class="for">rule for the label</mark> '
        '<mark class="against">rule against it</mark>'
    )
    return "\n".join(f'<p class="meta">{line}</p>' for line in lines)


def _findings(report: AuditReport) -> str:
    if not report.findings:
        return ""
    rows = []
    for finding in report.findings:
        ids = ", ".join(escape(str(row_id)) for row_id in finding.ids[:SHOWN_IDS])
        ids += ", &hellip;" if finding.count > SHOWN_IDS else ""
        rows.append(
            f'<tr data-parent="{escape(finding.parent)}"><td>{finding.count}</td>'
            f"<td>{escape(finding.parent)}</td><td>{escape(finding.child)}</td>"
            f'<td>{finding.score:.0%}</td><td class="ids">{ids}</td></tr>'
        )
    total = sum(finding.count for finding in report.findings)
    return (
        f'<h2>Taxonomy findings</h2><p class="meta">{len(report.findings):,} (child, parent) '
        f"gaps on {total:,} rows: these rows have the child tag but not its parent. Fix: add the "
        "parent to these rows, or change the taxonomy (the child is not always a kind of the "
        'parent).</p><table id="findings"><thead><tr><th>rows</th><th>parent (missing)</th>'
        "<th>child (given)</th><th>P(child right)</th><th>ids</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def _summary(report: AuditReport, kinds: tuple[str, ...], held: int) -> str:
    if not report.counts:
        return '<p class="empty">No label has flags.</p>'
    rows = sorted(report.counts.items(), key=lambda item: (-sum(item[1].values()), item[0]))
    body = "".join(
        f'<tr data-label="{escape(label)}"><td><button type="button" data-label='
        f'"{escape(label)}">{escape(label)}</button></td>'
        + "".join(f"<td>{counts.get(kind, 0)}</td>" for kind in kinds)
        + f"<td>{sum(counts.values())}</td></tr>"
        for label, counts in rows
    )
    head = "".join(f"<th>{kind}</th>" for kind in ("label", *kinds, "total"))
    note = (
        ""
        if held >= report.n_flags
        else (
            f'<p class="meta">Counts cover all {report.n_flags:,} flags at score &ge; '
            f"{report.min_score:g}; the page holds the top {held:,} (all of them are in the "
            "JSON Lines and CSV outputs).</p>"
        )
    )
    return (
        f'{note}<div id="summary-wrap"><table id="summary"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def segments(
    size: int, rules_for: list[tuple[int, int, str]], rules_against: list[tuple[int, int, str]]
) -> list[tuple[int, int, str, str]]:
    """Cut a text of `size` characters into (start, end, side, title) pieces by its
    (start, end, rule) spans, side being 'for', 'against', 'both' or '' (not matched).

    Overlapping and adjacent spans are cut at every boundary, and neighbouring pieces with the
    same side are merged, so the pieces never overlap and cover the whole text.
    """
    spans = [
        (max(0, s), min(size, e), rule, side)
        for side, group in (("for", rules_for), ("against", rules_against))
        for s, e, rule in group
        if min(size, e) > max(0, s)
    ]
    cuts = sorted({0, size, *(s for s, _, _, _ in spans), *(e for _, e, _, _ in spans)})
    pieces: list[tuple[int, int, str, dict[str, list[str]]]] = []
    for start, end in zip(cuts, cuts[1:], strict=False):
        rules: dict[str, list[str]] = {"for": [], "against": []}
        for s, e, rule, side in spans:
            if s <= start and end <= e and rule not in rules[side]:
                rules[side].append(rule)
        both = rules["for"] and rules["against"]
        side = "both" if both else "for" if rules["for"] else "against" if rules["against"] else ""
        if pieces and pieces[-1][2] == side:
            merged = pieces[-1][3]
            for key in rules:
                merged[key] += [r for r in rules[key] if r not in merged[key]]
            pieces[-1] = (pieces[-1][0], end, side, merged)
        else:
            pieces.append((start, end, side, rules))
    return [
        (start, end, side, "; ".join(f"{k}: {', '.join(v)}" for k, v in rules.items() if v))
        for start, end, side, rules in pieces
    ]


def highlight(
    text: str, rules_for: list[tuple[int, int, str]], rules_against: list[tuple[int, int, str]]
) -> str:
    """Return escaped `text` with the (start, end, rule) spans wrapped in <mark> elements
    (see `segments`), so the markup is always well nested.

    Examples
    --------
    >>> highlight("a <b> c", [(0, 5, "r")], [(2, 7, "s")])
    '<mark class="for" title="for: r">a </mark><mark class="both" title="for: r; against: s">\
&lt;b&gt;</mark><mark class="against" title="against: s"> c</mark>'
    """
    out = []
    for start, end, side, title in segments(len(text), rules_for, rules_against):
        piece = escape(text[start:end])
        mark = f'<mark class="{side}" title="{escape(title)}">{piece}</mark>'
        out.append(mark if side else piece)
    return "".join(out)


def _spans(flag: Flag, field: str) -> dict[str, list[tuple[int, int, str]]]:
    """Return the (start, end, rule) spans of a field, as `rules_for` and `rules_against`."""
    return {
        side: [(s, e, m.rule) for m in matches for f, s, e in m.spans if f == field]
        for side, matches in (("rules_for", flag.rules_for), ("rules_against", flag.rules_against))
    }


def _json_id(value: Any) -> Any:
    """Return a JSON-ready id: ints, floats and strings as they are, anything else as text."""
    value = plain(value)
    return value if isinstance(value, int | float | str) else str(value)


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)


class _Index(dict[str, int]):
    """Number strings in the order first seen (rule names, labels)."""

    def of(self, name: str) -> int:
        return self.setdefault(name, len(self))


def report_data(report: AuditReport, *, limit: int = MAX_FLAGS) -> dict[str, Any]:
    """Return the flags of the page as compact JSON-ready data: each row's id and texts once,
    labels and rule names as numbers, each flag as a list (see the inline script for the
    order), with the highlighted pieces of its text precomputed by `segments`."""
    fields = list(dict.fromkeys(field for flag in report.flags for field in flag.texts))
    labels = _Index({label: i for i, label in enumerate(report.labels)})
    rules, rows = _Index(), {}
    row_data: list[list[Any]] = []
    flags: list[list[Any]] = []

    def matches(flag: Flag, found: tuple[RuleMatch, ...]) -> list[list[Any]]:
        return [
            [
                rules.of(match.rule),
                -1 if match.label == flag.label else labels.of(match.label),
                match.words(flag.texts)[:WORDS],
            ]
            for match in found
        ]

    for flag in report.flags[:limit]:
        if flag.row not in rows:
            rows[flag.row] = len(row_data)
            row_data.append([_json_id(flag.id), [flag.texts.get(field, "") for field in fields]])
        marks = [
            [k, start, end, SIDES.index(side), title]
            for k, field in enumerate(fields)
            for start, end, side, title in segments(
                len(flag.texts.get(field, "")), **_spans(flag, field)
            )
            if side
        ]
        flags.append(
            [
                rows[flag.row],
                labels.of(flag.label),
                KINDS.index(flag.kind),
                _round(flag.score),
                _round(flag.probability),
                _round(flag.rule_probability),
                _round(flag.neighbour_probability),
                _round(flag.classifier_probability),
                "; ".join(flag.reasons()),
                [labels.of(label) for label in flag.given],
                matches(flag, flag.rules_for),
                matches(flag, flag.rules_against),
                marks,
            ]
        )
    return {
        "fields": fields,
        "labels": list(labels),
        "kinds": list(KINDS),
        "sides": list(SIDES),
        "rules": list(rules),
        "rows": row_data,
        "flags": flags,
    }


def _script_json(data: dict[str, Any]) -> str:
    """Return compact JSON that no text inside can end the <script> element holding it."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_html(report: AuditReport, *, title: str = "lfkit audit", limit: int = MAX_FLAGS) -> str:
    """Return the audit report as one self-contained HTML page with filters.

    The page shows what was audited, a per-label summary (click a label to filter), and the
    flags (the first `limit` of `report.flags`), paged and sortable by score, label and kind,
    with their highlighted text and evidence. It loads nothing from the network; the
    flags are embedded as JSON and shown as text, never parsed as HTML.
    """
    held = min(len(report.flags), limit)
    labels = sorted({flag.label for flag in report.flags[:held]} | set(report.counts))
    kinds = KINDS if report.kind == "multilabel" else ("spurious", "candidate")
    floor = min([report.min_score, *(flag.score for flag in report.flags[:held])])
    return _PAGE.substitute(
        title=escape(title),
        header=_header(report, held),
        summary=_summary(report, kinds, held),
        options="".join(f'<option value="{escape(x)}">{escape(x)}</option>' for x in labels),
        kinds=" ".join(
            f'<label><input class="kind" type="checkbox" value="{kind}" checked> '
            f'<span class="badge k-{kind}">{kind}</span></label>'
            for kind in kinds
        ),
        smin=f"{int(floor * 100) / 100:.2f}",
        n=held,
        sizes="".join(
            f'<option value="{size}"{" selected" if size == 50 else ""}>{size}</option>'
            for size in PAGE_SIZES
        ),
        data=_script_json(report_data(report, limit=limit)),
        empty_hidden=" hidden" if held else "",
        findings=_findings(report),
    )
