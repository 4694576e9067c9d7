"""Invoke tasks, one module per audience; `namespace()` gathers every task they define.

Every command, `invoke --list` included, imports every task module, so a task module imports
at its top only what is cheap or what most tasks use; a workshop module that one or two
tasks need (the grader, the builder, the board client, ...) is imported inside them.
tests/test_layers.py names the heavy modules `invoke --list` must not import.
"""

from __future__ import annotations

import atexit
import gc
import importlib
import inspect
import pkgutil
import sys

from invoke import Collection, Context, Task
from invoke.parser.parser import ParseMachine

from workshop import platforms

# Invoke has no optional positional arguments: a positional must be given, and one with a
# default is never filled from the command line (invoke 3.0: pyinvoke/invoke#159 is open,
# and a `*args` parameter becomes a required positional passed by keyword, a TypeError). The
# workshop wants both `invoke check` (your current stage) and `invoke check 04`. So a
# positional named in OPTIONAL_POSITIONALS is declared with the default None (the parser
# fills it from the next word, as usual), and when the command line gave none, it is set to
# "" instead of being an error. (`invoke join --leave` needs no URL or CODE either; `invoke
# show 09` no FILE.)
OPTIONAL_POSITIONALS = {"step", "url", "code", "file"}
_invoke_complete_context = ParseMachine.complete_context


def _complete_context(self: ParseMachine) -> None:
    for arg in self.context.positional_args if self.context else ():
        if arg.value is None and arg.name in OPTIONAL_POSITIONALS:
            arg.value = ""
    _invoke_complete_context(self)


ParseMachine.complete_context = _complete_context  # type: ignore[method-assign]


# When a command ends, the interpreter's last garbage collections walk every object of
# invoke, rich and the workshop only to free memory the process is about to give back: some
# 20-30 ms of every command, before the learner's prompt returns. Frozen (gc.freeze), those
# objects are left out of them; all else at exit (atexit handlers, flushing) still happens.
atexit.register(gc.freeze)


def _finish_interrupted_swap(c: Context) -> None:
    """Finish or undo a swap that was killed half-way, before a task looks at a folder."""
    from workshop import manifest, swap

    try:
        said = swap.recover(manifest.ROOT)
    except OSError as error:
        print(f"workshop: could not recover an interrupted swap: {error}", file=sys.stderr)
        return
    if said:
        print(f"workshop: {said}", file=sys.stderr)


# Run before every task (invoke's pre-tasks; once per run, however many tasks it names), so
# an interrupted swap is repaired by whatever the learner runs next; `invoke --list` and
# `--help` run no task, and touch no file.
RECOVER = Task(_finish_interrupted_swap, name="finish-interrupted-swap")


def namespace() -> Collection:
    """Every task defined in a module of this package, at the top level (`invoke check`).

    On a platform the workshop does not run on, this exits with a one-line answer before
    any task module is imported, so every task (and `invoke --list`) says it at once.
    """
    platforms.refuse_unsupported()
    ns = Collection()
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for value in vars(module).values():
            if isinstance(value, Task) and value.__module__ == module.__name__:
                if RECOVER not in value.pre:
                    value.pre = [RECOVER, *value.pre]
                ns.add_task(value)
                _add_usage(value)
    return ns


POSITIONAL_WORDS = {"step": "STAGE"}  # how `--help` names a positional (else its name, upper)


def _add_usage(task: Task) -> None:
    """End the task's docstring with how its positionals are typed (`invoke --help check`
    shows the docstring and the options, and would never say that STAGE may come first)."""
    if not task.positional or "\nUsage: invoke " in (task.__doc__ or ""):
        return
    words, lines = [], []
    for name in task.positional:
        word = POSITIONAL_WORDS.get(name, name.rstrip("_").upper())
        said = task.help.get(name, "")
        words.append(f"[{word}]" if "default" in said else word)
        flag = name.rstrip("_").replace("_", "-")
        lines.append(f"  {word}  {said}; also --{flag} {word}")
    usage = f"Usage: invoke {task.name} {' '.join(words)} [--options]"
    task.__doc__ = "\n".join([inspect.getdoc(task) or "", "", usage, *lines])
