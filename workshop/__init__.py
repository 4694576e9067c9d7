"""The workshop's own tooling: manifest, snapshot builder, test harness, runner and tasks.

`tasks.py` at the top of the repository is a thin list of invoke tasks over this package.
"""
