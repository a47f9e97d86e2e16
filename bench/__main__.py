"""`python -m bench` (`make bench`): see bench/__init__.py and docs/performance.md."""

from __future__ import annotations

import os
import sys

from bench.run import main

if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    # The SDK's runtime threads can crash a normal interpreter exit (sdk-python#300).
    os._exit(code)
