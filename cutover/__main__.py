"""`python -m cutover ...`: see cutover/cli.py."""

import sys

from cutover.cli import main

sys.exit(main())
