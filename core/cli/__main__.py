import sys

from levelset_studio.core.cli import main

sys.exit(main())
