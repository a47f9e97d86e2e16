"""`python -m devstack`: the dev stack behind `make run` (see devstack/supervisor.py)."""

from __future__ import annotations

import sys

from devstack.supervisor import main

if __name__ == "__main__":
    sys.exit(main())
