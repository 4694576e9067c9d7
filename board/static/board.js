// The room board: polls /api/progress and redraws the grid.
// Every piece of data goes into the page as text (textContent, title), never as HTML: a
// learner may call themselves <script>...</script>, and must be shown, not run.
"use strict";

const POLL_MS = 2000;
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

function minutes(seconds) {
  const m = Math.floor(seconds / 60);
  return m < 1 ? "under a minute" : m === 1 ? "1 min" : `${m} min`;
}

function resultCell(result) {
  if (!result) return el("td", "·", "todo");
  if (result.status === "passed") {
    const td = el("td", "✓", "passed");
    td.title = `passed: ${result.passed} tests`;
    return td;
  }
  const td = el("td", "✗", "failing");
  const test = result.test || "(no test named)";
  const counts = `${result.passed} passed, ${result.failed} failed`;
  td.title = `${test}\n${counts}; failing for ${minutes(result.failing_for)}`;
  return td;
}

function learnerRow(learner, stages) {
  const tr = el("tr");
  if (learner.stuck) tr.className = "stuck";
  tr.dataset.name = learner.name;
  const name = el("td", learner.name, "name");
  name.title = learner.name;
  tr.append(name);
  for (const stage of stages) tr.append(resultCell(learner.results[stage.id]));
  let note = "";
  if (learner.failing) {
    note = `${learner.stuck ? "stuck" : "failing"} on ${learner.current} for ${minutes(learner.failing_for)}`;
  } else if (learner.current) {
    note = `${learner.stages_passed} passed`;
  }
  tr.append(el("td", note, "note"));
  if (admin) {
    const cell = el("td");
    const button = el("button", "remove");
    button.type = "button";
    button.addEventListener("click", () => adminAction("remove", { name: learner.name }));
    cell.append(button);
    tr.append(cell);
  }
  return tr;
}

function draw(board) {
  const head = $("stages");
  head.replaceChildren(el("th", "learner"));
  for (const stage of board.stages) {
    const th = el("th", stage.id.slice(0, 2));
    th.title = `${stage.id}: ${stage.title}`;
    th.scope = "col";
    head.append(th);
  }
  head.append(el("th", ""));
  if (admin) head.append(el("th", ""));

  $("learners").replaceChildren(...board.learners.map((l) => learnerRow(l, board.stages)));

  const counts = $("counts");
  counts.replaceChildren(el("th", "passed / failing"));
  counts.firstChild.scope = "row";
  for (const stage of board.stages) {
    const c = board.counts[stage.id];
    counts.append(el("td", `${c.passed} / ${c.failing}`));
  }
  $("empty").hidden = board.learners.length > 0;
  $("stuck-minutes").textContent = String(Math.round(board.stuck_after / 60));
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
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

async function adminAction(action, body) {
  if (action === "reset" && !confirm("Forget every learner and result?")) return;
  if (action === "remove" && !confirm(`Remove ${body.name} from the board?`)) return;
  const answer = await fetch(`/api/admin/${action}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${admin}` },
    body: JSON.stringify(body),
  });
  const reply = await answer.json().catch(() => ({}));
  $("admin-note").textContent = answer.ok ? "done" : reply.error || `failed (${answer.status})`;
}

$("here").textContent = location.origin;
if (admin) {
  $("admin").hidden = false;
  $("reset").addEventListener("click", () => adminAction("reset", {}));
}
poll();
