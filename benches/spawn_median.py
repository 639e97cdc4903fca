#!/usr/bin/env python3
"""Median wall time of starting a command and waiting for it (posix_spawn + waitpid).

    benches/spawn_median.py RUNS COMMAND [ARGS...]

Compare a command with /bin/true measured the same way (the machine's
process-start floor). Output of the command goes to /dev/null.
"""
import os
import statistics
import sys
import time

runs, argv = int(sys.argv[1]), sys.argv[2:]
devnull = os.open(os.devnull, os.O_WRONLY)
actions = [(os.POSIX_SPAWN_DUP2, devnull, 1), (os.POSIX_SPAWN_DUP2, devnull, 2)]
times = []
for _ in range(runs):
    start = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=actions)
    os.waitpid(pid, 0)
    times.append(time.perf_counter() - start)
times.sort()
print(f"{statistics.median(times) * 1000:.3f} ms median, p90 {times[int(runs * 0.9)] * 1000:.3f} ms (n={runs}): {' '.join(argv)}")
