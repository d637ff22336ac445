# ruff: noqa: T201 - a command-line script: its table goes to stdout
"""CPU time and activation memory of one training step of the generative model, per ``timesteps``.

Builds ``TerraMindGenerativeGrounding`` with random weights (``pretrained=False``; the diffusion
decoder's zero-initialised layers get small random values, as in the tests, or its output and
gradients would be zero), then for each step count and with / without per-step activation
checkpointing runs forward + L1 loss + backward on one tile and reports:

* the median wall time of ``--repeats`` training steps (after one warm-up step);
* the bytes autograd keeps for backward: every tensor saved by the forward pass
  (``torch.autograd.graph.saved_tensors_hooks``), each storage counted once, parameters excluded.
  With checkpointing the tensors saved inside a checkpointed step are not kept (they are recomputed
  in the backward pass, one step at a time), so they do not appear here.

Usage::

    python benchmarks/generative_timesteps.py --variant tiny --size 64 --timesteps 1 2 5 10 20 \
        --json benchmarks/generative_timesteps.json
    python benchmarks/generative_timesteps.py --share tiny base   # trainable share at LoRA rank 8
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from axion_terratorch.constants import OPTICAL_KEY, SAR_KEY
from axion_terratorch.models import LoraSettings, TerraMindGenerativeGrounding, count_parameters


def stand_in_decoder_weights(model: TerraMindGenerativeGrounding, std: float = 0.02) -> None:
    """Fill the decoder's all-zero convolutions with small random weights (see the tests)."""
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for module in model.tokenizer.decoder.modules():
            if isinstance(module, nn.Conv1d | nn.Conv2d) and not module.weight.any():
                module.weight.copy_(torch.randn(module.weight.shape, generator=gen) * std)


def saved_activation_bytes(model: nn.Module, image: dict[str, torch.Tensor], timesteps: int) -> int:
    """Bytes of the tensors autograd saves in one forward pass (storages once, no parameters)."""
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    params |= {b.untyped_storage().data_ptr() for b in model.buffers()}
    storages: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in params and storage.device.type != "meta":
            storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        out = model(image, timesteps=timesteps)
    out.abs().mean().backward()
    model.zero_grad(set_to_none=True)
    return sum(storages.values())


def step_seconds(model: nn.Module, image: dict[str, torch.Tensor], timesteps: int, repeats: int) -> float:
    """Median wall time of forward + L1 loss + backward, after one warm-up step."""
    times = []
    for i in range(repeats + 1):
        start = time.perf_counter()
        loss = nn.functional.l1_loss(model(image, timesteps=timesteps), image[OPTICAL_KEY])
        loss.backward()
        model.zero_grad(set_to_none=True)
        if i:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(variant: str, size: int, batch: int, steps: Sequence[int], repeats: int) -> list[dict]:
    torch.manual_seed(0)
    model = TerraMindGenerativeGrounding(
        variant=variant, pretrained=False, lora=LoraSettings(rank=8, alpha=16)
    )
    stand_in_decoder_weights(model)
    gen = torch.Generator().manual_seed(0)
    image = {
        SAR_KEY: torch.randn(batch, 2, size, size, generator=gen) * 4 - 14,
        OPTICAL_KEY: torch.rand(batch, 4, size, size, generator=gen) * 0.3,
    }
    rows = []
    for timesteps in steps:
        for checkpoint_steps in (False, True):
            model.checkpoint_steps = checkpoint_steps
            row = {
                "variant": variant,
                "size": size,
                "batch": batch,
                "timesteps": timesteps,
                "checkpoint_steps": checkpoint_steps,
                "seconds": step_seconds(model, image, timesteps, repeats),
                "saved_bytes": saved_activation_bytes(model, image, timesteps),
            }
            rows.append(row)
            print(
                f"timesteps={timesteps:3d} checkpoint_steps={checkpoint_steps!s:5}: "
                f"{row['seconds']:7.2f} s, {row['saved_bytes'] / 2**20:8.1f} MiB saved",
                flush=True,
            )
    return rows


def trainable_share(variant: str) -> dict:
    model = TerraMindGenerativeGrounding(
        variant=variant, pretrained=False, lora=LoraSettings(rank=8, alpha=16)
    )
    trainable, total = count_parameters(model)
    transformer = sum(p.numel() for n, p in model.core.named_parameters() if not n.startswith("tokenizer."))
    tokenizer = sum(p.numel() for p in model.tokenizer.parameters())
    return {
        "variant": variant,
        "trainable": trainable,
        "total": total,
        "transformer": transformer,
        "tokenizer": tokenizer,
        "share_percent": 100.0 * trainable / total,
    }


def markdown(rows: list[dict]) -> str:
    by_steps: dict[int, dict[bool, dict]] = {}
    for row in rows:
        by_steps.setdefault(row["timesteps"], {})[row["checkpoint_steps"]] = row
    header = (
        "| timesteps | step time (s) | saved activations (MiB) | step time, checkpointed (s) "
        "| saved activations, checkpointed (MiB) |"
    )
    lines = [header, "|---:|---:|---:|---:|---:|"]
    for steps, pair in sorted(by_steps.items()):
        plain, ckpt = pair[False], pair[True]
        lines.append(
            f"| {steps} | {plain['seconds']:.2f} | {plain['saved_bytes'] / 2**20:.1f} "
            f"| {ckpt['seconds']:.2f} | {ckpt['saved_bytes'] / 2**20:.1f} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", default="tiny", choices=["tiny", "small", "base", "large"])
    parser.add_argument("--size", type=int, default=64, help="tile side in pixels")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--timesteps", type=int, nargs="+", default=[1, 2, 5])
    parser.add_argument("--repeats", type=int, default=2, help="timed steps per setting (median)")
    parser.add_argument("--share", nargs="*", default=None, help="only report trainable shares")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args(argv)
    if args.share is not None:
        result: dict = {"trainable_share": [trainable_share(v) for v in args.share or ["tiny"]]}
        for row in result["trainable_share"]:
            print(
                f"{row['variant']}: {row['trainable']:,} of {row['total']:,} trainable "
                f"({row['share_percent']:.4f}%); transformer {row['transformer']:,}, "
                f"tokenizer {row['tokenizer']:,}"
            )
    else:
        rows = measure(args.variant, args.size, args.batch, args.timesteps, args.repeats)
        result = {"torch": torch.__version__, "threads": torch.get_num_threads(), "rows": rows}
        print(markdown(rows))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
