"""The workshop's commands. `invoke --list` shows them; `invoke --help TASK` explains one.

The tasks themselves live in workshop/tasks/, one module per audience.
"""

from workshop.tasks import namespace

ns = namespace()
