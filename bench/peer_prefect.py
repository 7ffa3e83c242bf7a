"""Prefect 3, run inside its own environment by `bench/windmill.py`.

Windmill's benchmark shape as a Prefect flow: N tasks run one after another
(each waits for the previous), every task and flow run tracked by the Prefect
server named by PREFECT_API_URL. Prints one JSON line: the wall time of each
flow run, measured around the flow call (the server is already up).

    PREFECT_API_URL=... python peer_prefect.py TASKS FIB_N REPEATS
"""

from __future__ import annotations

import json
import sys
import time

from prefect import flow, task


def fib(n: int) -> int:
    return n if n < 2 else fib(n - 1) + fib(n - 2)


@task
def fib_task(n: int) -> int:
    return fib(n)


@flow
def sequential(tasks: int, n: int) -> int:
    total = 0
    for _ in range(tasks):
        total += fib_task(n)
    return total


if __name__ == "__main__":
    tasks, n, repeats = (int(a) for a in sys.argv[1:4])
    sequential(1, 1)  # first flow run: registers the flow and warms the client
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        sequential(tasks, n)
        seconds.append(time.perf_counter() - started)
    print(json.dumps(seconds))
