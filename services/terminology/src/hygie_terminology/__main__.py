"""``python -m hygie_terminology`` runs the service; ``... load|releases ...`` is the CLI."""

import sys

if len(sys.argv) > 1:
    from .cli import app

    app(prog_name="python -m hygie_terminology")
else:
    from hygie_platform.service import run_service

    from .bootstrap import SPEC

    run_service(SPEC)
