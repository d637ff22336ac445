"""``SARGroundingTask``: Stage 3 grounding of an optical estimate in Sentinel-1, as a terratorch task."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import torch
from lightning.pytorch import Callback
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from terratorch.tasks.base_task import TerraTorchTask
from torch import Tensor, nn

from axion_terratorch.argument_bounds import check_at_least, check_positive
from axion_terratorch.callbacks.progress import step_progress_bar
from axion_terratorch.constants import DEFAULT_BANDS, OPTICAL_KEY, SAR_KEY
from axion_terratorch.loggers import apply_run_root
from axion_terratorch.losses import Stage3Loss
from axion_terratorch.losses.gate import gate_loss
from axion_terratorch.metrics import GroundingMetrics
from axion_terratorch.missing_inputs import check_cli_run
from axion_terratorch.models.base_reference import (
    CheckpointWeights,
    check_checkpoint_weights,
    save_trained_only,
)
from axion_terratorch.models.lora import count_parameters
from axion_terratorch.tasks.checkpointing import (
    MODEL_PREFIX,
    MODULE_ARGS,
    complete_loaded_checkpoint,
    record_module_configs,
)
from axion_terratorch.tasks.module_configs import TrustClassPaths, build_from_checkpoint, trusting
from axion_terratorch.tasks.optimizers import configure_optimizer
from axion_terratorch.tasks.resume import skip_trained_batches
from axion_terratorch.tasks.settings import (
    check_data_bands,
    check_trainer_settings,
    on_model_bands,
)
from axion_terratorch.tasks.stage_logging import batch_size, log_metrics, term_names

__all__ = [
    "MODEL_PREFIX",
    "MODULE_ARGS",
    "SARGroundingTask",
    "build_from_checkpoint",
    "check_trainer_settings",
    "gate_loss",
]


class SARGroundingTask(TerraTorchTask):
    """Train a model that grounds a Stage 2 optical estimate in co-registered Sentinel-1.

    Batches follow terratorch's multimodal convention::

        {"image": {"S1GRD": (B, 2, H, W) dB, "S2L2A": (B, C, H, W) reflectance},
         "target": (B, C, H, W) reflectance (optional real Sentinel-2),
         "valid_mask": (B, 1, H, W) bool (optional, True = valid pixel),
         "error_mask": (B, 1, H, W) float in [0, 1] (optional: where the Stage 2 errors are)}

    The model maps ``batch["image"]`` to the grounded optical image ``(B, C, H, W)``; the loss is
    called as ``loss(output, optical, sar, target=..., mask=...)`` and returns a dict with the total
    under ``"loss"`` and named terms; ``metrics`` is a :class:`GroundingMetrics` (or subclass).

    Logged: ``train/loss`` and ``train/loss/<term>`` per training step (``train/monitor/<term>`` for a
    term the loss weighs 0: computed, not in the total); ``val/loss``, ``val/loss/<term>``
    and ``val/<metric>`` (``sar_agreement``, ``sar_agreement_input``, ``sar_agreement_gain``,
    ``lpips_change``, and when targets exist ``psnr``/``ssim``/``sam`` and the over-grounding metrics
    ``sar_agreement_target``, ``sar_agreement_excess``, ``copy_of_sar_ratio``, ``psnr_gain``,
    ``ssim_gain``) per validation; the same under ``test/``. Subclasses extend the objective by
    overriding :meth:`compute_loss`.

    Select checkpoints and stop early on fidelity, ``val/psnr`` (mode max), as the shipped configs
    do, not on ``val/sar_agreement``: the most SAR-like output is the one that copies the SAR. The
    class attributes ``monitor``/``mode`` (``val/loss``, min) are what a plateau scheduler watches.

    Every checkpoint holds the configs of ``model``, ``loss`` and ``metrics`` in its hyperparameters,
    whether the task was built by ``terratorch fit`` or in Python, so
    ``SARGroundingTask.load_from_checkpoint(path)`` and ``load_model(path)`` rebuild it from the file.

    Args:
        model: Grounding model, e.g. :class:`~axion_terratorch.models.TerraMindResidualGrounding`
            (or its ``{"class_path", "init_args"}`` config, as a checkpoint stores it).
        loss: Loss module; default :class:`~axion_terratorch.losses.Stage3Loss` with the original Stage 3
            guide's weights.
        metrics: Validation/test metrics; default :class:`~axion_terratorch.metrics.GroundingMetrics`.
        target_key: Batch key of the real Sentinel-2 target (``"mask"`` for terratorch's
            ``GenericMultiModalDataModule`` with label data).
        valid_mask_key: Batch key of the valid-pixel mask.
        error_weight: Extra loss weight of the pixels the Stage 2 errors changed: the loss's mask
            becomes ``valid * (1 + error_weight * error_mask)`` when the batch has an error mask
            (the structural errors of ``tiles.stage2_errors``, docs/data.md), so the few pixels the
            SAR can fix are not outweighed by the many it should leave alone. 0 (default) ignores it.
        error_mask_key: Batch key of the error mask.
        gate_weight: Weight of the gate term: a model with a per-pixel gate (``last_gate``, e.g.
            ``TerraMindResidualGrounding(gate=True)``) is taught where the Stage 2 errors are by a
            binary cross-entropy between its gate and the batch's error mask over valid pixels,
            logged as ``loss/gate``. 0 (default) adds nothing; batches without an error mask add 0.
        optimizer: Name of a ``torch.optim`` optimizer.
        lr: Learning rate.
        optimizer_hparams: Extra optimizer arguments; default ``{"weight_decay": 1e-5}`` (the original Stage 3
            guide's).
        scheduler: Name of a ``torch.optim.lr_scheduler`` class, import path of a scheduler class
            (e.g. ``axion_terratorch.schedulers.WarmupCosineLR``), or ``None``.
        scheduler_hparams: Its arguments (terratorch's convention, ``interval`` included).
        checkpoint_weights: ``trained`` (default): checkpoints leave out the model's frozen base
            (and other frozen weights, e.g. LPIPS) and record which base they need (variant, weights
            source, hash); loading rebuilds it with the model's constructor and refuses another base
            (:mod:`~axion_terratorch.models.base_reference`). Models without frozen parameters, or
            whose base cannot be rebuilt, are saved whole. ``full``: every weight, as before.

            .. versionadded:: 0.1
    """

    monitor = "val/loss"
    mode = "min"
    #: ``save_hyperparameters`` leaves the modules out; their configs are stored instead
    #: (:func:`~axion_terratorch.tasks.checkpointing.record_module_configs`).
    ignore = MODULE_ARGS

    def __init__(
        self,
        model: nn.Module,
        loss: nn.Module | None = None,
        metrics: GroundingMetrics | None = None,
        target_key: str = "target",
        valid_mask_key: str = "valid_mask",
        error_weight: float = 0.0,
        error_mask_key: str = "error_mask",
        gate_weight: float = 0.0,
        optimizer: str = "AdamW",
        lr: float = 1e-4,
        optimizer_hparams: dict[str, Any] | None = None,
        scheduler: str | None = None,
        scheduler_hparams: dict[str, Any] | None = None,
        checkpoint_weights: CheckpointWeights = "trained",
    ) -> None:
        check_cli_run()  # under terratorch's CLI: the data folders before the data module is built
        check_positive({"lr": lr})
        check_checkpoint_weights(checkpoint_weights)
        check_at_least(0, {"error_weight": error_weight, "gate_weight": gate_weight}, finite=True)
        if not hasattr(torch.optim, optimizer):
            msg = f"optimizer {optimizer!r} is not a torch.optim optimizer"
            raise ValueError(msg)
        self.target_key = target_key
        self.valid_mask_key = valid_mask_key
        self.error_weight = error_weight
        self.error_mask_key = error_mask_key
        self.gate_weight = gate_weight
        self.optimizer_name = optimizer
        self.lr = lr
        self.optimizer_hparams = {"weight_decay": 1e-5} if optimizer_hparams is None else optimizer_hparams
        self.scheduler_name = scheduler
        self.scheduler_hparams = scheduler_hparams
        self.checkpoint_weights = checkpoint_weights
        self._full_checkpoint_reason: str | None = None
        super().__init__(task="sar_grounding")
        # torch refuses module attributes before Module.__init__, so the modules are attached here,
        # after torchgeo's constructor has saved the hyperparameters.
        model, loss, metrics = (
            build_from_checkpoint(value, name) if isinstance(value, Mapping) else value
            for name, value in zip(MODULE_ARGS, (model, loss, metrics), strict=True)
        )
        self.model = model
        self.loss = on_model_bands("loss", Stage3Loss() if loss is None else loss, self.bands)
        metrics = on_model_bands("metrics", GroundingMetrics() if metrics is None else metrics, self.bands)
        self.val_metrics = copy.deepcopy(metrics)
        self.test_metrics = copy.deepcopy(metrics)
        record_module_configs(self.hparams, self._modules_by_argument())

    @classmethod
    def load_from_checkpoint(  # type: ignore[override]
        cls,
        checkpoint_path: Any,
        map_location: Any = None,
        hparams_file: Any = None,
        strict: bool | None = None,
        *,
        trust_class_paths: TrustClassPaths = False,
        **kwargs: Any,
    ) -> SARGroundingTask:
        """Lightning's ``load_from_checkpoint``, building the checkpoint's ``model``, ``loss`` and
        ``metrics`` configs from this package's closed tables
        (:mod:`~axion_terratorch.tasks.module_configs`): nothing the file names is imported unless
        trusted, and Lightning's jsonargparse instantiator (``_instantiator`` in the file) is not used.

        Args:
            checkpoint_path: The ``.ckpt`` file (path, URL or file object, as Lightning takes it).
            map_location: As Lightning's.
            hparams_file: As Lightning's.
            strict: As Lightning's.
            trust_class_paths: ``True`` builds every class path of the file with jsonargparse (trust the
                file); a collection of class paths (e.g. ``["my_package.TotalVariation"]``, a loss
                term of your own) trusts those only; ``False`` (default) refuses any class outside
                the package's tables with one line naming the key and the class path.
            **kwargs: Lightning's other options (``weights_only``) and constructor arguments that
                replace the checkpoint's (e.g. ``model=my_model``: its config is then not read).

        Raises:
            UntrustedClassPathError: A class outside the tables, not trusted.
            ModelConfigError: A config the package's classes cannot take (the message names the key).
        """
        with trusting(trust_class_paths):
            return super().load_from_checkpoint(
                checkpoint_path, map_location, hparams_file, strict, _instantiator=None, **kwargs
            )

    def _modules_by_argument(self) -> dict[str, nn.Module]:
        """The model, loss and metrics by constructor argument name (:data:`MODULE_ARGS`)."""
        return dict(zip(MODULE_ARGS, (self.model, self.loss, self.val_metrics), strict=True))

    def configure_models(self) -> None:
        """Nothing: the model is attached by the constructor (it is an argument, not built from hparams)."""

    def configure_losses(self) -> None:
        """Nothing: the loss (default :class:`Stage3Loss` on the model's bands) is attached by the constructor."""

    def configure_metrics(self) -> None:
        """Nothing: the constructor clones the metrics once per stage (validation, test)."""

    @property
    def bands(self) -> tuple[str, ...]:
        """Optical bands of the model (``DEFAULT_BANDS`` when the model does not say)."""
        return tuple(getattr(self.model, "bands", DEFAULT_BANDS))

    def check_data_bands(self, datamodule: Any) -> None:
        """Refuse a data module whose optical ``bands`` differ from the model's, naming both lists.

        Data modules without a ``bands`` attribute (e.g. terratorch's generic ones) are not checked.
        """
        check_data_bands(datamodule, self.bands)

    def configure_optimizers(self) -> Any:
        """The optimizer over the trainable parameters, with an optional scheduler: a
        ``torch.optim.lr_scheduler`` name or the import path of a scheduler class
        (:func:`~axion_terratorch.tasks.optimizers.configure_optimizer`)."""
        return configure_optimizer(
            [p for p in self.parameters() if p.requires_grad],
            self.optimizer_name,
            self.lr,
            self.optimizer_hparams,
            self.scheduler_name,
            self.scheduler_hparams,
            self.monitor,
            lambda: int(self.trainer.estimated_stepping_batches),
        )

    def setup(self, stage: str) -> None:
        """Record the module configs of the run (its LightningCLI configuration under ``terratorch
        fit``), check the data module's bands against the model's and the trainer settings the
        trainer itself does not check."""
        record_module_configs(self.hparams, self._modules_by_argument(), self.trainer)
        self.check_data_bands(self.trainer.datamodule)
        if stage == "fit":
            check_trainer_settings(self.trainer)

    def configure_callbacks(self) -> list[Callback]:
        """The data module's callbacks (its ``configure_callbacks()``, e.g. ``BadTileReport``), if any,
        and, for a run bounded by steps only, a progress bar that does not read ``Epoch 3/-2``
        (:func:`~axion_terratorch.callbacks.progress.step_progress_bar`).

        First places the run's logs and checkpoints under one root: loggers and ``ModelCheckpoint`` s
        that name no folder go under ``trainer.default_root_dir``
        (:func:`~axion_terratorch.loggers.apply_run_root`); this is the first task hook that runs
        before Lightning creates the loggers' folders.
        """
        apply_run_root(self.trainer)
        hook = getattr(self.trainer.datamodule, "configure_callbacks", None)
        return step_progress_bar(self.trainer) + (list(hook()) if callable(hook) else [])

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """With ``checkpoint_weights: trained``, leave the frozen base out and record its reference.

        A model whose base cannot be rebuilt (no recorded config, or a random base built without a
        recorded random state) is saved whole, with one warning saying why.
        """
        if self.checkpoint_weights == "full":
            return
        reason = save_trained_only(
            checkpoint, self.model, self.hparams.get("model"), MODEL_PREFIX, owner=self
        )
        if reason is not None and reason != self._full_checkpoint_reason:
            self._full_checkpoint_reason = reason
            rank_zero_warn(f"checkpoint_weights: trained saves full checkpoints here: {reason}")

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Rebuild the frozen base of a trained-only checkpoint, and refuse a checkpoint of another
        model configuration (``fit --ckpt_path``) naming the keys.

        Raises:
            BaseMismatchError: If the checkpoint was trained on another frozen base (variant or
                weights); one line naming both.
            ValueError: If a weight has another shape than in this task's model; the message names
                the config keys that differ from the checkpoint's ``hyper_parameters`` and the tensors.
        """
        where = str(getattr(self._trainer, "ckpt_path", None) or "the checkpoint")
        complete_loaded_checkpoint(self, self.model, checkpoint, where)

    def forward(self, image: dict[str, Tensor]) -> Tensor:
        """Grounded optical image ``(B, C, H, W)`` reflectance for ``batch["image"]``."""
        return self.model(image)

    def compute_loss(self, output: Tensor, batch: dict[str, Any]) -> dict[str, Tensor]:
        """Loss terms for one batch; the total is under ``"loss"``. Override to add terms."""
        optical, sar, target = self._inputs(batch)
        terms = self.loss(output, optical, sar, target=target, mask=self.loss_mask(batch))
        gate = getattr(self.model, "last_gate", None)
        if self.gate_weight > 0 and gate is not None and self.error_mask_key in batch:
            terms["gate"] = gate_loss(gate, batch[self.error_mask_key], batch.get(self.valid_mask_key))
            terms["loss"] = terms["loss"] + self.gate_weight * terms["gate"]
        return terms

    def loss_mask(self, batch: dict[str, Any]) -> Tensor | None:
        """The loss's per-pixel weight: the valid mask, raised by ``error_weight`` where the errors are."""
        valid = batch.get(self.valid_mask_key)
        errors = batch.get(self.error_mask_key)
        if self.error_weight == 0 or errors is None:
            return valid
        weight = 1 + self.error_weight * errors.float()
        return weight if valid is None else valid.float() * weight

    def on_fit_start(self) -> None:
        """Print total and trainable parameter counts (the original Stage 3 guide's LoRA check), and
        what the loss and metrics left out (LPIPS without its weights on this machine, one line each)."""
        trainable, total = count_parameters(self.model)
        rank_zero_info(
            f"Total parameters: {total:,}\n"
            f"Trainable parameters: {trainable:,} ({100.0 * trainable / max(total, 1):.3f}%)"
        )
        for name, module in (("loss", self.loss), ("metrics", self.val_metrics)):
            note = getattr(module, "lpips_note", None)
            if note:
                rank_zero_info(f"{name}: {note}")

    def on_train_start(self) -> None:
        """After resuming from a mid-epoch checkpoint, skip the batches that epoch already trained on
        (:func:`~axion_terratorch.tasks.resume.skip_trained_batches`)."""
        skip_trained_batches(self.trainer)

    def training_step(self, batch: dict[str, Any], batch_idx: int, dataloader_idx: int = 0) -> Tensor:
        """Forward, loss and logging of one training batch."""
        terms = self.compute_loss(self(batch["image"]), batch)
        size = batch_size(batch)
        self.log("train/loss", terms["loss"], batch_size=size, prog_bar=True)
        self.log_dict(self._term_names("train", terms), batch_size=size)
        return terms["loss"]

    def validation_step(self, batch: dict[str, Any], batch_idx: int, dataloader_idx: int = 0) -> Tensor:
        """Loss and metric update of one validation batch."""
        return self._evaluate(batch, "val", self.val_metrics)

    def test_step(self, batch: dict[str, Any], batch_idx: int, dataloader_idx: int = 0) -> Tensor:
        """Loss and metric update of one test batch."""
        return self._evaluate(batch, "test", self.test_metrics)

    def predict_step(self, batch: dict[str, Any], batch_idx: int, dataloader_idx: int = 0) -> Tensor:
        """Grounded optical image of one batch."""
        return self(batch["image"])

    def _evaluate(self, batch: dict[str, Any], stage: str, metrics: GroundingMetrics) -> Tensor:
        output = self(batch["image"])
        terms = self.compute_loss(output, batch)
        size = batch_size(batch)
        self.log(f"{stage}/loss", terms["loss"], batch_size=size, sync_dist=True)
        self.log_dict(self._term_names(stage, terms), batch_size=size, sync_dist=True)
        optical, sar, target = self._inputs(batch)
        metrics.update(output, optical, sar, target=target, mask=batch.get(self.valid_mask_key))
        return terms["loss"]

    def _inputs(self, batch: dict[str, Any]) -> tuple[Tensor, Tensor, Tensor | None]:
        """The optical input, the SAR and the target (``None`` without one) of a batch."""
        image = batch["image"]
        return image[OPTICAL_KEY], image[SAR_KEY], batch.get(self.target_key)

    def on_train_epoch_end(self) -> None:
        """No training metrics: they belong to validation (and would slow every step)."""

    def on_validation_epoch_end(self) -> None:
        """Log and reset the validation metrics."""
        log_metrics(self, "val", self.val_metrics)

    def on_test_epoch_end(self) -> None:
        """Log and reset the test metrics."""
        log_metrics(self, "test", self.test_metrics)

    def _term_names(self, stage: str, terms: dict[str, Tensor]) -> dict[str, Tensor]:
        """The log names of the loss's terms (:func:`~axion_terratorch.tasks.stage_logging.term_names`)."""
        return term_names(stage, terms, getattr(self.loss, "weights", None) or {})
