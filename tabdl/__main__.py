"""``python -m tabdl``: the same command line as the ``tabdl`` script."""

from .cli import main

raise SystemExit(main())
