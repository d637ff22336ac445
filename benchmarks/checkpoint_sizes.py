# ruff: noqa: T201 - a command-line script: its table goes to stdout
"""Checkpoint sizes of the shipped configs: trained-only (the default) against full.

For each shipped training config and each ``--variants`` size, the task is built as
``axion-stage3 memory-report`` builds it (random weights, no download: sizes do not depend on
weight values; the generative model's stand-in decoder has the sizes of the real one), trains one
optimizer step in a Lightning ``Trainer`` on synthetic 32 px scenes, and is saved twice with
``Trainer.save_checkpoint``: with ``checkpoint_weights: trained`` (what the task's
``on_save_checkpoint`` keeps: the trained weights, their AdamW moments, the other buffers, loop
state and the frozen base's reference) and with ``checkpoint_weights: full`` (every weight as
well). The generative model runs one denoising step (``timesteps: 1``): a setting of the loop, not
of the weights. The docs' figures (docs/training.md) come from this script.

Usage (a few minutes, up to ~6 GB of RAM and ~2 GB of temporary disk for the base models)::

    python benchmarks/checkpoint_sizes.py --json benchmarks/checkpoint_sizes.json
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from result_files import machine, write_result

from axion_terratorch.datamodules import SyntheticGroundingDataModule
from axion_terratorch.models.base_reference import CHECKPOINT_KEY
from axion_terratorch.profiling.task_config import build_task, load_config

REPO = Path(__file__).resolve().parents[1]
#: LPIPS off in the loss and the metrics, as in a smoke run: its AlexNet is not part of the model,
#: and a run keeps it only where its weights are on the machine (both kinds of checkpoint would
#: hold it in full, the trained-only one without its frozen weights).
LPIPS_SWITCHES = (
    ("loss", "axion_terratorch.losses.Stage3Loss", "use_lpips"),
    ("metrics", "axion_terratorch.metrics.GroundingMetrics", "lpips"),
)
MB = 1e6


def shipped_configs() -> list[Path]:
    """The training configs (``configs/**/stage3.*.yaml``), links to another one left out."""
    return sorted(p for p in REPO.glob("configs/**/stage3.*.yaml") if not p.is_symlink())


def parameter_groups(model: torch.nn.Module) -> dict[str, int]:
    """Trainable parameters by group: LoRA adapters, then the model's top-level modules."""
    groups: dict[str, int] = {}
    for name, param in model.named_parameters():
        if param.requires_grad:
            group = "lora" if "lora_" in name else name.split(".")[0]
            groups[group] = groups.get(group, 0) + param.numel()
    return groups


def measure(config_path: Path, variant: str, folder: Path) -> dict[str, Any]:
    """Train one step of ``config_path``'s task at ``variant`` and save both kinds of checkpoint."""
    config = load_config(config_path)
    model_class = config["model"]["init_args"]["model"]["class_path"]
    overrides: dict[str, Any] = {"variant": variant}
    if model_class.endswith("GenerativeGrounding"):
        overrides["timesteps"] = 1
    task_args = config["model"]["init_args"]
    shipped = task_args["model"]["init_args"].get("variant", "base")
    bands = task_args["model"]["init_args"].get("bands")
    for name, class_path, flag in LPIPS_SWITCHES:
        entry = task_args.get(name) or {"class_path": class_path, "init_args": {"bands": bands}}
        entry.setdefault("init_args", {})[flag] = False
        task_args[name] = entry
    torch.manual_seed(0)
    task = build_task(config["model"], overrides)
    data = SyntheticGroundingDataModule(
        num_train=1, num_val=1, num_test=1, tile_size=32, bands=list(task.model.bands), batch_size=1
    )
    trainer = pl.Trainer(
        accelerator="cpu",
        max_steps=1,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        default_root_dir=folder,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(task, data)
    sizes = {}
    for weights in ("trained", "full"):
        task.checkpoint_weights = weights
        path = folder / f"{weights}.ckpt"
        trainer.save_checkpoint(path)
        sizes[weights] = path.stat().st_size
        if weights == "trained":
            saved = torch.load(path, map_location="cpu", weights_only=True)
            if CHECKPOINT_KEY not in saved:
                msg = f"{config_path} ({variant}): the trained-only checkpoint holds the frozen base"
                raise RuntimeError(msg)
            parameters = dict(task.named_parameters())
            buffers = [t for k, t in saved["state_dict"].items() if k not in parameters]
        path.unlink()
    groups = parameter_groups(task.model)
    weights_bytes = sum(t.numel() * t.element_size() for t in task.state_dict().values())
    return {
        "config": str(config_path.relative_to(REPO) if config_path.is_relative_to(REPO) else config_path),
        "variant": variant,
        "shipped_variant": shipped,
        "model": model_class.rsplit(".", 1)[-1],
        "trainable": sum(groups.values()),
        "trainable_by_group": groups,
        "saved_buffers": len(buffers),
        "saved_buffer_bytes": sum(t.numel() * t.element_size() for t in buffers),
        "state_dict_bytes": weights_bytes,
        "trained_bytes": sizes["trained"],
        "full_bytes": sizes["full"],
        "trained_share": sizes["trained"] / sizes["full"],
    }


def table(rows: list[dict[str, Any]]) -> str:
    """Markdown: one line per config and variant; ``*`` marks the variant the config names."""
    lines = [
        "| config | variant | trainable | of which LoRA | trained-only | full | share |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['config']} | {row['variant']}{'*' if row['variant'] == row['shipped_variant'] else ''} "
            f"| {row['trainable']:,} "
            f"| {row['trainable_by_group'].get('lora', 0):,} | {row['trained_bytes'] / MB:.2f} MB "
            f"| {row['full_bytes'] / MB:.0f} MB | {100 * row['trained_share']:.2f}% |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", type=Path, default=None, help="default: the shipped ones")
    parser.add_argument("--variants", nargs="+", default=["tiny", "base"])
    parser.add_argument("--json", type=Path, default=None, help="write the rows here")
    args = parser.parse_args(argv)
    configs = [p.resolve() for p in args.configs] if args.configs else shipped_configs()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for config in configs:
            for variant in args.variants:
                rows.append(measure(config, variant, Path(folder)))
                print(table(rows[-1:]).splitlines()[-1], flush=True)
    print(table(rows))
    if args.json is not None:
        write_result(args.json, __file__, argv, {**machine(), "rows": rows})
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
