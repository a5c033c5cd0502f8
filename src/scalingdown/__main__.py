"""`python -m scalingdown` runs the command-line interface."""

from scalingdown.cli import main

raise SystemExit(main())
