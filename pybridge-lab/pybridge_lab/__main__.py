"""`python -m pybridge_lab`: the `pybridge-lab` command."""
from .cli import main

raise SystemExit(main())
