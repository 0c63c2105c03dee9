"""``python -m shared.cli``: the same as the ``asr-s2d`` console script."""

import sys

from shared.cli.main import main

sys.exit(main())
