"""axion-terratorch (temporary init while modules are being written)."""

from axion_terratorch import models  # noqa: F401
