"""Bundle launcher for the `levelset` command (same as the `levelset` console script)."""

import sys

from levelset_studio.core.cli import main

if __name__ == "__main__":
    sys.exit(main())
