"""``python -m axion_terratorch.cli``: the same as ``axion-stage3``."""

import sys

from axion_terratorch.cli import main

sys.exit(main())
