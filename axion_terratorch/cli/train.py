"""``axion-stage3 train``: the original Stage 3 guide's training command line, mapped onto a terratorch
``fit`` run.

Each flag edits the YAML config before LightningCLI reads it; arguments it does not know
(e.g. ``--trainer.precision=bf16-mixed``) go to LightningCLI unchanged.

| flag | config key |
|---|---|
| ``--config`` | ``-c`` |
| ``--data-dir`` | ``data.init_args.<root or data_dir>`` |
| ``--output-dir`` | ``trainer.default_root_dir`` (and any ``save_dir`` / ``dirpath`` the config spells out) |
| ``--lr`` | ``model.init_args.lr`` |
| ``--lora-rank`` | ``model.init_args.model.init_args.lora.rank`` |
| ``--max-steps`` | ``trainer.max_steps`` |
| ``--resume`` | ``--ckpt_path`` |
| ``--print-config`` | ``--print_config`` |
| ``--validate-config`` | build model, data and trainer, run the checks, do not train |
| ``--smoke`` | two optimizer steps on a CPU, random weights, no LPIPS, synthetic data (:mod:`.smoke`) |
"""

from __future__ import annotations

import argparse
import inspect
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from axion_terratorch.cli.errors import FAILED
from axion_terratorch.cli.smoke import SMOKE_STEPS, smoke_config
from axion_terratorch.missing_inputs import DATA_DIR_ARGS, MissingInputsError

logger = logging.getLogger(__name__)

PASSTHROUGH = True
#: Lightning handles SIGINT/SIGTERM during ``fit`` (graceful shutdown): no handler of ours.
OWN_SIGNALS = True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The original Stage 3 guide's flags."""
    parser.add_argument("-c", "--config", type=Path, required=True, help="run config (terratorch YAML)")
    parser.add_argument("--data-dir", type=Path, help="folder of the training data")
    parser.add_argument("--output-dir", type=Path, help="folder for logs and checkpoints")
    parser.add_argument("--lr", type=float, help="peak learning rate")
    parser.add_argument("--lora-rank", type=int, help="LoRA rank")
    parser.add_argument("--max-steps", type=int, help="optimizer steps to train")
    parser.add_argument("--resume", type=Path, help="checkpoint to resume from")
    parser.add_argument("--validate-config", action="store_true", help="check the config and exit")
    parser.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="two optimizer steps: random weights, tiny TerraMind, LPIPS off, synthetic data unless "
        "--data-dir, a checkpoint in --output-dir (default outputs/smoke/<config name>)",
    )


def run(args: argparse.Namespace) -> int:
    """Edit the config by the flags and run LightningCLI ``fit`` (or print / validate it).

    Paths are checked first (:func:`check_paths`), before terratorch is imported. A config or data
    error (a ``ValueError``, ``TypeError`` or ``OSError`` naming the key or file, missing pretrained
    weights offline included) is printed as one line and gives exit status 2; its traceback is logged
    at DEBUG level.
    """
    from axion_terratorch.cli.errors import report

    quiet = logging.NullHandler()  # the hub's weights message: report() prints it, as the one line
    hub_logger = logging.getLogger("axion_terratorch.models.hub")
    hub_logger.addHandler(quiet)
    try:
        return _run(args)
    except (ValueError, TypeError, OSError) as error:
        return report("train", error)
    except MissingInputsError as error:  # found under the CLI: the same one line, status 2
        return report("train", OSError(error.reason()))
    finally:
        hub_logger.removeHandler(quiet)


def _run(args: argparse.Namespace) -> int:
    from axion_terratorch.config import bound_jsonargparse_yaml, check_class_paths, read_yaml
    from axion_terratorch.output_files import check_outputs

    config = read_yaml(args.config, "--config")
    check_outputs(
        {"--output-dir": args.output_dir},
        {"--config": args.config, "--resume": args.resume, "--data-dir": args.data_dir},
    )
    if args.smoke:
        config, edits = smoke_config(config, keep_data=args.data_dir is not None)
        if args.output_dir is None:
            args.output_dir = Path("outputs") / "smoke" / args.config.stem
        print("smoke run:\n  " + "\n  ".join(edits))  # noqa: T201
    check_paths(config, args)
    check_class_paths(config, f"--config {args.config}")  # imports them: after the cheap checks
    config = apply_flags(config, args)
    extra = list(args.passthrough)
    bound_jsonargparse_yaml()  # files and YAML values the passthrough options name (--data other.yaml)
    from terratorch.cli_tools import build_lightning_cli  # after the checks: the slow import

    with tempfile.TemporaryDirectory(prefix="axion-stage3-") as folder:
        path = Path(folder) / args.config.name
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        if args.print_config:
            try:
                build_lightning_cli(["fit", "-c", str(path), *extra, "--print_config"])
            except SystemExit as done:  # LightningCLI exits after printing
                return int(done.code or 0)
            return 0
        if args.validate_config:
            cli = build_lightning_cli(["-c", str(path), *extra], run=False)
            check_run(cli.trainer, cli.model)
            cli.datamodule.setup("fit")  # the data paths, tiles and splits `fit` checks first
            print(f"{args.config}: valid ({type(cli.model).__name__}, {type(cli.datamodule).__name__})")  # noqa: T201
            return 0
        resume = [] if args.resume is None else [f"--ckpt_path={args.resume}"]
        cli = build_lightning_cli(["fit", "-c", str(path), *extra, *resume])
    if args.smoke:
        return report_smoke(cli.trainer, args.output_dir)
    return 0


