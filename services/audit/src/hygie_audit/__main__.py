"""``python -m hygie_audit`` runs the service; ``python -m hygie_audit verify`` verifies it."""

import sys

if len(sys.argv) > 1 and sys.argv[1] == "verify":
    from .cli import main

    raise SystemExit(main(sys.argv[2:]))

from hygie_platform.service import run_service

from .bootstrap import SPEC

run_service(SPEC)
