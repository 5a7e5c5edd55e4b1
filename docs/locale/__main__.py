"""``python -m docs.locale update|check [LANGUAGE]``: see :mod:`docs.locale.sweep`."""

import sys

from docs.locale.sweep import main

sys.exit(main())
