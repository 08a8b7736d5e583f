// lfkit review: one flag at a time or as a list; every piece of data is set as text
// (textContent / text nodes), never parsed as HTML.
"use strict";

const token = new URLSearchParams(location.search).get("token") || "";
const DECIDED = ["accept", "reject", "relabel"];
let state = null;
let current = 0;
let picked = 0;
let matches = [];

function $(id) {
  return document.getElementById(id);
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

async function api(path, body) {
  const options = { headers: { "X-Lfkit-Token": token } };
  if (body !== undefined) {
    options.method = "POST";
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  const answer = await response.json().catch(() => ({ error: response.statusText }));
  if (!response.ok) throw new Error(answer.error || response.statusText);
  return answer;
}

function say(text, error) {
  $("status").textContent = text;
  $("status").className = error ? "error" : "";
}

// The text of one field, with the matched spans wrapped in <mark> (spans are code-point
// offsets, as Python counts them; Array.from splits a string into code points).
function highlighted(text, spans) {
  const chars = Array.from(text);
  const marks = new Array(chars.length).fill("");
  for (const [start, end, side] of spans) {
    for (let i = start; i < Math.min(end, chars.length); i++) marks[i] = marks[i] || side;
  }
  const node = el("p", "text");
  let i = 0;
  while (i < chars.length) {
    let j = i;
    while (j < chars.length && marks[j] === marks[i]) j++;
    const piece = chars.slice(i, j).join("");
    if (marks[i]) node.appendChild(el("mark", marks[i], piece));
    else node.appendChild(document.createTextNode(piece));
    i = j;
  }
  return node;
}

function question(item) {
  if (item.type === "finding") {
    return `Add parent '${item.parent}' to ${item.count} rows that have '${item.child}'?`;
  }
  const label = item.label;
  const suggestion = item.evidence.suggestion;
  if (item.kind === "spurious") {
    return state.kind === "multiclass" && suggestion
      ? `Change class '${label}' to '${suggestion}'?`
      : `Remove '${label}'?`;
  }
  if (item.kind === "missing-parent") return `Add the parent tag '${label}'?`;
  return state.kind === "multiclass" ? `Change the class to '${label}'?` : `Add '${label}'?`;
}

function decisionText(item) {
  const done = { accept: "accepted", reject: "rejected", skip: "skipped", open: "" };
  return item.state === "relabel" ? `relabelled as ${item.value}` : done[item.state];
}

function renderFields(card, texts, spans) {
  for (const [field, text] of Object.entries(texts)) {
    const box = el("div", "field");
    box.appendChild(el("div", "field-name", field));
    box.appendChild(highlighted(text, spans.filter((s) => s[3] === field)));
    card.appendChild(box);
  }
}

function renderFlag(card, item) {
  const spans = [];
  const evidence = item.evidence;
  for (const [side, matchesOf] of [["for", evidence.rules_for], ["against", evidence.rules_against]]) {
    for (const match of matchesOf) {
      for (const m of match.matches) spans.push([m.start, m.end, side, m.field]);
    }
  }
  renderFields(card, item.text, spans);
  const given = el("div", "field");
  given.appendChild(el("div", "field-name", state.kind === "multiclass" ? "class" : "labels"));
  for (const label of evidence.given) {
    given.appendChild(el("span", label === item.label ? "chip flagged" : "chip", label));
  }
  if (!evidence.given.length) given.appendChild(el("span", "meta", "(none)"));
  card.appendChild(given);
  const why = el("ul", "evidence");
  if (Array.isArray(item.why) && item.why.length) {  // the audit's own sentences, when it gives them
    for (const reason of item.why) why.appendChild(el("li", "", reason));
    card.appendChild(why);
    return;
  }
  for (const [side, matchesOf] of [["for", evidence.rules_for], ["against", evidence.rules_against]]) {
    for (const match of matchesOf) {
      const words = [...new Set(match.matches.map((m) => m.text))].join(", ");
      why.appendChild(el("li", side, `${side} ${match.label}: rule ${match.rule}${words ? ` (${words})` : ""}`));
    }
  }
  if (evidence.neighbour_probability !== null) {
    const share = Math.round(evidence.neighbour_probability * 100);
    why.appendChild(el("li", "", `similar rows: ${share}% carry '${item.label}'`));
  }
  if (!why.children.length) why.appendChild(el("li", "", "no rule fired on this row"));
  card.appendChild(why);
}

function renderFinding(card, item) {
  for (const fix of item.fixes || []) card.appendChild(el("p", "meta", fix));
  card.appendChild(el("div", "field-name", `examples (${item.examples.length} of ${item.count})`));
  for (const example of item.examples) {
    const box = el("div", "field");
    box.appendChild(el("div", "meta", `id ${example.id}`));
    renderFields(box, example.text, []);
    card.appendChild(box);
  }
}

function renderCard() {
  const card = $("card");
  card.replaceChildren();
  const item = state.items[current];
  if (!item) {
    card.appendChild(el("h2", "", "Nothing to review"));
    card.appendChild(el("p", "", "The audit found no open flags."));
    return;
  }
  const head = el("h2", "");
  head.appendChild(el("span", "", `#${item.index + 1}  ${item.kind} '${item.label}'  `));
  head.appendChild(el("span", `state state-${item.state}`, decisionText(item)));
  card.appendChild(head);
  card.appendChild(el("p", "question", question(item)));
  const id = item.type === "flag" ? `id ${item.id}` : `${item.count} rows`;
  card.appendChild(el("p", "meta", `${id} · score ${Number(item.score).toFixed(3)}`));
  if (item.type === "flag") renderFlag(card, item);
  else renderFinding(card, item);
}

function renderProgress() {
  const p = state.progress;
  const earlier = p.decided_before ? ` · ${p.decided_before} decided earlier (not shown)` : "";
  const skipped = p.skipped ? ` · ${p.skipped} skipped` : "";
  $("progress").textContent = `${p.reviewed} reviewed · ${p.left} left${skipped}${earlier}`;
}

function renderList() {
  const rows = $("rows");
  rows.replaceChildren();
  for (const item of state.items) {
    const row = el("tr", item.index === current ? "current" : "");
    const first = item.type === "flag" ? Object.values(item.text)[0] || "" : `${item.child} → ${item.parent}`;
    const cells = [item.index + 1, Number(item.score).toFixed(3), item.kind, item.label,
      item.type === "flag" ? item.id : `${item.count} rows`, first.slice(0, 120), decisionText(item)];
    for (const cell of cells) row.appendChild(el("td", "", cell));
    row.lastChild.className = `state state-${item.state}`;
    row.addEventListener("click", () => {
      current = item.index;
      show("one");
    });
    rows.appendChild(row);
  }
}

function render() {
  renderProgress();
  if ($("list").hidden) renderCard();
  else renderList();
}

function show(view) {
  $("one").hidden = view !== "one";
  $("list").hidden = view !== "list";
  render();
}

function nextOpen(from) {
  const n = state.items.length;
  for (let step = 1; step <= n; step++) {
    const item = state.items[(from + step) % n];
    if (item.state === "open") return item.index;
  }
  for (let step = 1; step <= n; step++) {
    const item = state.items[(from + step) % n];
    if (item.state === "skip") return item.index;
  }
  return from;
}

async function decide(choice, value) {
  if (document.activeElement && document.activeElement !== document.body) document.activeElement.blur();
  const item = state.items[current];
  if (!item) return;
  try {
    const answer = await api("/api/decide", { index: item.index, decision: choice, value: value ?? null });
    state.items[item.index] = answer.item;
    state.progress = answer.progress;
    if (choice !== "skip") say(`${choice} saved to ${state.decisions}`);
    if (answer.progress.left === 0) {
      say(`All ${state.items.length} reviewed and saved. Next: ${state.command}`);
    } else {
      current = nextOpen(item.index);
    }
    render();
  } catch (err) {
    say(`not saved: ${err.message}`, true);
  }
}

async function undo() {
  try {
    const answer = await api("/api/undo", {});
    state.progress = answer.progress;
    if (!answer.item) {
      say("nothing to undo in this session");
    } else {
      state.items[answer.item.index] = answer.item;
      current = answer.item.index;
      say(`undone: #${current + 1}`);
    }
    render();
  } catch (err) {
    say(`undo failed: ${err.message}`, true);
  }
}

function openPicker() {
  const item = state.items[current];
  if (!item || item.type !== "flag") {
    say("a taxonomy finding can be accepted or rejected, not relabelled", true);
    return;
  }
  $("picker").hidden = false;
  $("search").value = "";
  filterChoices();
  $("search").focus();
}

function closePicker() {
  $("picker").hidden = true;
  $("search").blur();
}

function filterChoices() {
  const query = $("search").value.trim().toLowerCase();
  const item = state.items[current];
  matches = state.labels.filter((label) => label !== item.label && label.toLowerCase().includes(query));
  matches.sort((a, b) => Number(!a.toLowerCase().startsWith(query)) - Number(!b.toLowerCase().startsWith(query)));
  matches = matches.slice(0, 50);
  picked = 0;
  renderChoices();
}

function renderChoices() {
  const list = $("choices");
  list.replaceChildren();
  matches.forEach((label, i) => {
    const li = el("li", i === picked ? "active" : "", label);
    li.addEventListener("click", () => pick(label));
    list.appendChild(li);
  });
}

function pick(label) {
  closePicker();
  decide("relabel", label);
}

function onSearchKey(event) {
  if (event.key === "Escape") {
    closePicker();
  } else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
    picked = Math.max(0, Math.min(matches.length - 1, picked + (event.key === "ArrowDown" ? 1 : -1)));
    renderChoices();
  } else if (event.key === "Enter" && matches.length) {
    pick(matches[picked]);
  } else {
    return;
  }
  event.preventDefault();
  event.stopPropagation();
}

function onKey(event) {
  if (!state || !$("picker").hidden || event.ctrlKey || event.metaKey || event.altKey) return;
  const keys = {
    a: () => decide("accept"),
    x: () => decide("reject"),
    r: openPicker,
    " ": () => decide("skip"),
    Backspace: undo,
    l: () => show($("list").hidden ? "list" : "one"),
    ArrowRight: () => { current = Math.min(state.items.length - 1, current + 1); render(); },
    ArrowLeft: () => { current = Math.max(0, current - 1); render(); },
  };
  const action = keys[event.key];
  if (!action) return;
  event.preventDefault();
  action();
}

async function start() {
  try {
    state = await api("/api/state");
  } catch (err) {
    say(`cannot load the flags: ${err.message}`, true);
    return;
  }
  current = state.items.findIndex((item) => item.state === "open");
  current = current < 0 ? 0 : current;
  document.addEventListener("keydown", onKey);
  $("search").addEventListener("input", filterChoices);
  $("search").addEventListener("keydown", onSearchKey);
  $("accept").addEventListener("click", () => decide("accept"));
  $("reject").addEventListener("click", () => decide("reject"));
  $("relabel").addEventListener("click", openPicker);
  $("skip").addEventListener("click", () => decide("skip"));
  $("undo").addEventListener("click", undo);
  $("prev").addEventListener("click", () => onKey(new KeyboardEvent("keydown", { key: "ArrowLeft" })));
  $("next").addEventListener("click", () => onKey(new KeyboardEvent("keydown", { key: "ArrowRight" })));
  $("show-one").addEventListener("click", () => show("one"));
  $("show-list").addEventListener("click", () => show("list"));
  say(`decisions are saved to ${state.decisions} as you go`);
  render();
}

start();
