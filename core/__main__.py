"""``python -m core ...`` runs the command line (the same as ``defectsort-cli``)."""

import sys

from core.cli import main

sys.exit(main())
