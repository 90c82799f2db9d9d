#!/usr/bin/env python3
"""expect_exit.py CODE COMMAND [ARGS...]

Runs COMMAND with this process's stdin, stdout and stderr, and succeeds only
when it exits with CODE exactly (lit's `not` accepts any non-zero code).
"""
import subprocess
import sys


def main(argv):
    if len(argv) < 3:
        sys.stderr.write("usage: expect_exit.py CODE COMMAND [ARGS...]\n")
        return 2
    want = int(argv[1])
    got = subprocess.call(argv[2:])
    if got != want:
        sys.stderr.write(f"expect_exit.py: '{argv[2]}' exited with {got}, expected {want}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
