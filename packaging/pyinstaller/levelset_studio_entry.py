"""Bundle launcher for the desktop app (same as the `levelset-studio` gui script)."""

import sys

from levelset_studio.app.main import main

if __name__ == "__main__":
    sys.exit(main())
