"""`python -m synthfake ...`: the same as `gen ...`."""

import sys

from .entry import main

sys.exit(main())
