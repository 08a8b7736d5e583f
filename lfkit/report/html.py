"""Render an audit report as one self-contained HTML page (inline CSS and JS, no network)."""

from __future__ import annotations

from html import escape
from string import Template

from lfkit.audit.evidence import RuleMatch
from lfkit.audit.suspects import KINDS, AuditReport, Flag
from lfkit.report.table import describe, new_labels_line

SHOWN_IDS = 30

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
 flex-wrap:wrap;gap:14px;align-items:center;border-bottom:1px solid #d0d7de}
.controls input[type=search],.controls select{padding:3px 6px;font:inherit}
#shown{margin-left:auto;font-weight:600}
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
<span id="shown">$n of $n flags shown</span>
</div>
<div id="flags">$flags</div>
<p id="empty" class="empty"$empty_hidden>No flags at this score.</p>
$findings
</main>
<script>
(function () {
  var q = function (s) { return document.querySelector(s); };
  var flags = Array.prototype.slice.call(document.querySelectorAll('.flag'));
  var label = q('#label'), score = q('#min-score'), search = q('#search');
  var kinds = Array.prototype.slice.call(document.querySelectorAll('.kind'));
  function update() {
    var on = {}, shown = 0, text = search.value.trim().toLowerCase();
    kinds.forEach(function (k) { on[k.value] = k.checked; });
    q('#min-score-value').textContent = Number(score.value).toFixed(2);
    flags.forEach(function (f) {
      var ok = (!label.value || f.dataset.label === label.value) && on[f.dataset.kind] &&
        Number(f.dataset.score) >= Number(score.value) - 1e-9 &&
        (!text || f.textContent.toLowerCase().indexOf(text) >= 0);
      f.hidden = !ok;
      if (ok) { shown += 1; }
    });
    q('#shown').textContent = shown + ' of ' + flags.length + ' flags shown';
    q('#empty').hidden = shown > 0;
    document.querySelectorAll('#summary tr[data-label]').forEach(function (r) {
      r.classList.toggle('active', r.dataset.label === label.value);
    });
  }
  document.querySelectorAll('#summary button').forEach(function (b) {
    b.addEventListener('click', function () {
      label.value = label.value === b.dataset.label ? '' : b.dataset.label;
      update();
    });
  });
  [label, score, search].concat(kinds).forEach(function (el) {
    el.addEventListener('input', update);
    el.addEventListener('change', update);
  });
  update();
}());
</script></body></html>
""")


def _header(report: AuditReport) -> str:
    lines = [escape(line) for line in describe(report)]
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


def _summary(report: AuditReport, kinds: tuple[str, ...]) -> str:
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
        if len(report.flags) >= report.n_flags
        else (
            f'<p class="meta">Counts cover all {report.n_flags:,} flags at score &ge; '
            f"{report.min_score:g}; the list below holds the top {len(report.flags):,}.</p>"
        )
    )
    return (
        f'{note}<div id="summary-wrap"><table id="summary"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def highlight(
    text: str, rules_for: list[tuple[int, int, str]], rules_against: list[tuple[int, int, str]]
) -> str:
    """Return escaped `text` with the (start, end, rule) spans wrapped in <mark> elements.

    Overlapping and adjacent spans are cut at every boundary, and neighbouring pieces with the
    same side (for, against or both) are merged, so the markup is always well nested.

    Examples
    --------
    >>> highlight("a <b> c", [(0, 5, "r")], [(2, 7, "s")])
    '<mark class="for" title="for: r">a </mark><mark class="both" title="for: r; against: s">\
&lt;b&gt;</mark><mark class="against" title="against: s"> c</mark>'
    """
    size = len(text)
    spans = [
        (max(0, s), min(size, e), rule, side)
        for side, group in (("for", rules_for), ("against", rules_against))
        for s, e, rule in group
        if min(size, e) > max(0, s)
    ]
    cuts = sorted({0, size, *(s for s, _, _, _ in spans), *(e for _, e, _, _ in spans)})
    pieces: list[tuple[str, dict[str, list[str]], str]] = []
    for start, end in zip(cuts, cuts[1:], strict=False):
        rules: dict[str, list[str]] = {"for": [], "against": []}
        for s, e, rule, side in spans:
            if s <= start and end <= e and rule not in rules[side]:
                rules[side].append(rule)
        cls = (
            "both"
            if rules["for"] and rules["against"]
            else "for"
            if rules["for"]
            else "against"
            if rules["against"]
            else ""
        )
        if pieces and pieces[-1][0] == cls:
            for side in rules:
                pieces[-1][1][side] += [r for r in rules[side] if r not in pieces[-1][1][side]]
            pieces[-1] = (cls, pieces[-1][1], pieces[-1][2] + text[start:end])
        else:
            pieces.append((cls, rules, text[start:end]))
    out = []
    for cls, rules, piece in pieces:
        if not cls:
            out.append(escape(piece))
            continue
        title = "; ".join(f"{side}: {', '.join(names)}" for side, names in rules.items() if names)
        out.append(f'<mark class="{cls}" title="{escape(title)}">{escape(piece)}</mark>')
    return "".join(out)


def _rules(flag: Flag, matches: tuple[RuleMatch, ...]) -> str:
    items = []
    for match in matches:
        quoted = ", ".join(f"&ldquo;{escape(w)}&rdquo;" for w in match.words(flag.texts)[:3])
        target = "" if match.label == flag.label else f" &rarr; {escape(match.label)}"
        items.append(f'<span class="rule">{escape(match.rule)}</span>{target} {quoted}'.strip())
    return "; ".join(items)


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _flag(rank: int, flag: Flag) -> str:
    fields = []
    for name, text in flag.texts.items():
        spans = {
            side: [(s, e, m.rule) for m in matches for f, s, e in m.spans if f == name]
            for side, matches in (("for", flag.rules_for), ("against", flag.rules_against))
        }
        fields.append(
            f'<p class="field"><b>{escape(name)}</b>'
            f"{highlight(text, spans['for'], spans['against'])}</p>"
        )
    evidence = [
        f"P(label) {_percent(flag.probability)} &middot; rules "
        f"{_percent(flag.rule_probability)} &middot; similar rows "
        f"{_percent(flag.neighbour_probability)} &middot; classifier "
        f"{_percent(flag.classifier_probability)}"
    ]
    for title, value in (
        ("Why", escape("; ".join(flag.reasons()))),
        ("Rules for", _rules(flag, flag.rules_for)),
        ("Rules against", _rules(flag, flag.rules_against)),
        ("Given labels", escape(", ".join(flag.given)) or "(none)"),
    ):
        if value:
            evidence.append(f"<b>{title}:</b> {value}")
    kind, label = escape(flag.kind), escape(flag.label)
    return (
        f'<article class="flag" data-label="{label}" data-kind="{kind}" '
        f'data-score="{flag.score:.6f}"><div class="head"><span class="rank">#{rank}</span>'
        f'<span class="score"><span class="bar"><i style="width:{flag.score:.1%}"></i></span>'
        f'{flag.score:.3f}</span><span class="badge k-{kind}">{kind}</span>'
        f'<span class="label">{label}</span><span class="id">id {escape(str(flag.id))}</span>'
        f'</div>{"".join(fields)}<div class="evidence">'
        + "".join(f"<p>{line}</p>" for line in evidence)
        + "</div></article>"
    )


def render_html(report: AuditReport, *, title: str = "lfkit audit") -> str:
    """Return the audit report as one self-contained HTML page with filters.

    The page shows what was audited, a per-label summary (click a label to filter), and the
    ranked flags with their highlighted text and evidence. It loads nothing from the network;
    all text is HTML-escaped, and the inline script embeds no report data.
    """
    labels = sorted({flag.label for flag in report.flags})
    kinds = KINDS if report.kind == "multilabel" else ("spurious", "candidate")
    floor = min([report.min_score, *(flag.score for flag in report.flags)])
    return _PAGE.substitute(
        title=escape(title),
        header=_header(report),
        summary=_summary(report, kinds),
        options="".join(f'<option value="{escape(x)}">{escape(x)}</option>' for x in labels),
        kinds=" ".join(
            f'<label><input class="kind" type="checkbox" value="{kind}" checked> '
            f'<span class="badge k-{kind}">{kind}</span></label>'
            for kind in kinds
        ),
        smin=f"{int(floor * 100) / 100:.2f}",
        n=len(report.flags),
        flags="\n".join(_flag(rank, flag) for rank, flag in enumerate(report.flags, start=1)),
        empty_hidden=" hidden" if report.flags else "",
        findings=_findings(report),
    )
