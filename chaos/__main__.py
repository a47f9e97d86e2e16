"""`python -m chaos` (`make chaos`): see chaos/cli.py and docs/operations.md."""

from __future__ import annotations

import os
import sys

from chaos.cli import main

if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # The SDK's runtime threads can crash a normal interpreter exit (sdk-python#300).
    os._exit(code)
