"""Run a server under cProfile, switched on and off by signals: for busytime.py.

    python profiled_server.py STATS_FILE -m sketch --port 0 APP
    python profiled_server.py STATS_FILE some_server.py --port 0

SIGUSR1 starts profiling and SIGUSR2 stops it and writes the statistics to STATS_FILE, so
the profile covers the loaded window only: not the imports, the start-up or the warm-up.
(Signal handlers run in the main thread, the one running the event loop, which is the
thread cProfile must watch.)
"""

import cProfile
import runpy
import signal
import sys

stats_file, *command = sys.argv[1:]
profile = cProfile.Profile()


def start(signum, frame) -> None:
    profile.enable()


def stop(signum, frame) -> None:
    profile.disable()
    profile.dump_stats(stats_file)


signal.signal(signal.SIGUSR1, start)
signal.signal(signal.SIGUSR2, stop)
if command[0] == "-m":
    sys.argv = [command[1], *command[2:]]
    runpy.run_module(command[1], run_name="__main__", alter_sys=True)
else:
    sys.argv = command
    runpy.run_path(command[0], run_name="__main__")
