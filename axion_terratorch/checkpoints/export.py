"""Export a trained model: the LoRA adapter alone (peft layout) or merged weights, and load them back.

Adapter export (a few MB), one folder::

    config.yaml                  # kind: adapter; the model's class_path config; adapters; provenance
    adapter/<module>/            # peft save_pretrained of each PeftModel: adapter_config.json,
                                 # adapter_model.safetensors (LoRA weights only)
    extra_weights.safetensors    # trained weights outside the adapters (e.g. decoder and head)
    base_weights.safetensors     # only for a random base (pretrained: false, no ckpt_path): every
                                 # weight outside the adapters, since it cannot be rebuilt

It is loaded onto a base model built from ``config.yaml`` (TerraMind's pretrained weights, as in
training), or, for a base trained from random weights, onto the exported base weights: either way
the loaded model computes what the checkpoint's did. Merged export: ``config.yaml`` (kind: merged, ``lora: null``, ``pretrained: false``) and
``model.safetensors`` with the LoRA updates folded into the base weights (``merge_and_unload``).
Folders are written into a temporary folder beside the target and renamed when complete; each
holds a marker file (:data:`MARKER_FILE`), and ``overwrite`` replaces only a folder holding it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import peft
import safetensors.torch
import torch
import yaml
from torch import Tensor, nn

from axion_terratorch.checkpoints.loading import (
    CheckpointError,
    build_from_spec,
    load_model,
    model_config,
    read_checkpoint,
    without_base_download,
)
from axion_terratorch.config import read_yaml
from axion_terratorch.constants import PathLike
from axion_terratorch.models.schema import ModelSpec, check_bounded, read_model_config

logger = logging.getLogger(__name__)

ExportKind = Literal["adapter", "merged"]
CONFIG_FILE = "config.yaml"
EXTRA_FILE = "extra_weights.safetensors"
MERGED_FILE = "model.safetensors"
#: Written into every export folder: ``--overwrite`` replaces only folders holding it.
MARKER_FILE = ".axion_terratorch_export"
MARKER_TEXT = "Written by axion-stage3 export; `export --overwrite` may replace this folder.\n"
BASE_FILE = "base_weights.safetensors"


def rebuildable_base(config: Mapping[str, Any]) -> bool:
    """Whether building ``config`` again gives the same frozen weights: pretrained or from a file."""
    init_args = config.get("init_args") or {}
    return bool(init_args.get("pretrained", True) or init_args.get("ckpt_path"))


def base_weights(model: nn.Module) -> dict[str, Tensor]:
    """Every weight of ``model`` outside the LoRA adapters (copies: tied tensors cannot be saved shared)."""
    return {k: v.detach().clone().contiguous() for k, v in model.state_dict().items() if "lora_" not in k}


def peft_modules(model: nn.Module) -> dict[str, peft.PeftModel]:
    """The ``PeftModel`` submodules of ``model`` by qualified name (outermost only)."""
    found: dict[str, peft.PeftModel] = {}
    for name, module in model.named_modules():
        if isinstance(module, peft.PeftModel) and not any(name.startswith(f"{p}.") for p in found):
            found[name] = module
    return found


def extra_weights(model: nn.Module) -> dict[str, Tensor]:
    """Weights that an adapter export must carry besides the LoRA weights: the parameters and buffers
    of every module outside the ``PeftModel`` s that has trainable parameters of its own."""
    wrapped = list(peft_modules(model))
    extra = {}
    for name, module in model.named_modules():
        if any(name == w or name.startswith(f"{w}.") for w in wrapped):
            continue
        own = dict(module.named_parameters(recurse=False))
        if any(p.requires_grad for p in own.values()):
            tensors = {**own, **dict(module.named_buffers(recurse=False))}
            extra.update(
                {f"{name}.{key}" if name else key: t.detach().contiguous() for key, t in tensors.items()}
            )
    return extra


def export_checkpoint(
    checkpoint: PathLike,
    folder: PathLike,
    kind: ExportKind = "adapter",
    config: PathLike | None = None,
    overwrite: bool = False,
    provenance: Mapping[str, object] | None = None,
) -> Path:
    """Export a ``SARGroundingTask`` checkpoint as an adapter or as merged weights.

    Args:
        checkpoint: Lightning checkpoint.
        folder: Output folder (must not exist unless ``overwrite``).
        kind: ``adapter`` or ``merged``.
        config: The run's YAML, for checkpoints without a model config.
        overwrite: Replace an existing ``folder`` that an earlier export wrote (never the working
            directory, a folder above it or one holding ``checkpoint``: :func:`check_overwrite`).
        provenance: Extra entries recorded in ``config.yaml`` (e.g. the checkpoint ranking).

    Raises:
        CheckpointError: If the checkpoint cannot be rebuilt, or an adapter export is asked of a
            model without LoRA or whose base was trained too (``lora.freeze_base_model: false``).
        FileExistsError: If ``folder`` exists and ``overwrite`` is off or may not replace it.
    """
    if overwrite and (Path(folder).exists() or Path(folder).is_symlink()):
        check_overwrite(folder, checkpoint, config)  # before any work
    raw_config = model_config(read_checkpoint(checkpoint), checkpoint, config)
    lora = raw_config.get("init_args", {}).get("lora", {})
    if kind == "adapter" and (lora is None or not lora.get("freeze_base_model", True)):
        msg = (
            f"{checkpoint}: the model has no LoRA adapter or trained its base weights too "
            f"(lora: {lora}); export merged weights instead (--merged)"
        )
        raise CheckpointError(msg)
    model = load_model(checkpoint, config)
    adapters = peft_modules(model)
    if not adapters:
        msg = f"{checkpoint}: {type(model).__name__} holds no peft LoRA adapter to export"
        raise CheckpointError(msg)
    meta: dict[str, Any] = {"kind": kind, "source_checkpoint": str(checkpoint), **(provenance or {})}
    with _atomic_folder(folder, overwrite, checkpoint) as tmp:
        if kind == "adapter":
            meta["model"] = raw_config
            meta["adapters"] = {}
            for name, module in adapters.items():
                module.save_pretrained(tmp / "adapter" / name)
                meta["adapters"][name] = f"adapter/{name}"
            safetensors.torch.save_file(extra_weights(model), tmp / EXTRA_FILE)
            if not rebuildable_base(raw_config):
                # random frozen weights: a new build would differ, so the export carries them
                safetensors.torch.save_file(base_weights(model), tmp / BASE_FILE)
                meta["base_weights"] = BASE_FILE
        else:
            for name, module in adapters.items():
                model.set_submodule(name, module.merge_and_unload())
            meta["model"] = without_base_download(raw_config)
            meta["model"]["init_args"]["lora"] = None
            safetensors.torch.save_model(model, str(tmp / MERGED_FILE))
        (tmp / CONFIG_FILE).write_text(yaml.safe_dump(meta, sort_keys=False))
    logger.info("exported %s of %s to %s", kind, checkpoint, folder)
    return Path(folder)


#: Top-level keys of an export's ``config.yaml`` that :func:`load_export` reads (others are provenance).
EXPORT_KINDS: tuple[str, ...] = ("adapter", "merged")


def read_export_config(folder: Path) -> tuple[dict[str, Any], ModelSpec]:
    """The bounded ``config.yaml`` of an export and its model read through the closed schema.

    Raises:
        CheckpointError: If the file is missing or not valid, has no ``kind`` of :data:`EXPORT_KINDS`, or
            its model is refused by the schema; the message names the file and key.
    """
    path = folder / CONFIG_FILE
    try:
        meta = read_yaml(path, "export")
        check_bounded(meta, str(path))
        kind = meta.get("kind")
        if kind not in EXPORT_KINDS:
            msg = f"{path}: kind is {kind!r}, expected one of {list(EXPORT_KINDS)} (is it an axion-stage3 export?)"
            raise CheckpointError(msg)
        spec = read_model_config(meta.get("model"), str(path))
    except (OSError, ValueError, TypeError) as error:
        raise CheckpointError(str(error)) from error
    return meta, spec


def inside(folder: Path, relative: object, key: str) -> Path:
    """``folder / relative``, refused unless it is a relative path that stays inside ``folder``.

    Raises:
        CheckpointError: Naming ``config.yaml``, ``key`` and the path.
    """
    if isinstance(relative, str) and relative and not Path(relative).is_absolute():
        path = folder / relative
        if path.resolve().is_relative_to(folder.resolve()):
            return path
    msg = (
        f"{folder / CONFIG_FILE}: {key} is {relative!r}; it must be a relative path inside the export folder"
    )
    raise CheckpointError(msg)


def load_export(folder: PathLike, base: nn.Module | None = None) -> nn.Module:
    """Load an export back, in eval mode.

    ``config.yaml`` is untrusted data: its model is read through the closed schema
    (:func:`~axion_terratorch.models.schema.read_model_config`, nothing imported), and every file it
    names must lie inside ``folder``.

    Args:
        folder: An adapter or merged export.
        base: For an adapter export, the base model to load the adapter onto (built as the config
            says, TerraMind weights included); default: build it from ``config.yaml`` and, for a
            random base, load the exported ``base_weights.safetensors``.

    Raises:
        CheckpointError: If ``config.yaml`` is refused (no ``kind``, a model outside the schema, a file
            outside the folder), or the files do not fit the model (the message names the file and keys).
    """
    folder = Path(folder)
    meta, spec = read_export_config(folder)
    source = str(folder / CONFIG_FILE)
    if meta["kind"] == "merged":
        path = folder / MERGED_FILE
        model = build_from_spec(spec, source, _shapes(path), path)
        missing, unexpected = safetensors.torch.load_model(model, str(path), strict=False)
        _check_keys(path, missing, unexpected)
        return model.eval()
    base_file = inside(folder, meta["base_weights"], "base_weights") if meta.get("base_weights") else None
    adapters = meta.get("adapters")
    if not isinstance(adapters, Mapping):
        msg = f"{source}: adapters is {adapters!r}; expected a mapping of module name to adapter folder"
        raise CheckpointError(msg)
    adapter_files = {
        name: inside(folder, relative, f"adapters.{name}") / "adapter_model.safetensors"
        for name, relative in adapters.items()
    }
    model = build_from_spec(spec, source, _shapes(base_file), base_file) if base is None else base
    if base is None and base_file is not None:
        result = model.load_state_dict(safetensors.torch.load_file(base_file), strict=False)
        _check_keys(base_file, [k for k in result.missing_keys if "lora_" not in k], result.unexpected_keys)
    elif base is None and not rebuildable_base(spec.to_config()):
        msg = (
            f"{folder}: the adapter was trained on a random base (pretrained: false) whose weights the "
            "export does not hold; pass that base (base=...) or export with --merged"
        )
        raise CheckpointError(msg)
    for name, path in adapter_files.items():
        try:
            module = model.get_submodule(name)
        except AttributeError:
            module = None
        if not isinstance(module, peft.PeftModel):
            msg = f"{path}: module {name!r} of {type(model).__name__} has no LoRA adapter to load into"
            raise CheckpointError(msg)
        result = peft.set_peft_model_state_dict(module, safetensors.torch.load_file(path))
        _check_keys(path, [k for k in result.missing_keys if "lora_" in k], result.unexpected_keys)
    extra_path = folder / EXTRA_FILE
    extra = safetensors.torch.load_file(extra_path)
    result = model.load_state_dict(extra, strict=False)
    _check_keys(extra_path, sorted(extra_weights(model).keys() - extra.keys()), result.unexpected_keys)
    return model.eval()


def _shapes(path: Path | None) -> dict[str, Tensor]:
    """The tensors of a safetensors file as meta tensors of their shapes (nothing read but the header)."""
    if path is None:
        return {}
    try:
        with safetensors.safe_open(str(path), "pt") as file:
            return {k: torch.empty(file.get_slice(k).get_shape(), device="meta") for k in file.keys()}  # noqa: SIM118
    except (OSError, safetensors.SafetensorError) as error:
        msg = f"cannot read {path}: {error}"
        raise CheckpointError(msg) from error


def _check_keys(path: Path, missing: list[str], unexpected: list[str]) -> None:
    if missing or unexpected:
        msg = f"{path} does not fit the model: missing {list(missing)[:5]}, unexpected {list(unexpected)[:5]}"
        raise CheckpointError(msg)


def check_overwrite(folder: PathLike, checkpoint: PathLike, config: PathLike | None = None) -> None:
    """Refuse to replace ``folder`` unless an earlier export wrote it (:data:`MARKER_FILE`) and it holds
    nothing else (:func:`foreign_files`).

    The working directory, a folder above it and a folder holding ``checkpoint`` or ``config`` are
    never replaced.

    Raises:
        FileExistsError: Naming ``folder`` and why it is kept.
    """
    target = Path(folder).resolve()
    reason = None
    inputs = [
        (kind, path) for kind, path in (("checkpoint", checkpoint), ("config", config)) if path is not None
    ]
    holds = [f"it holds the {kind} {path}" for kind, path in inputs if target in Path(path).resolve().parents]
    if target == Path.cwd() or target in Path.cwd().parents:
        reason = "it is the working directory or a folder above it"
    elif holds:
        reason = holds[0]
    elif Path(folder).is_symlink() or not target.is_dir():
        reason = "it is not a folder (or is a symbolic link)"
    elif not (target / MARKER_FILE).is_file():
        reason = f"no earlier export wrote it (it has no {MARKER_FILE}); remove it yourself or choose another"
    elif foreign := foreign_files(target):
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        reason = f"it holds files an export does not write ({shown}); move them out first"
    if reason is not None:
        msg = f"--overwrite refuses to replace {folder}: {reason}"
        raise FileExistsError(msg)


def foreign_files(folder: Path) -> list[str]:
    """Entries of an export ``folder`` that no export writes (relative paths, sorted)."""
    own = {CONFIG_FILE, EXTRA_FILE, MERGED_FILE, BASE_FILE, MARKER_FILE, "adapter"}
    found = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if relative.parts[0] not in own or (relative.parts[0] != "adapter" and len(relative.parts) > 1):
            found.append(str(relative))
    return found


@contextlib.contextmanager
def _atomic_folder(folder: PathLike, overwrite: bool, checkpoint: PathLike) -> Iterator[Path]:
    """Yield a temporary folder beside ``folder``; when the block succeeds, swap it in for ``folder``.

    An existing ``folder`` (only an earlier export: :func:`check_overwrite`) is renamed aside, the new
    export renamed into place, and the old one deleted; if the second rename fails, the old export is
    put back.
    """
    target = Path(folder)
    if target.exists() or target.is_symlink():
        if not overwrite:
            msg = f"export folder exists: {target} (choose another or overwrite)"
            raise FileExistsError(msg)
        check_overwrite(target, checkpoint)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield tmp
        (tmp / MARKER_FILE).write_text(MARKER_TEXT)
        if target.exists():
            check_overwrite(target, checkpoint)
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
            replaced = sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file())
            os.replace(target, old)
            try:
                os.replace(tmp, target)
            except OSError:
                os.replace(old, target)
                raise
            shutil.rmtree(old)
            logger.warning(
                "replaced the earlier export in %s (deleted %d files: %s)",
                target,
                len(replaced),
                ", ".join(replaced),
            )
        else:
            os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
