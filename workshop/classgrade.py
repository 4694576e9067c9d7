"""`invoke grade-class`: final marks from the instructor's side, for a whole class at once.

    invoke grade-class grades.csv --ref v3 --out marks/

1. The roster is read: GitHub Classroom's grades export of the assignment (its column
   `student_repository_url`; the classroom's student roster has no repository URLs), a CSV
   with the columns `identifier,repository[,commit]`, or a text file with one repository
   per line (`URL` or `IDENTIFIER URL`). A repository is a git URL or a local folder.
2. Fetch, at the deadline: every repository is cloned into OUT/repos/IDENTIFIER, several at
   once, and the commit fetched is recorded in OUT/fetched.csv with the time of the fetch
   by our clock (a commit's dates are the learner's to set). A `commit` column pins one.
   With $GRADE_CLASS_TOKEN set, https://github.com URLs are fetched with it; the token is
   given to git alone, never to a grading process.
3. Grade: each repository in a process of its own (`invoke grade` of the trusted checkout,
   with its per-stage time limit and the learner's environment stripped of secrets), several
   at once, each against the same trusted checkout: this repository, or a clean clone of it
   at `--ref`. A repository that cannot be fetched, is not a workshop, or hangs costs its
   own row only.
4. OUT/grades.csv, one row per student in roster order, for a gradebook:
   identifier, points, max, flags, commit, repository, note; and OUT/reports/IDENTIFIER/
   with the learner's summary.md, grade.json and the log.

For a class larger than one machine grades in minutes, `--shard I/N` takes every N-th
student (the matrix of .github/workflows/grade-class.yml), and `--merge 'parts/*'` joins
the parts' rows back into one CSV in roster order.
"""

from __future__ import annotations

import base64
import csv
import glob
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from workshop import git, manifest, processes, untrusted

COLUMNS = ("identifier", "points", "max", "flags", "commit", "repository", "note")
CLASSROOM_URL = "student_repository_url"  # the column of Classroom's assignment grades export
FETCH_TIMEOUT = 300.0  # seconds for one clone
GRADE_MARGIN = 60.0  # seconds a grading process may take beyond its stages' limits
TOKEN_VARIABLE = "GRADE_CLASS_TOKEN"


class RosterError(ValueError):
    """A roster that cannot be read; the message names the file and the line."""


@dataclass
class Entry:
    identifier: str
    repository: str  # a git URL or a folder
    commit: str = ""  # a pinned commit, or "" for the fetched branch's head


@dataclass
class Row:
    identifier: str
    points: float
    max: float
    flags: list[str] = field(default_factory=list)
    commit: str = ""
    repository: str = ""
    note: str = ""

    def cells(self) -> list[str]:
        return [self.identifier, f"{self.points:g}", f"{self.max:g}", " ".join(self.flags),
                self.commit, self.repository, self.note]  # fmt: skip


# --- the roster ----------------------------------------------------------------------------


def read_roster(path: Path) -> list[Entry]:
    """The students and their repositories, in the roster's order."""
    text = Path(path).read_text(encoding="utf-8-sig")
    first = text.lstrip().splitlines()[0] if text.strip() else ""
    if CLASSROOM_URL in first or re.match(r"^\s*identifier\s*,\s*repository", first):
        entries = _csv_entries(text, path)
    else:
        entries = _line_entries(text, path)
    seen: set[str] = set()
    for entry in entries:
        if entry.identifier in seen:
            raise RosterError(f"{path}: {entry.identifier!r} is in the roster twice")
        seen.add(entry.identifier)
    return entries


def _csv_entries(text: str, path: Path) -> list[Entry]:
    entries = []
    for number, row in enumerate(csv.DictReader(text.splitlines()), start=2):
        repository = (row.get(CLASSROOM_URL) or row.get("repository") or "").strip()
        if not repository:
            continue  # Classroom lists students who never accepted the assignment
        identifier = next(
            (row[k].strip() for k in ("identifier", "roster_identifier", "github_username",
                                      "group_name") if (row.get(k) or "").strip()),
            _name_of(repository),
        )  # fmt: skip
        if not identifier:
            raise RosterError(f"{path}:{number}: no identifier for {repository}")
        entries.append(Entry(identifier, repository, (row.get("commit") or "").strip()))
    return entries


def _line_entries(text: str, path: Path) -> list[Entry]:
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.split("#", 1)[0].replace(",", " ").split()
        if not words:
            continue
        if len(words) > 2:
            raise RosterError(f"{path}:{number}: expected `URL` or `IDENTIFIER URL`: {line!r}")
        identifier, repository = (words[0], words[1]) if len(words) == 2 else (
            _name_of(words[0]), words[0])  # fmt: skip
        entries.append(Entry(identifier, repository))
    return entries


def _name_of(repository: str) -> str:
    name = repository.rstrip("/").rsplit("/", 1)[-1]
    return name[: -len(".git")] if name.endswith(".git") else name


