"""Keep terratorch from importing the working directory's ``custom_modules`` package.

terratorch imports ``./custom_modules`` (if that folder exists) when ``terratorch.registry`` is first
imported, so a folder's own code runs under any command that builds a model there. With the
environment setting :data:`ENV_VAR` ``=1``, ``axion-stage3`` puts an empty stand-in for terratorch's
``terratorch.registry.custom_registry`` in ``sys.modules`` before terratorch is imported, and nothing of
the folder runs. ``terratorch fit --custom_modules_path DIR`` still imports what it is told.
"""

from __future__ import annotations

import os
import sys
import types

#: ``AXION_NO_CUSTOM_MODULES=1``: do not import ``./custom_modules``.
ENV_VAR = "AXION_NO_CUSTOM_MODULES"
_MODULE = "terratorch.registry.custom_registry"


def block_custom_modules() -> bool:
    """With ``AXION_NO_CUSTOM_MODULES=1``, stop terratorch's import of ``./custom_modules``.

    Returns:
        Whether the import is blocked (it cannot be once terratorch's registry was imported).

    Raises:
        RuntimeError: If asked to block after terratorch's registry was already imported.
    """
    if os.environ.get(ENV_VAR) != "1":
        return False
    module = sys.modules.get(_MODULE)
    if module is not None and not getattr(module, "blocked_by_axion", False):
        msg = f"{ENV_VAR}=1 is set but terratorch's registry was already imported (./custom_modules with it)"
        raise RuntimeError(msg)
    stand_in = types.ModuleType(
        _MODULE, "Stand-in: ./custom_modules is not imported (AXION_NO_CUSTOM_MODULES=1)."
    )
    stand_in.CUSTOM_MODULES_DIR_NAME = "custom_modules"
    stand_in.blocked_by_axion = True
    sys.modules[_MODULE] = stand_in
    return True
