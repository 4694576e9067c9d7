"""Make `import sketch` mean the workshop's final reference framework.

The board runs in a learner's or instructor's clone, where `steps/NN/sketch` may be
half-written. It must use the finished reference, the last stage's solution
(`solutions/10_shutdown/sketch` today; stages.toml says which), whatever the current
directory or PYTHONPATH say.
"""

from __future__ import annotations

import sys
from pathlib import Path

from workshop import manifest


def use_reference() -> None:
    """Put the reference first on sys.path; refuse if another sketch is already imported."""
    root = Path(__file__).resolve().parent.parent  # this checkout, wherever it is run from
    reference = manifest.final(root).solution_dir(root)
    loaded = sys.modules.get("sketch")
    if loaded is not None:
        where = Path(loaded.__file__ or "").resolve()
        if reference not in where.parents:
            raise RuntimeError(f"another sketch package is already imported: {where}")
        return
    if not (reference / "sketch" / "__init__.py").is_file():
        raise RuntimeError(f"the reference framework is missing: {reference / 'sketch'}")
    sys.path.insert(0, str(reference))