def check_paths(config: dict[str, Any], args: argparse.Namespace) -> None:
    """Refuse missing inputs and unwritable outputs before anything heavy is imported or built.

    Checked: ``--data-dir`` (or, without it, the data module's ``root``/``data_dir``/... in the
    config, unless it sets ``download``), ``--resume``, and the output folder (``--output-dir`` or
    ``trainer.default_root_dir``). ``--print-config`` needs none of them.

    Raises:
        FileNotFoundError, NotADirectoryError, PermissionError: Naming the flag or key and the path.
    """
    if args.print_config:
        return
    if args.data_dir is not None:
        _require_folder(args.data_dir, "--data-dir")
    else:
        data_args = (config.get("data") or {}).get("init_args") or {}
        for key in DATA_DIR_ARGS:
            if isinstance(data_args.get(key), str) and not data_args.get("download"):
                _require_folder(Path(data_args[key]), f"data.init_args.{key} (or --data-dir)")
    if args.resume is not None and not args.resume.is_file():
        msg = f"--resume: checkpoint {args.resume} does not exist"
        raise FileNotFoundError(msg)
    root = args.output_dir or (config.get("trainer") or {}).get("default_root_dir")
    if root is not None:
        _require_writable(Path(root), "--output-dir" if args.output_dir else "trainer.default_root_dir")


def _require_folder(path: Path, option: str) -> None:
    if not path.is_dir():
        what = "is a file, not a folder" if path.exists() else "no such folder"
        msg = f"{option} {path}: {what} (from {Path.cwd()})"
        raise (NotADirectoryError if path.exists() else FileNotFoundError)(msg)


def _require_writable(path: Path, option: str) -> None:
    if path.exists() and not path.is_dir():
        msg = f"{option} {path}: is a file, not a folder for logs and checkpoints"
        raise NotADirectoryError(msg)
    existing = path.absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not os.access(existing, os.W_OK | os.X_OK):
        msg = f"{option} {path}: cannot write in {existing} (permission denied)"
        raise PermissionError(msg)


def report_smoke(trainer: Any, output_dir: Path) -> int:
    """Print the smoke run's outcome; 1 if it stopped early or left no checkpoint in ``output_dir``."""
    checkpoints = sorted(output_dir.rglob("*.ckpt"))
    if trainer.global_step < SMOKE_STEPS or not checkpoints:
        print(  # noqa: T201
            f"smoke run failed: {trainer.global_step} of {SMOKE_STEPS} optimizer steps, "
            f"{len(checkpoints)} checkpoint(s) under {output_dir}"
        )
        return FAILED
    print(f"smoke run passed: {trainer.global_step} optimizer steps, checkpoint {checkpoints[-1]}")  # noqa: T201
    return 0


def apply_flags(config: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """Return ``config`` with the original Stage 3 guide's flags written into their keys."""
    trainer = config.setdefault("trainer", {})
    if args.output_dir is not None:
        out = str(args.output_dir)
        trainer["default_root_dir"] = out
        # paths a config spells out move too; root-following loggers and checkpoints need nothing
        for entry in _entries(trainer.get("logger")):
            init_args = entry.get("init_args", {})
            if "save_dir" in init_args:
                init_args["save_dir"] = out
        for entry in _entries(trainer.get("callbacks")):
            init_args = entry.get("init_args", {})
            if "dirpath" in init_args:
                init_args["dirpath"] = str(args.output_dir / "checkpoints")
    if args.max_steps is not None:
        trainer["max_steps"] = args.max_steps
    model_args = config.setdefault("model", {}).setdefault("init_args", {})
    if args.lr is not None:
        model_args["lr"] = args.lr
    if args.lora_rank is not None:
        inner = model_args.get("model", {}).get("init_args", {})
        if inner.get("lora", {}) is None:
            msg = "--lora-rank: LoRA is disabled in this config (model.init_args.model.init_args.lora: null)"
            raise ValueError(msg)
        model_args.setdefault("model", {}).setdefault("init_args", {}).setdefault("lora", {})["rank"] = (
            args.lora_rank
        )
    if args.data_dir is not None:
        data = config.get("data") or {}
        data.setdefault("init_args", {})[_data_dir_key(data.get("class_path", ""))] = str(args.data_dir)
    return config


def check_run(trainer: Any, model: Any) -> None:
    """Checks that need the built trainer and model: the task's trainer check (which ``fit`` runs
    again) and at least one trainable parameter."""
    from axion_terratorch.tasks.settings import check_trainer_settings

    check_trainer_settings(trainer)
    if not any(p.requires_grad for p in model.parameters()):
        msg = "the model has no trainable parameter (check model.init_args.model.init_args.lora)"
        raise ValueError(msg)


def _entries(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        return [value]
    return [v for v in value or [] if isinstance(v, dict)]


def _data_dir_key(class_path: str) -> str:
    from axion_terratorch.config import import_object

    if not class_path:
        msg = "--data-dir: the config has no data.class_path"
        raise ValueError(msg)
    parameters = inspect.signature(import_object(class_path)).parameters
    for name in DATA_DIR_ARGS:
        if name in parameters:
            return name
    msg = f"--data-dir: data module {class_path} takes no data directory (none of {list(DATA_DIR_ARGS)})"
    raise ValueError(msg)
