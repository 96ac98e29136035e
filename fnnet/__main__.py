"""``python -m fnnet ...`` is the ``fnnet`` command."""

import sys

from fnnet.cli import main

sys.exit(main())
