"""jsonargparse internals: the import helper behind ``class_path``.

Checked with jsonargparse 4.53.0. Upstream paths are relative to ``jsonargparse/``.
"""

from __future__ import annotations

from typing import Any

from axion_terratorch.compat import attribute, module

LIBRARY = "jsonargparse"


def import_object(path: str) -> Any:
    """Import ``package.module.Name`` as jsonargparse resolves a ``class_path``.

    Reads ``import_object`` of ``_util.py`` (jsonargparse 4.53.0; re-exported by ``typing.py``, not
    in its ``__all__``).
    """
    name = "jsonargparse._util"
    return attribute(LIBRARY, module(LIBRARY, name), "import_object", name)(path)
