"""``python -m harness.cli``: the same as the ``capture-harness`` command."""

import sys

from harness.cli import main

sys.exit(main())
