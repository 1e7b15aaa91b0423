"""`python -m indicators`: the same CLI as the `indicators` console script."""

import sys

from indicators.cli import main

sys.exit(main())