def folder_name(identifier: str) -> str:
    """IDENTIFIER as a safe folder name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", identifier).strip("._") or "student"


def shard(entries: list[Entry], spec: str) -> list[Entry]:
    """Every N-th entry, starting with the I-th, for SPEC "I/N" (1-based)."""
    found = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", spec)
    if not found or not 1 <= int(found[1]) <= int(found[2]):
        raise RosterError(f"--shard wants I/N with 1 <= I <= N, not {spec!r}")
    index, count = int(found[1]) - 1, int(found[2])
    return [e for number, e in enumerate(entries) if number % count == index]


# --- fetching ------------------------------------------------------------------------------


def _git_env(repository: str) -> dict[str, str]:
    """git's environment: no prompt, and the token for GitHub only when one is set."""
    env = {**untrusted.child_env(), "GIT_TERMINAL_PROMPT": "0"}
    token = os.environ.get(TOKEN_VARIABLE)
    if token and repository.startswith("https://github.com/"):
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        env.update({"GIT_CONFIG_COUNT": "1",
                    "GIT_CONFIG_KEY_0": "http.https://github.com/.extraheader",
                    "GIT_CONFIG_VALUE_0": f"AUTHORIZATION: basic {basic}"})  # fmt: skip
    return env


def fetch(entry: Entry, target: Path) -> tuple[str, str]:
    """Clone ENTRY into TARGET: (the commit, "") or ("", why it could not be fetched)."""
    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    source = Path(entry.repository).expanduser()
    if source.is_dir() and not (source / ".git").exists():
        shutil.copytree(source, target, symlinks=True)  # a folder handed in: no commit
        return "", ""
    url = str(source.resolve()) if source.is_dir() else entry.repository
    steps = [["clone", "--quiet", "--no-tags", url, str(target)]]
    if entry.commit:
        steps.append(["-C", str(target), "-c", "advice.detachedHead=false", "checkout",
                      "--quiet", entry.commit])  # fmt: skip
    for args in steps:
        try:
            git.run(None, *args, env=_git_env(entry.repository), inherit_env=False,
                    timeout=FETCH_TIMEOUT)  # fmt: skip
        except git.GitError as error:
            if error.timed_out:
                return "", f"git {args[0]} did not finish within {FETCH_TIMEOUT:g} s"
            return "", f"could not fetch: {error.problem.splitlines()[-1]}"
    commit = git.commit_of(target) or ""
    return commit, ""


def fetch_all(entries: list[Entry], out: Path, jobs: int) -> dict[str, dict[str, str]]:
    """Fetch every entry into OUT/repos/; record OUT/fetched.csv; {identifier: record}."""

    def one(entry: Entry) -> dict[str, str]:
        commit, problem = fetch(entry, out / "repos" / folder_name(entry.identifier))
        fetched_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        return {"identifier": entry.identifier, "repository": entry.repository,
                "commit": commit, "fetched_at": fetched_at, "problem": problem}  # fmt: skip

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        records = list(pool.map(one, entries))
    with open(out / "fetched.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, ["identifier", "repository", "commit", "fetched_at", "problem"])
        writer.writeheader()
        writer.writerows(records)
    return {r["identifier"]: r for r in records}


def read_fetched(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "fetched.csv", newline="", encoding="utf-8") as f:
        return {row["identifier"]: row for row in csv.DictReader(f)}


# --- grading -------------------------------------------------------------------------------


@dataclass
class Options:
    trusted: Path
    stage_timeout: float = 60.0
    only: tuple[str, ...] = ()
    count_references: bool = False
    clear: dict[str, list[str]] = field(default_factory=dict)  # identifier -> stages
    upstream: str = ""
    ref: str = ""

    def stages(self) -> list[manifest.Stage]:
        stages = [s for s in manifest.stages(self.trusted) if s.is_written(self.trusted)]
        if self.only:
            wanted = {manifest.find(key, self.trusted).id for key in self.only}
            stages = [s for s in stages if s.id in wanted]
        return stages

    def max_points(self) -> float:
        return float(sum(s.points for s in self.stages()))


def grade_one(entry: Entry, record: dict[str, str], out: Path, options: Options) -> Row:
    """Grade one fetched repository in a process of its own; its row of the CSV."""
    name = folder_name(entry.identifier)
    row = Row(entry.identifier, 0.0, options.max_points(), commit=record.get("commit", ""),
              repository=entry.repository)  # fmt: skip
    if record.get("problem"):
        row.flags, row.note = ["fetch-failed"], record["problem"]
        return row
    repo, report = out / "repos" / name, out / "reports" / name
    if not (repo / "steps").is_dir():
        row.flags, row.note = ["not-graded"], "not a workshop repository: it has no steps/ folder"
        return row
    report.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "invoke", "--search-root", str(options.trusted), "grade",
        "--repo", str(repo), "--tests-from", str(options.trusted), "--jobs", "1",
        "--format", "json,summary", "--out", str(report),
        "--stage-timeout", f"{options.stage_timeout:g}",
    ]  # fmt: skip
    if options.only:
        command += ["--only", ",".join(options.only)]
    if options.count_references:
        command.append("--count-references")
    if options.clear.get(entry.identifier):
        command += ["--clear", ",".join(options.clear[entry.identifier])]
    if options.upstream or options.ref:
        command += ["--upstream", options.upstream or str(options.trusted)]
        command += ["--upstream-ref", options.ref or "(working tree)"]
    limit = options.stage_timeout * max(1, len(options.stages())) + GRADE_MARGIN
    env = {**untrusted.child_env(), "NO_COLOR": "1", "COLUMNS": "120",
           "PYTHONPATH": str(options.trusted)}  # fmt: skip
    log = report / "log.txt"
    with open(log, "wb") as output:
        process = subprocess.Popen(command, cwd=repo, env=env, stdin=subprocess.DEVNULL,
                                   stdout=output, stderr=subprocess.STDOUT,
                                   start_new_session=True)  # fmt: skip
        try:
            code = process.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            _kill(process)
            row.flags, row.note = ["not-graded"], f"grading did not finish within {limit:g} s"
            return row
    graded = report / "grade.json"
    if code != 0 or not graded.is_file():
        lines = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        row.flags = ["not-graded"]
        row.note = f"invoke grade exited {code}: " + (lines[-1] if lines else "no output")
        return row
    result = json.loads(graded.read_text(encoding="utf-8"))
    row.points, row.max, row.flags = result["score"], result["max_score"], result["flags"]
    return row


