"""`python -m gradjit` is the `gradjit` command."""

import sys

from .cli import main

sys.exit(main())
