"""The learner's progress: one small JSON file, ignored by git, holding no code.

    .workshop/state.json  {"current": "04_routing", "passed": {"01_echo": "2026-..."},
                           "hints": {"03_responses": 2}, "solved": {"02_parsing": [...]}}

Deleting it loses no work: stages passed are also visible as checkpoint tags.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from workshop import manifest

STATE_FILE = Path(".workshop") / "state.json"


@dataclass
class State:
    current: str | None = None  # set by `invoke goto`, and moved on by a pass
    passed: dict[str, str] = field(default_factory=dict)  # stage id -> when it first passed
    hints: dict[str, int] = field(default_factory=dict)  # stage id -> hints shown
    solved: dict[str, list[str]] = field(default_factory=dict)  # stage id -> backups made by solve
    # stage id -> the first test that failed in the stage's last check
    failing: dict[str, str] = field(default_factory=dict)
    extra: dict[str, object] = field(default_factory=dict)  # room for other tools' notes


def load(root: Path = manifest.ROOT) -> State:
    path = root / STATE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return State()
    known = State.__dataclass_fields__
    return State(**{k: v for k, v in data.items() if k in known})


def save(state: State, root: Path = manifest.ROOT) -> None:
    """Write the state atomically: a crash leaves the old file or the new one."""
    path = root / STATE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".state-")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(asdict(state), f, indent=1)
    os.replace(tmp, path)


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def current_stage(root: Path = manifest.ROOT) -> manifest.Stage:
    """The stage to work on: the one `goto` chose, else the first not yet passed."""
    state = load(root)
    if state.current:
        try:
            return manifest.find(state.current, root)
        except KeyError:
            pass
    for stage in manifest.stages(root):
        if stage.id not in state.passed:
            return stage
    return manifest.stages(root)[-1]


def record_pass(stage: manifest.Stage, root: Path = manifest.ROOT) -> bool:
    """Note that STAGE passed and move on to the next; True the first time it passes."""
    state = load(root)
    first = stage.id not in state.passed
    state.passed.setdefault(stage.id, now())
    state.failing.pop(stage.id, None)
    following = [s for s in manifest.stages(root) if s.number > stage.number]
    if state.current in (None, stage.id):
        state.current = following[0].id if following else stage.id
    save(state, root)
    return first


def record_failure(stage: manifest.Stage, test: str, root: Path = manifest.ROOT) -> None:
    """Note that the last check of STAGE failed, and at which test (for `invoke progress`)."""
    state = load(root)
    state.failing[stage.id] = test
    save(state, root)