def _kill(process: subprocess.Popen) -> None:
    processes.kill_tree(process.pid)
    process.wait()


def grade_class(
    entries: list[Entry],
    out: Path,
    options: Options,
    *,
    jobs: int = 2,
    step: str = "all",
    progress: Callable[[Row, int, int], None] | None = None,
) -> list[Row]:
    """Fetch (step "fetch" or "all") and grade (step "grade" or "all") every entry."""
    out.mkdir(parents=True, exist_ok=True)
    if step in ("fetch", "all"):
        fetched = fetch_all(entries, out, jobs)
        if step == "fetch":
            return []
    else:
        fetched = read_fetched(out)
    rows: list[Row] = []
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        missing = {"problem": "not fetched: run the fetch step first"}
        futures = [pool.submit(grade_one, e, fetched.get(e.identifier, missing), out, options)
                   for e in entries]  # fmt: skip
        for future in futures:
            rows.append(future.result())
            if progress:
                progress(rows[-1], len(rows), len(entries))
    write_rows(rows, out / "grades.csv")
    return rows


def write_rows(rows: Iterable[Row], path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        writer.writerows(row.cells() for row in rows)


def read_rows(path: Path) -> list[Row]:
    with open(path, newline="", encoding="utf-8") as f:
        return [
            Row(r["identifier"], float(r["points"]), float(r["max"]), r["flags"].split(),
                r["commit"], r["repository"], r["note"])
            for r in csv.DictReader(f)
        ]  # fmt: skip


def merge(entries: list[Entry], parts: list[Path], out: Path) -> list[Row]:
    """Join the parts' grades.csv and reports into OUT, in roster order."""
    found: dict[str, Row] = {}
    out.mkdir(parents=True, exist_ok=True)
    for part in parts:
        for row in read_rows(part / "grades.csv"):
            found[row.identifier] = row
        if (part / "reports").is_dir():
            shutil.copytree(part / "reports", out / "reports", dirs_exist_ok=True)
    rows = [
        found.get(e.identifier)
        or Row(
            e.identifier,
            0.0,
            0.0,
            ["not-graded"],
            repository=e.repository,
            note="no part of the merge graded it",
        )  # fmt: skip
        for e in entries
    ]
    write_rows(rows, out / "grades.csv")
    return rows


def parts_of(pattern: str) -> list[Path]:
    return sorted(Path(p) for p in glob.glob(pattern) if (Path(p) / "grades.csv").is_file())


def parse_clear(text: str) -> dict[str, list[str]]:
    """ "alice:05,bob:03_responses" -> {"alice": ["05"], "bob": ["03_responses"]}."""
    found: dict[str, list[str]] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        identifier, sep, stage = item.rpartition(":")
        if not sep or not identifier or not stage:
            raise RosterError(f"--clear wants IDENTIFIER:STAGE, not {item!r}")
        found.setdefault(identifier, []).append(stage)
    return found


def to_markdown(rows: list[Row], trusted: str) -> str:
    """The class's marks as a Markdown table (for a workflow's summary page), escaped."""
    lines = [
        f"## Class grades: {len(rows)} students, graded against {untrusted.markdown(trusted)}",
        "",
        "| identifier | points | flags | commit | note |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        cells = [row.identifier, f"{row.points:g} / {row.max:g}", " ".join(row.flags),
                 row.commit[:12], row.note]  # fmt: skip
        lines.append("| " + " | ".join(untrusted.markdown(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"
