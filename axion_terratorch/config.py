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


def read_yaml(path: str | os.PathLike[str], option: str) -> dict[str, Any]:
    """Read a YAML mapping, naming ``option`` and the file (and the line of a syntax error) on failure.

    Raises:
        FileNotFoundError: If ``path`` is not a file.
        ValueError: If it is not valid YAML.
        TypeError: If it holds no mapping.
    """
    path = Path(path)
    if not path.is_file():
        msg = f"{option} {path}: file not found"
        raise FileNotFoundError(msg)
    try:
        data = yaml.safe_load(path.read_text())
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
