"""jsonargparse internals: the import helper behind ``class_path``, and its YAML loader.

Checked with jsonargparse 4.53.0. Upstream paths are relative to ``jsonargparse/``.
"""

from __future__ import annotations

from collections.abc import Callable
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


def yaml_loader() -> Callable[[str], Any]:
    """The function jsonargparse reads YAML with: config files (``-c``), files named as option values,
    and YAML in option values (``get_loader("yaml")``, public in jsonargparse 4.53.0)."""
    return attribute(LIBRARY, module(LIBRARY, LIBRARY), "get_loader", LIBRARY)("yaml")


def set_yaml_loader(loader: Callable[[str], Any]) -> None:
    """Make ``loader`` jsonargparse's YAML reader, process-wide (``set_loader("yaml", loader,
    (yaml.YAMLError,))``, public in jsonargparse 4.53.0). The exceptions are those of its own loader,
    on which it falls back to taking an option value as a plain string."""
    import yaml

    attribute(LIBRARY, module(LIBRARY, LIBRARY), "set_loader", LIBRARY)("yaml", loader, (yaml.YAMLError,))
