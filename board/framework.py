"""Make `import sketch` mean the workshop's final reference framework.

The board runs in a learner's or instructor's clone, where `steps/NN/sketch` may be
half-written. It must use the finished reference, `solutions/10_shutdown/sketch`, whatever
the current directory or PYTHONPATH say.
"""

from __future__ import annotations

import sys
from pathlib import Path

REFERENCE = Path(__file__).resolve().parent.parent / "solutions" / "10_shutdown"


def use_reference() -> None:
    """Put the reference first on sys.path; refuse if another sketch is already imported."""
    loaded = sys.modules.get("sketch")
    if loaded is not None:
        where = Path(loaded.__file__ or "").resolve()
        if REFERENCE not in where.parents:
            raise RuntimeError(f"another sketch package is already imported: {where}")
        return
    if not (REFERENCE / "sketch" / "__init__.py").is_file():
        raise RuntimeError(f"the reference framework is missing: {REFERENCE / 'sketch'}")
    sys.path.insert(0, str(REFERENCE))
