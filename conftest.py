"""Root pytest configuration: test helper modules of each service are importable by name
(tests run in importlib mode, so several ``tests`` folders can coexist)."""

import sys
from pathlib import Path

for folder in sorted(Path(__file__).parent.glob("services/*/tests")):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
