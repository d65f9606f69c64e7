#!/usr/bin/python3
"""Burn-in CPU loop: sums of squares for about N seconds, each checked against the closed form; prints JSON.

Prints e.g. {"seconds": 1.0, "rounds": 412, "wrong": 0, "ok": true}; a CPU that miscalculates shows as wrong > 0.
"""

import json
import sys
import time

N = 20_000
EXPECTED = N * (N - 1) * (2 * N - 1) // 6


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    rounds = wrong = 0
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if sum(i * i for i in range(N)) != EXPECTED:
            wrong += 1
        rounds += 1
    elapsed = round(time.monotonic() - started, 3)
    print(json.dumps({"seconds": elapsed, "rounds": rounds, "wrong": wrong, "ok": rounds > 0 and wrong == 0}))


if __name__ == "__main__":
    main()
