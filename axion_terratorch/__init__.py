"""axion-terratorch (temporary minimal init while modules are being written)."""
