"""The fence around other libraries' internals: every access to them goes through this package.

terratorch's registries and TerraMind generation internals (:mod:`.terratorch`), Lightning's loop
counters (:mod:`.lightning`), torch's private modules (:mod:`.torch`) and jsonargparse's import
helper (:mod:`.jsonargparse`) are read here and nowhere else, one function per access. Each
function's docstring names the upstream location it reads and the version it was checked with
(:data:`CHECKED`); ``tests/compat`` calls each one against the installed library. When a release
moves one of them, the function raises :class:`CompatError` naming the attribute it expected, instead
of an ``AttributeError`` deep inside a training run.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from types import ModuleType
from typing import Any

#: Versions every access was checked with (``pyproject.toml`` allows up to the next minor release).
CHECKED: dict[str, str] = {
    "terratorch": "1.2.11",
    "lightning": "2.6.6",
    "torch": "2.14.1",
    "jsonargparse": "4.53.0",
}


class CompatError(RuntimeError):
    """An internal of another library is not where the installed release was expected to keep it."""


def installed(library: str) -> str:
    """The installed version of ``library`` (``"not installed"`` if it is not)."""
    try:
        return version(library)
    except PackageNotFoundError:
        return "not installed"


def moved(library: str, expected: str, error: BaseException | None = None) -> CompatError:
    """The :class:`CompatError` for ``expected`` (an upstream location) missing from ``library``."""
    cause = f" ({type(error).__name__}: {error})" if error is not None else ""
    msg = (
        f"{library} {installed(library)} moved or changed an internal axion_terratorch relies on: "
        f"expected `{expected}` (checked with {library} {CHECKED[library]}){cause}. "
        f"Install {library}=={CHECKED[library]} or update axion_terratorch.compat."
    )
    return CompatError(msg)


def module(library: str, name: str) -> ModuleType:
    """Import module ``name`` of ``library``; :class:`CompatError` if it is gone."""
    try:
        return import_module(name)
    except ImportError as error:
        raise moved(library, name, error) from error


def attribute(library: str, obj: Any, path: str, owner: str) -> Any:
    """Read the dotted attribute ``path`` of ``obj``; ``owner.path`` is named if a part is missing.

    Args:
        library: Distribution whose internal this is (a key of :data:`CHECKED`).
        obj: Object to start from.
        path: Dotted attribute path, e.g. ``"sampler.model"``.
        owner: Upstream name of ``obj``'s class or module, for the message.
    """
    for part in path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError as error:
            raise moved(library, f"{owner}.{path}", error) from error
    return obj


def item(library: str, mapping: Any, key: Any, expected: str) -> Any:
    """``mapping[key]``; a missing key names ``expected`` and the keys there are."""
    try:
        return mapping[key]
    except (KeyError, IndexError, TypeError) as error:
        keys = list(mapping.keys()) if hasattr(mapping, "keys") else type(mapping).__name__
        raise moved(library, f"{expected}[{key!r}] (has {keys})", error) from error
