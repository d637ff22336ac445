# ruff: noqa: T201 - a command: its report goes to stdout
"""``axion-stage3 predict --scenes SCENES.csv | --scenes-dir DIR --output-dir OUT``: many scenes, one run.

The options of single-scene ``predict`` apply to every scene; the scenes run on Lightning's predict
loop (``--accelerator``, ``--devices``, ``--num-nodes``, ``--strategy``), finished scenes are skipped
(``--overwrite`` regrounds them), a failing scene is reported while the others go on
(``--on-error skip``), and ``OUT/run.csv`` / ``OUT/run.json`` report every scene.
"""

from __future__ import annotations

import argparse

from axion_terratorch.cli.errors import FLAGGED, INPUT_ERROR, SUCCESS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``predict`` for a scene list."""
    group = parser.add_argument_group("many scenes (docs/inference.md, 'Many scenes')")
    group.add_argument(
        "--scenes", help="CSV with columns s1, optical and optional name (paths relative to it)"
    )
    group.add_argument(
        "--scenes-dir", help="folder of scene pairs, matched by --s1-pattern/--optical-pattern"
    )
    group.add_argument(
        "--s1-pattern",
        default=r"(?P<tile>.+)_S1\.tiff?",
        help="regex matching a whole Sentinel-1 file name; its group `tile` is the scene name (%(default)s)",
    )
    group.add_argument(
        "--optical-pattern",
        default=r"(?P<tile>.+)_S2\.tiff?",
        help="regex matching a whole optical file name, with the same group `tile` (%(default)s)",
    )
    group.add_argument("--output-dir", help="folder of <name>.tif, <name>.json, run.csv and run.json")
    group.add_argument(
        "--overwrite", action="store_true", help="reground scenes whose outputs are already finished"
    )
    group.add_argument(
        "--on-error",
        choices=["skip", "stop"],
        default="skip",
        help="skip: report a failing scene and go on; stop: stop the run (%(default)s)",
    )
    group.add_argument(
        "--quicklook", action="store_true", help="write <name>.png (input, output, change, SAR)"
    )
    group.add_argument(
        "--num-workers", type=int, default=0, choices=[0, 1], help="read windows in a worker process (1)"
    )
    group.add_argument("--accelerator", help="Lightning accelerator (default: from --device)")
    group.add_argument("--devices", help="devices per node: a number, auto, or indexes like 0,1")
    group.add_argument("--num-nodes", type=int, default=1, help="machines (SLURM: srun, one task per device)")
    group.add_argument("--strategy", default="auto", help="Lightning strategy, e.g. ddp")


def is_scene_list(args: argparse.Namespace) -> bool:
    """Whether ``args`` ask for a scene list (``--scenes`` or ``--scenes-dir``)."""
    return bool(args.scenes or args.scenes_dir)


def check_single_scene(args: argparse.Namespace) -> None:
    """Refuse a single-scene ``predict`` without its three paths.

    Raises:
        ValueError: Naming the missing options.
    """
    missing = [
        flag
        for flag, value in (("--s1", args.s1), ("--optical", args.optical), ("--output", args.output))
        if not value
    ]
    if missing:
        msg = (
            f"give {', '.join(missing)} (one scene), or --scenes/--scenes-dir with --output-dir (many scenes)"
        )
        raise ValueError(msg)


def check_scene_list(args: argparse.Namespace) -> None:
    """Refuse a scene list without ``--output-dir``, with both list options, or with one scene's paths.

    Raises:
        ValueError: Naming the options.
    """
    if args.scenes and args.scenes_dir:
        msg = "give --scenes or --scenes-dir, not both"
        raise ValueError(msg)
    if not args.output_dir:
        msg = "a scene list needs --output-dir (outputs are OUT/<name>.tif)"
        raise ValueError(msg)
    if args.s1 or args.optical or args.output:
        msg = "--s1/--optical/--output name one scene; with --scenes/--scenes-dir give only --output-dir"
        raise ValueError(msg)


def trainer_devices(args: argparse.Namespace) -> tuple[str, int | str | list[int]]:
    """``(accelerator, devices)``: from ``--accelerator``/``--devices``, else from ``--device``
    (``cpu`` -> one CPU process, ``cuda:1`` -> GPU 1).

    Raises:
        ValueError: If ``--devices`` is not a number, ``auto`` or a list of indexes.
    """
    accelerator = args.accelerator
    device, _, index = args.device.partition(":")
    if accelerator is None:
        accelerator = "cpu" if device == "cpu" else "gpu" if device == "cuda" else device
    if args.devices is None:
        return accelerator, [int(index)] if index and accelerator == "gpu" else 1
    text = args.devices.strip()
    if text == "auto":
        return accelerator, text
    try:
        if "," in text:
            return accelerator, [int(i) for i in text.split(",") if i.strip()]
        return accelerator, int(text)
    except ValueError as error:
        msg = f"--devices must be a number, auto or indexes like 0,1; got {args.devices!r}"
        raise ValueError(msg) from error


def run(args: argparse.Namespace) -> int:
    """Ground the scenes; print one line per failed scene and the totals.

    Exit 0 when every scene was grounded or skipped, 1 when some failed (the others are written),
    2 on bad options or list (one line, nothing written).
    """
    from axion_terratorch.cli.errors import report
    from axion_terratorch.cli.options import (
        check_config_argument,
        named_options,
        output_options,
        reading_options,
        window_options,
    )

    try:
        check_scene_list(args)
        check_config_argument(args)
        accelerator, devices = trainer_devices(args)
    except (ValueError, OSError) as err:
        return report("predict", err)
    from axion_terratorch.callbacks.scene_writer import SceneFailedError, SceneWriter
    from axion_terratorch.datamodules.scenes import SceneListDataModule
    from axion_terratorch.inference.scenes import predict_scenes

    try:
        datamodule = SceneListDataModule(
            optical_bands=args.bands,
            **named_options(args, "scenes", "scenes_dir", "s1_pattern", "optical_pattern", "num_workers"),
            **reading_options(args),
            **window_options(args),
        )
        writer = SceneWriter(
            args.output_dir,
            **named_options(args, "lpips", "overwrite", "on_error", "quicklook", "timesteps"),
            **output_options(args),
        )
        result = predict_scenes(
            args.checkpoint,
            datamodule,
            writer,
            config=args.config,
            accelerator=accelerator,
            devices=devices,
            num_nodes=args.num_nodes,
            strategy=args.strategy,
        )
    except SceneFailedError as err:
        print(f"axion-stage3 predict: {err}; the report so far is in {args.output_dir}/run.csv")
        return INPUT_ERROR
    except (ValueError, TypeError, OSError) as err:  # SceneInputError, CheckpointError included
        return report("predict", err)
    if result is None:  # a rank other than 0: rank 0 reports
        return 0
    for row in result["scenes"]:
        if row["status"] == "failed":
            print(f"{row['name']}: failed: {row['error']}")
    totals = result["totals"]
    print(
        f"{totals['grounded']} grounded, {totals['skipped']} skipped, {totals['failed']} failed of "
        f"{totals['scenes']} scenes (report {args.output_dir}/run.csv)"
    )
    return run_status(result["scenes"])


def run_status(rows: list[dict]) -> int:
    """The exit status of a scene list (the convention of every subcommand, ``cli/errors.py``):
    2 when a scene failed (the others were written), else 3 when a grounded scene was flagged, else 0."""
    if any(row["status"] == "failed" for row in rows):
        return INPUT_ERROR
    if any(row["status"] == "grounded" and row["verdict"] != "production" for row in rows):
        return FLAGGED
    return SUCCESS
