"""How long one stage's run may take, in one place: the tasks say it in `--help` without
importing the runner or the grader that enforce it."""

CHECK_STAGE_TIMEOUT = 90.0  # seconds for one stage's whole run (invoke check, verify)
GRADE_STAGE_TIMEOUT = 120.0  # seconds for one stage's whole run when grading
