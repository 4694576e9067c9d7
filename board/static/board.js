// The room board: polls /api/progress and redraws the grid.
// Every piece of data goes into the page as text (textContent, title), never as HTML: a
// learner may call themselves <script>...</script>, and must be shown, not run.
"use strict";

const POLL_MS = 2000;
const SEEN_LONG_AGO = 15 * 60; // seconds without a report before a row says when it was
const $ = (id) => document.getElementById(id);

// The instructor opens the page as /#admin=TOKEN. The token is kept in this tab only and
// taken out of the address bar at once, so a projector never shows it.
const admin = (() => {
  const found = /^#admin=(.+)$/.exec(location.hash);
  if (found) {
    sessionStorage.setItem("board-admin", decodeURIComponent(found[1]));
    history.replaceState(null, "", location.pathname);
  }
  return sessionStorage.getItem("board-admin");
})();

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function cell(role, className, ...children) {
  const node = el("div", undefined, className);
  node.setAttribute("role", role);
  node.append(...children);
  return node;
}

// 45 s, 1 min 30 s, 12 min, 2 h 5 min: exact, for a setting such as the stuck time.
function duration(seconds) {
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
  return m % 60 ? `${Math.floor(m / 60)} h ${m % 60} min` : `${m / 60} h`;
}

// The same in whole minutes, for times that grow while the room watches.
function elapsed(seconds) {
  return seconds < 60 ? "under a minute" : duration(Math.floor(seconds / 60) * 60);
}

const MARKS = {
  passed: ["✓", "passed"],
  failing: ["✗", "failing"],
  reference: ["R", "the reference solution passed, not their code"],
};

function mark(stage, result) {
  const [glyph, meaning] = result ? MARKS[result.status] : ["·", "not reported yet"];
  const node = el("span", glyph, `mark ${result ? result.status : "todo"}`);
  node.setAttribute("role", "img");
  node.setAttribute("aria-label", `${stage.id}: ${meaning}`);
  node.title = result && result.test ? `${stage.id}: ${result.test}` : `${stage.id}: ${meaning}`;
  return cell("cell", "cell", node);
}

// What is going on with this learner, in words: the failing test is written out, not
// hidden in a tooltip, so the room (and the instructor on a phone) can read it.
function note(learner) {
  const current = learner.results[learner.current];
  const parts = [];
  if (learner.released) {
    parts.push(el("span", "name released: their next invoke join takes it", "why"));
  } else if (learner.failing) {
    const state = learner.stuck ? "stuck" : "failing";
    parts.push(el("span", `${state} ${elapsed(learner.failing_for)} on ${learner.current}`, "why"));
    parts.push(el("code", current.test || "(no test named)", "test"));
  } else if (current && current.status === "reference") {
    parts.push(el("span", `reference solution in ${learner.current}`, "why"));
  } else if (learner.current) {
    parts.push(el("span", `${learner.stages_passed} passed`, "why"));
  }
  if (learner.idle >= SEEN_LONG_AGO) parts.push(el("span", ` · last seen ${elapsed(learner.idle)} ago`));
  if (admin) parts.push(adminButtons(learner));
  return cell("cell", "note", ...parts);
}

function adminButtons(learner) {
  const span = el("span", undefined, "actions");
  for (const action of ["release", "remove"]) {
    const button = el("button", action);
    button.type = "button";
    button.dataset.action = action;
    button.addEventListener("click", () => adminAction(action, { name: learner.name }));
    span.append(" ", button);
  }
  return span;
}

function learnerRow(learner, stages) {
  const row = cell("row", "row");
  if (learner.stuck) row.classList.add("stuck");
  if (learner.released) row.classList.add("released");
  row.dataset.name = learner.name;
  row.append(cell("rowheader", "name", learner.name));
  for (const stage of stages) row.append(mark(stage, learner.results[stage.id]));
  row.append(note(learner));
  return row;
}

function draw(board) {
  $("board").style.setProperty("--stages", String(board.stages.length));
  const head = $("stages");
  head.replaceChildren(cell("columnheader", "label", "learner"));
  for (const stage of board.stages) {
    const th = cell("columnheader", "cell", stage.id.slice(0, 2));
    th.title = `${stage.id}: ${stage.title}`;
    head.append(th);
  }
  head.append(cell("columnheader", "note"));

  $("learners").replaceChildren(...board.learners.map((l) => learnerRow(l, board.stages)));

  const counts = $("counts");
  counts.replaceChildren(cell("rowheader", "label", "passed / failing"));
  for (const stage of board.stages) {
    const c = board.counts[stage.id];
    counts.append(cell("cell", "cell", el("span", String(c.passed), "n-passed"),
      el("span", String(c.failing), "n-failing")));
  }
  $("empty").hidden = board.learners.length > 0;
  $("stuck-after").textContent = duration(board.stuck_after);
  const stuck = board.learners.filter((l) => l.stuck).length;
  const status = $("status");
  status.className = "";
  status.textContent =
    `${board.learners.length} learners · ${stuck} stuck · updated ${new Date().toLocaleTimeString()}`;
}

async function poll() {
  try {
    const answer = await fetch("/api/progress", { cache: "no-store" });
    if (!answer.ok) throw new Error(`the board answered ${answer.status}`);
    draw(await answer.json());
  } catch (problem) {
    const status = $("status");
    status.className = "down";
    status.textContent = `Cannot reach the board (${problem.message}); retrying…`;
  }
}

function pollForever() {
  poll().finally(() => setTimeout(pollForever, POLL_MS));
}

const QUESTIONS = {
  reset: () => "Forget every learner and result?",
  remove: (body) => `Remove ${body.name} and their results from the board?`,
  release: (body) => `Release the name ${body.name}? Their next invoke join takes it back.`,
  prune: (body) => `Remove everyone not seen for ${body.idle_minutes} min?`,
};

async function adminAction(action, body) {
  if (!confirm(QUESTIONS[action](body))) return;
  const answer = await fetch(`/api/admin/${action}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${admin}` },
    body: JSON.stringify(body),
  });
  const reply = await answer.json().catch(() => ({}));
  let done = "done";
  if (action === "prune") done = `removed ${reply.removed ? reply.removed.length : 0}`;
  $("admin-note").textContent = answer.ok ? done : reply.error || `failed (${answer.status})`;
  poll();
}

$("here").textContent = location.origin;
if (admin) {
  $("admin").hidden = false;
  $("reset").addEventListener("click", () => adminAction("reset", {}));
  $("prune").addEventListener("click", () =>
    adminAction("prune", { idle_minutes: Number($("idle-minutes").value) || 0 }));
}
pollForever();
