"""Run configurations in one place: read a YAML file, build a ``class_path`` / ``init_args`` section.

What LightningCLI does for ``terratorch fit``, for the commands and library functions that read a
config or a checkpoint's hyperparameters outside of it (``load_model``, ``build_datamodule``,
``axion-stage3 memory-report``, ``axion-stage3 train``). Errors are one line naming the file or key.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from jsonargparse import ArgumentError, ArgumentParser

from axion_terratorch.compat.jsonargparse import import_object as _jsonargparse_import
from axion_terratorch.compat.jsonargparse import set_yaml_loader, yaml_loader

#: Bytes of a YAML file :func:`read_yaml` reads.
MAX_YAML_BYTES = 16 * 2**20
#: Nodes of a YAML document once its aliases are expanded (an alias bomb expands to billions).
MAX_YAML_NODES = 1_000_000


def read_yaml(path: str | os.PathLike[str], option: str) -> dict[str, Any]:
    """Read a YAML mapping, naming ``option`` and the file (and the line of a syntax error) on failure.

    The file may hold at most :data:`MAX_YAML_BYTES`, and its document at most :data:`MAX_YAML_NODES`
    nodes with every alias expanded (counted without expanding them), so an alias bomb is refused at
    once instead of hanging whatever walks the result (jsonargparse, a deep copy).

    Raises:
        FileNotFoundError: If ``path`` is not a file.
        ValueError: If it is not valid YAML, or larger than the limits.
        TypeError: If it holds no mapping.
    """
    path = Path(path)
    if not path.is_file():
        msg = f"{option} {path}: file not found"
        raise FileNotFoundError(msg)
    if path.stat().st_size > MAX_YAML_BYTES:
        msg = (
            f"{option} {path}: {path.stat().st_size:,} bytes, more than {MAX_YAML_BYTES:,} for a YAML config"
        )
        raise ValueError(msg)
    try:
        data = _bounded_yaml(path.read_text(), f"{option} {path}")
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or type(error).__name__
        msg = f"{option} {path}: not valid YAML{where} ({problem}); fix the file"
        raise ValueError(msg) from error
    if not isinstance(data, dict):
        msg = f"{option} {path}: expected a YAML mapping (keys such as model:, data:), got {type(data).__name__}"
        raise TypeError(msg)
    return data


def bound_jsonargparse_yaml() -> None:
    """Make jsonargparse refuse YAML beyond :data:`MAX_YAML_BYTES` characters or :data:`MAX_YAML_NODES`
    expanded nodes, process-wide: config files, files named as option values (``--data other.yaml``)
    and YAML option values. Within the limits its own loader reads the text, so nothing else changes.
    Installing it twice wraps once.

    ``axion-stage3 train`` installs it before terratorch's CLI parses anything. ``terratorch fit`` runs
    no code of this package before it reads its config (docs/reliability.md, "Known limits").
    """
    loader = yaml_loader()
    if getattr(loader, "bounds_yaml", False):
        return

    def bounded(text: str) -> Any:
        if isinstance(text, str):
            check_yaml_text(text, "a YAML jsonargparse reads (config file or option value)")
        return loader(text)

    bounded.bounds_yaml = True  # type: ignore[attr-defined]
    set_yaml_loader(bounded)


def check_yaml_text(text: str, source: str) -> None:
    """Refuse ``text`` beyond :data:`MAX_YAML_BYTES` characters or :data:`MAX_YAML_NODES` nodes once its
    aliases are expanded (counted without expanding them); text that is not YAML is left to the reader.

    Raises:
        ValueError: Naming ``source`` and the limit.
    """
    if len(text) > MAX_YAML_BYTES:
        msg = f"{source}: {len(text):,} characters, more than {MAX_YAML_BYTES:,} for a YAML config"
        raise ValueError(msg)
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.YAMLError:
        return
    finally:
        loader.dispose()
    if node is not None:
        _check_expansion(node, source)


def _bounded_yaml(text: str, source: str) -> Any:
    """``yaml.safe_load(text)``, refused when the expanded document exceeds :data:`MAX_YAML_NODES`."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expansion(node, source)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _check_expansion(node: yaml.Node, source: str) -> None:
    expanded = _expanded_size(node, {})
    if expanded > MAX_YAML_NODES:
        msg = (
            f"{source}: the YAML expands to {expanded:,} nodes through its aliases (more than "
            f"{MAX_YAML_NODES:,}); refused (an alias bomb?)"
        )
        raise ValueError(msg)


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """Nodes under ``node`` with aliases expanded, each distinct node measured once (iteratively)."""
    stack = [(node, False)]
    while stack:
        item, children_done = stack.pop()
        if id(item) in sizes:
            continue
        children = _children(item)
        if children_done or not children:
            sizes[id(item)] = 1 + sum(sizes[id(child)] for child in children)
            continue
        stack.append((item, True))
        stack += [(child, False) for child in children if id(child) not in sizes]
    return sizes[id(node)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def instantiate(section: Mapping[str, Any], base: type, key: str) -> Any:
    """Instantiate ``{"class_path": ..., "init_args": {...}}`` as a ``base`` under ``key``, as
    jsonargparse (LightningCLI) does: defaults filled, types checked, nested sections built.

    Raises:
        ValueError: If jsonargparse rejects the section (its message names the key).
    """
    parser = ArgumentParser(exit_on_error=False)
    parser.add_argument(f"--{key}", type=base)
    try:
        parsed = parser.parse_object({key: dict(section)})
    except ArgumentError as error:
        msg = f"invalid {key} config {section.get('class_path')!r}: {error}"
        raise ValueError(msg) from error
    return parser.instantiate_classes(parsed)[key]


def import_object(path: str) -> Any:
    """Import ``package.module.Name`` (jsonargparse's ``import_object``); the error names the path.

    Raises:
        ValueError: If the module or the name cannot be imported.
    """
    try:
        return _jsonargparse_import(path)
    except (ImportError, AttributeError, ValueError) as error:
        msg = f"cannot import {path!r}: {error}"
        raise ValueError(msg) from error


def check_class_paths(config: Mapping[str, Any], source: str) -> None:
    """Import every ``class_path`` of the user's own ``config`` first, so one that cannot be imported
    is one line naming the key (LightningCLI prints its whole usage instead). Only for trusted YAMLs.

    Raises:
        ValueError: ``<source>: <key>.class_path: cannot import ...``.
    """
    stack: list[tuple[Any, str]] = [(config, "")]
    while stack:
        node, where = stack.pop()
        if isinstance(node, Mapping):
            class_path = node.get("class_path")
            if isinstance(class_path, str) and "." in class_path:  # bare names: jsonargparse's lookup
                try:
                    import_object(class_path)
                except ValueError as error:
                    msg = f"{source}: {where}class_path: {error}"
                    raise ValueError(msg) from error
            stack += [(value, f"{where}{key}.") for key, value in node.items()]
        elif isinstance(node, list):
            stack += [(value, f"{where}{index}.") for index, value in enumerate(node)]
