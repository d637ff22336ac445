"""What a ``terratorch fit`` run is missing, found before anything is built and reported on one line.

Under terratorch's stock CLI (LightningCLI) the task's model is built before the data module, and an
error raised in either is wrapped by jsonargparse into a union error with two tracebacks: a missing
data folder is only seen once the weights are there, after a slow model build. The plugin's first
code that runs under the CLI (the weights download of a pretrained model, the task's and the data
modules' constructors) calls :func:`check_cli_run`, which checks the whole run config once, the data
folders and the pretrained weights together, and exits with one line naming each missing input
(:class:`MissingInputsError`, a ``SystemExit``: no traceback).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

#: Data module arguments naming a data folder.
DATA_DIR_ARGS = ("root", "data_dir", "data_root", "root_dir")
#: Key of the grounding model's arguments in a run config.
MODEL_KEY = "model.init_args.model.init_args"

#: Runs already checked (a CLI object is checked once, by the first caller).
_CHECKED: weakref.WeakSet[Any] = weakref.WeakSet()


class MissingInputsError(SystemExit):
    """A run's inputs are missing: exits with one line naming each of them (no traceback).

    Attributes:
        problems: One sentence per missing input, naming its config key and path or weights.
    """

    def __init__(self, problems: list[str], command: str = "terratorch fit") -> None:
        self.problems = list(problems)
        super().__init__(f"{command}: error: {'; '.join(self.problems)}")

    def reason(self) -> str:
        """The problems on one line, without the command."""
        return "; ".join(self.problems)


def missing_folders(data: Mapping[str, Any] | None, key: str = "data") -> list[str]:
    """Data folders a data module config names that do not exist (nested data modules included).

    A config that sets ``download`` fetches its data and is not checked.
    """
    problems: list[str] = []
    for where, init_args in _class_configs(data, key):
        if init_args.get("download"):
            continue
        for name in DATA_DIR_ARGS:
            value = init_args.get(name)
            if isinstance(value, str | Path) and not Path(value).is_dir():
                what = "is a file, not a folder" if Path(value).exists() else "no such folder"
                problems.append(f"{where}.init_args.{name} {value}: {what} (from {Path.cwd()})")
    return problems


def missing_weights(model: Mapping[str, Any] | None, key: str = MODEL_KEY) -> list[str]:
    """The grounding model's TerraMind weights that cannot be had: a missing ``ckpt_path``, or
    pretrained weights neither in the Hugging Face cache nor downloadable from here."""
    init_args = ((model or {}).get("init_args") or {}).get("model") or {}
    args = init_args.get("init_args") or {}
    class_path = str(init_args.get("class_path", ""))
    if not class_path.startswith("axion_terratorch") or "pretrained" not in args:
        return []
    if args.get("ckpt_path"):
        path = Path(args["ckpt_path"])
        return [] if path.is_file() else [f"{key}.ckpt_path {path}: no such file (from {Path.cwd()})"]
    if not args.get("pretrained", True):
        return []
    from axion_terratorch.models.hub import S2L2A_TOKENIZER, hub_unreachable, is_cached, weights_message

    names = [f"terramind_v1_{args.get('variant', 'base')}"]
    if "Generative" in class_path:
        names.append(S2L2A_TOKENIZER)
    missing = [name for name in names if not is_cached(name)]
    reason = hub_unreachable() if missing else None
    if reason is None:
        return []
    return [weights_message(missing, f"not in the Hugging Face cache and {reason}", key)]


def config_problems(config: Mapping[str, Any]) -> list[str]:
    """Missing data folders and TerraMind weights of a run config (``model``/``data`` as in the YAML)."""
    return missing_folders(config.get("data")) + missing_weights(config.get("model"))


def check_cli_run() -> None:
    """Under a running LightningCLI, check its config once and exit on one line if inputs are missing.

    Outside a LightningCLI (plain Python, the model built on its own) nothing is checked here: the
    model and data module raise their own errors.

    Raises:
        MissingInputsError: Naming every missing data folder and unavailable weights.
    """
    from axion_terratorch.compat.lightning import running_cli

    cli = running_cli()
    if cli is None or cli in _CHECKED:
        return
    _CHECKED.add(cli)
    config = cli.config
    subcommand = getattr(cli, "subcommand", None)
    if subcommand and subcommand in config:
        config = config[subcommand]
    as_dict = config.as_dict() if hasattr(config, "as_dict") else dict(config)
    problems = config_problems(as_dict)
    if problems:
        raise MissingInputsError(problems, f"terratorch {subcommand}" if subcommand else "terratorch")


def _class_configs(value: Any, key: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """``(key, init_args)`` of every ``class_path`` config in ``value``, nested ones included."""
    if isinstance(value, Mapping):
        if "class_path" in value:
            init_args = value.get("init_args") or {}
            yield key, init_args
            for name, inner in init_args.items():
                yield from _class_configs(inner, f"{key}.init_args.{name}")
    elif isinstance(value, list | tuple):
        for index, inner in enumerate(value):
            yield from _class_configs(inner, f"{key}[{index}]")
