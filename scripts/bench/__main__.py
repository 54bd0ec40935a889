"""``python scripts/bench [options]``: see the package's docstring."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.cli import main

sys.exit(main())
