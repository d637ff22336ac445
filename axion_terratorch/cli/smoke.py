"""``axion-stage3 train --smoke``: any shipped config, shrunk to two optimizer steps on a CPU.

A smoke run checks that a config builds and trains end to end (model, loss, metrics, schedule,
callbacks, loggers, checkpoint) before a long run is queued, on a machine without a GPU or network.
It edits the config (a plain dict, before LightningCLI reads it) and lists every edit:

* model: random weights (``pretrained: false``, no ``ckpt_path``), TerraMind ``tiny``, one DDIM step,
  and ``stand_in_decoder: true`` for the generative model (its zero decoder would not train);
* loss and metrics: LPIPS off (its backbone weights are a download);
* data: synthetic scenes in the model's bands, 32 px (the config's data with ``--data-dir``);
* trainer: two optimizer steps in one epoch, no gradient accumulation, validation on one batch at
  the end, no ``min_steps``; step-based checkpoint intervals and the warmup scaled to the run.

The memory and speed of the real sizes are what ``axion-stage3 memory-report`` measures.
"""

from __future__ import annotations

from typing import Any

#: Optimizer steps of a smoke run.
SMOKE_STEPS = 2
#: Tile side of the synthetic smoke data (two TerraMind patches).
SMOKE_TILE_SIZE = 32
#: Largest batch of a smoke run.
SMOKE_BATCH_SIZE = 2
#: Task whose loss and metrics the smoke run configures.
GROUNDING_TASK = "axion_terratorch.SARGroundingTask"


def smoke_config(config: dict[str, Any], keep_data: bool = False) -> tuple[dict[str, Any], list[str]]:
    """Return ``config`` shrunk to a smoke run, and the edits made (one line each).

    Args:
        config: A run config (``trainer``, ``model``, ``data``), edited in place.
        keep_data: Keep the config's data module (its data directory is given) instead of synthetic
            scenes.
    """
    edits: list[str] = []
    trainer = config.setdefault("trainer", {}) or {}
    config["trainer"] = trainer
    task_args = (config.setdefault("model", {}) or {}).setdefault("init_args", {})
    model = task_args.get("model") if isinstance(task_args.get("model"), dict) else {}
    model_args = model.setdefault("init_args", {}) if model else {}
    _random_weights(task_args, edits)
    if model_args:
        _small_model(model, model_args, edits)
    bands = list(model_args.get("bands") or []) or None
    if config["model"].get("class_path") == GROUNDING_TASK:
        _lpips_off(task_args, bands, edits)
        if not keep_data:
            _synthetic_data(config, bands, edits)
    original_steps = trainer.get("max_steps")
    _short_trainer(trainer, edits)
    _short_schedule(task_args, original_steps, edits)
    return config, edits


def _random_weights(node: Any, edits: list[str], path: str = "model.init_args") -> None:
    """Every ``pretrained`` / ``backbone_pretrained`` key below the task: ``false``; no ``ckpt_path``."""
    if isinstance(node, list):
        for index, item in enumerate(node):
            _random_weights(item, edits, f"{path}[{index}]")
        return
    if not isinstance(node, dict):
        return
    for key, value in list(node.items()):
        if key in ("pretrained", "backbone_pretrained") and value:
            node[key] = False
            edits.append(f"{path}.{key}: false (random weights)")
        elif key == "ckpt_path" and value:
            node[key] = None
            edits.append(f"{path}.ckpt_path: null")
        else:
            _random_weights(value, edits, f"{path}.{key}")


def _small_model(model: dict[str, Any], args: dict[str, Any], edits: list[str]) -> None:
    key = "model.init_args.model.init_args"
    if args.get("variant", "base") != "tiny":
        args["variant"] = "tiny"
        edits.append(f"{key}.variant: tiny")
    if "Generative" in str(model.get("class_path", "")):
        args["timesteps"] = 1
        args["stand_in_decoder"] = True
        edits.append(f"{key}.timesteps: 1, stand_in_decoder: true (the random decoder would not train)")
        if args.get("gradient_steps") is not None:
            args["gradient_steps"] = 1
            edits.append(f"{key}.gradient_steps: 1 (at most timesteps)")


def _lpips_off(task_args: dict[str, Any], bands: list[str] | None, edits: list[str]) -> None:
    for name, class_path, flag in (
        ("loss", "axion_terratorch.losses.Stage3Loss", "use_lpips"),
        ("metrics", "axion_terratorch.metrics.GroundingMetrics", "lpips"),
    ):
        entry = task_args.get(name)
        if entry is None:
            entry = task_args[name] = {
                "class_path": class_path,
                "init_args": {"bands": bands} if bands else {},
            }
        if isinstance(entry, dict) and entry.get("class_path") == class_path:
            entry.setdefault("init_args", {})[flag] = False
            edits.append(f"model.init_args.{name}.init_args.{flag}: false (LPIPS weights are a download)")


def _synthetic_data(config: dict[str, Any], bands: list[str] | None, edits: list[str]) -> None:
    data_args = (config.get("data") or {}).get("init_args") or {}
    batch_size = min(int(data_args.get("batch_size") or SMOKE_BATCH_SIZE), SMOKE_BATCH_SIZE)
    init_args: dict[str, Any] = {
        "num_train": SMOKE_STEPS * batch_size,
        "num_val": batch_size,
        "num_test": batch_size,
        "tile_size": SMOKE_TILE_SIZE,
        "batch_size": batch_size,
    }
    if bands:
        init_args["bands"] = bands
    config["data"] = {
        "class_path": "axion_terratorch.datamodules.SyntheticGroundingDataModule",
        "init_args": init_args,
    }
    edits.append(f"data: synthetic scenes, {SMOKE_TILE_SIZE} px, batch {batch_size}")


def _short_trainer(trainer: dict[str, Any], edits: list[str]) -> None:
    trainer.update(
        max_steps=SMOKE_STEPS,
        max_epochs=1,
        min_steps=None,
        min_epochs=None,
        accumulate_grad_batches=1,
        limit_train_batches=SMOKE_STEPS,
        limit_val_batches=1,
        limit_test_batches=1,
        val_check_interval=None,
        check_val_every_n_epoch=1,
        num_sanity_val_steps=0,
        log_every_n_steps=1,
        devices=1,
    )
    trainer.pop("strategy", None)
    edits.append(
        f"trainer: {SMOKE_STEPS} optimizer steps in 1 epoch, accumulate_grad_batches 1, no min_steps, "
        "validation on 1 batch at the end, 1 device"
    )
    for entry in _entries(trainer.get("callbacks")):
        init_args = entry.get("init_args") or {}
        every = init_args.get("every_n_train_steps")
        if every and every > SMOKE_STEPS:
            init_args["every_n_train_steps"] = SMOKE_STEPS
            edits.append(f"{entry.get('class_path', 'callback')}: every_n_train_steps {SMOKE_STEPS}")


def _short_schedule(task_args: dict[str, Any], original_steps: Any, edits: list[str]) -> None:
    hparams = task_args.get("scheduler_hparams") or {}
    warmup = hparams.get("warmup_steps")
    if not warmup:
        return
    scaled = round(warmup * SMOKE_STEPS / original_steps) if original_steps and original_steps > 0 else 0
    hparams["warmup_steps"] = min(scaled, SMOKE_STEPS - 1)
    edits.append(f"scheduler_hparams.warmup_steps: {hparams['warmup_steps']} (scaled from {warmup})")


def _entries(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        return [value]
    return [v for v in value or [] if isinstance(v, dict)]
