# ruff: noqa: T201 - a command-line script: its table goes to stdout
"""Does torchdata's ``StatefulDataLoader`` resume a Lightning fit mid-epoch on the uninterrupted run's batches?

A 40-sample set whose samples are ``(index, draw seed)``, batches of 4, 10 batches per epoch: a fit of
25 steps against one stopped by a checkpoint at step 13 (3 batches into the second epoch) and
resumed to 25. Loaders: ``shuffle=True`` with a seeded generator (torch's ``RandomSampler``, no
per-sample seed), and this package's ``ResumableRandomSampler`` (seeds per ``(seed, epoch,
position)``) inside the ``StatefulDataLoader``; each with 0 and 2 workers. Prints a table: per case,
whether the resumed batches equal the uninterrupted run's and the first one that differs, counted
from the resume (docs/experiments.md, "Resuming mid-epoch"); ``--json`` writes the same rows.

torchdata is not a dependency of this package: install it beside torch first
(``pip install torchdata``, or ``pip install --target DIR torchdata`` and ``PYTHONPATH=DIR``).

Usage::

    python benchmarks/stateful_dataloader_resume.py --json benchmarks/stateful_dataloader_resume.json
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from result_files import write_result
from torch.utils.data import Dataset
from torchdata.stateful_dataloader import StatefulDataLoader

from axion_terratorch.datamodules.sampling import ResumableRandomSampler

SAMPLES, BATCH, STEPS, STOP = 40, 4, 25, 13


class Indexes(Dataset):
    """Each sample is its index and the draw seed the sampler gave it (-1 for none)."""

    def __len__(self) -> int:
        return SAMPLES

    def __getitem__(self, index: int) -> torch.Tensor:
        return torch.tensor([int(index), int(getattr(index, "draw_seed", -1)) % 1000])


class Recorder(pl.LightningModule):
    """Records every training batch; learns nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.seen: list[list[list[int]]] = []

    def training_step(self, batch: torch.Tensor, _: int) -> torch.Tensor:
        self.seen.append(batch.tolist())
        return (self.weight * batch.float().mean()).sum()

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.0)


def loader(sampler: str, workers: int) -> StatefulDataLoader:
    """The training loader of a case: torch's shuffle (``random``) or our sampler (``ours``)."""
    if sampler == "ours":
        order = ResumableRandomSampler(range(SAMPLES), seed=7)
        return StatefulDataLoader(Indexes(), BATCH, sampler=order, num_workers=workers, drop_last=True)
    generator = torch.Generator().manual_seed(7)
    return StatefulDataLoader(
        Indexes(), BATCH, shuffle=True, generator=generator, num_workers=workers, drop_last=True
    )


def fit(sampler: str, workers: int, root: Path, steps: int, ckpt: Path | None = None, every: int = 0) -> list:
    """The batches one fit trains on; ``every``: save a checkpoint every that many steps."""
    callbacks = (
        [pl.callbacks.ModelCheckpoint(dirpath=root, every_n_train_steps=every, save_top_k=-1)]
        if every
        else []
    )
    trainer = pl.Trainer(
        max_steps=steps,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=bool(every),
        callbacks=callbacks,
        default_root_dir=root,
    )
    model = Recorder()
    trainer.fit(model, loader(sampler, workers), ckpt_path=ckpt)
    return model.seen


def resume(sampler: str, workers: int, root: Path) -> dict[str, Any]:
    """One case: the uninterrupted fit, the stopped one and its resume, compared batch by batch."""
    full = fit(sampler, workers, root / "full", STEPS)
    fit(sampler, workers, root / "stopped", STOP, every=STOP)
    (checkpoint,) = sorted((root / "stopped").glob("*.ckpt"))
    resumed = fit(sampler, workers, root / "resumed", STEPS, ckpt=checkpoint)
    expected = full[STOP:]
    first = next((i for i, (a, b) in enumerate(zip(resumed, expected, strict=True)) if a != b), None)
    return {"sampler": sampler, "workers": workers, "equal": resumed == expected, "first_difference": first}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--root", type=Path, help="scratch folder for the checkpoints (default: a temporary one)"
    )
    parser.add_argument("--json", type=Path, default=None, help="write the settings and the rows here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        root = args.root or Path(scratch)
        rows = [
            resume(sampler, workers, root / f"{sampler}_{workers}")
            for sampler in ("random", "ours")
            for workers in (0, 2)
        ]
    print(f"{SAMPLES} samples, batches of {BATCH}, {STEPS} steps, stopped at step {STOP} and resumed")
    print("| sampler | workers | resumed batches equal | first difference (batches after the resume) |")
    print("|---|---:|---|---:|")
    for row in rows:
        first = "-" if row["first_difference"] is None else row["first_difference"]
        print(f"| {row['sampler']} | {row['workers']} | {row['equal']} | {first} |")
    if args.json is not None:
        result = {
            "settings": {"samples": SAMPLES, "batch_size": BATCH, "steps": STEPS, "stop_at": STOP},
            "versions": {name: version(name) for name in ("torchdata", "torch", "lightning")},
            "rows": rows,
        }
        write_result(args.json, __file__, argv, result)
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
