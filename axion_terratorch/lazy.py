"""PEP 562 lazy attributes for package ``__init__`` modules.

The command line (``axion-stage3 --help``) imports ``axion_terratorch``; importing torch and
terratorch there would delay every option's parsing by their import time (``docs/performance.md``). Packages therefore name their public
objects in a table and import a module the first time one of its names is used.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_attributes(
    package: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``, resolving ``exports`` (name -> module) on first use.

    A name whose module is ``f"{package}.{name}"`` resolves to that submodule itself; any other name
    is read from its module. The value is cached in the package's namespace.
    """

    def __getattr__(name: str) -> Any:
        if name not in exports:
            msg = f"module {package!r} has no attribute {name!r}"
            raise AttributeError(msg)
        module = importlib.import_module(exports[name])
        value = module if exports[name] == f"{package}.{name}" else getattr(module, name)
        setattr(importlib.import_module(package), name, value)
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(importlib.import_module(package)), *exports})

    return __getattr__, __dir__
