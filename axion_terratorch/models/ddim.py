"""A differentiable DDIM loop over a TerraMind tokenizer's diffusion decoder.

terratorch's ``PipelineCond.__call__`` runs under ``torch.no_grad()``; this module runs the same
deterministic DDIM updates (``eta = 0``) with autograd on, using the tokenizer's own scheduler
settings (train timesteps, betas / zero-terminal-SNR alphas, prediction type, clipping and dynamic
thresholding) and ``trailing`` timestep spacing, terratorch's default.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

logger = logging.getLogger(__name__)


class DDIMSchedule:
    """The DDIM update of a diffusers-style scheduler, as plain differentiable tensor arithmetic.

    Reads the scheduler once and holds no device state: the coefficients stay float32 CPU tensors
    (the values terratorch's scheduler computes), read as Python numbers in each update, so the loop
    follows the decoder's device and dtype and never waits for the device.

    Why not terratorch's ``DDIMScheduler.step`` (diffusers' is the same code): its step length comes
    from ``num_inference_steps``, state that ``set_timesteps`` writes into the scheduler object, and
    that object is the frozen tokenizer's own, shared with its ``decode`` pipeline; calling it here
    would rewrite the tokenizer's state on every forward whose ``timesteps`` differ (training vs.
    an inference override). This class takes ``(t, t_prev)`` explicitly, keeps no mutable state, and
    skips the ``eta`` variance (always 0 here). ``tests/models/test_ddim.py`` checks that every
    update equals terratorch's ``step`` for each prediction type, clipping and thresholding.

    Args:
        scheduler: The tokenizer's ``noise_scheduler`` (terratorch's ``DDIMScheduler``): its
            ``config`` and ``alphas_cumprod`` / ``final_alpha_cumprod`` are used.

    Raises:
        ValueError: If the scheduler's ``prediction_type`` is not ``epsilon``, ``sample`` or
            ``v_prediction``.
    """

    def __init__(self, scheduler: Any) -> None:
        config = scheduler.config
        if config.prediction_type not in ("epsilon", "sample", "v_prediction"):
            msg = f"unsupported scheduler prediction_type {config.prediction_type!r}"
            raise ValueError(msg)
        self.num_train_timesteps = int(config.num_train_timesteps)
        self.prediction_type = str(config.prediction_type)
        self.steps_offset = int(config.steps_offset)
        self.thresholding = bool(config.thresholding)
        self.dynamic_thresholding_ratio = float(config.dynamic_thresholding_ratio)
        self.sample_max_value = float(config.sample_max_value)
        self.clip_sample = bool(config.clip_sample)
        self.clip_sample_range = float(config.clip_sample_range)
        self.alphas_cumprod = scheduler.alphas_cumprod.detach().to("cpu", torch.float32).clone()
        self.final_alpha_cumprod = torch.as_tensor(scheduler.final_alpha_cumprod, dtype=torch.float32)

    def timesteps(self, num_steps: int) -> list[tuple[int, int]]:
        """Return ``(t, t_prev)`` pairs of a ``num_steps`` DDIM run, ``trailing`` spacing.

        Matches ``scheduler.set_timesteps(num_steps, mode="trailing")``: when 1000 is not a multiple
        of ``num_steps`` the run has one step more (3 -> 999, 666, 333, 0), as in terratorch.

        Raises:
            ValueError: If ``num_steps`` is not in ``[1, num_train_timesteps]``.
        """
        if not 1 <= num_steps <= self.num_train_timesteps:
            msg = f"timesteps must be in [1, {self.num_train_timesteps}], got {num_steps}"
            raise ValueError(msg)
        ratio = self.num_train_timesteps // num_steps
        steps = [t - 1 + self.steps_offset for t in range(self.num_train_timesteps, 0, -ratio)]
        return [(t, t - ratio) for t in steps]

    def _alpha(self, t: int) -> Tensor:
        return self.alphas_cumprod[t] if t >= 0 else self.final_alpha_cumprod

    def _threshold(self, x0: Tensor) -> Tensor:
        # Imagen's dynamic thresholding, as diffusers' ``_threshold_sample``.
        flat = x0.reshape(x0.shape[0], -1)
        if flat.dtype not in (torch.float32, torch.float64):
            flat = flat.float()  # quantile and clamp need single precision at least on the CPU
        s = torch.quantile(flat.abs(), self.dynamic_thresholding_ratio, dim=1)
        s = torch.clamp(s, min=1, max=self.sample_max_value).unsqueeze(1)
        return (torch.clamp(flat, -s, s) / s).reshape(x0.shape).to(x0.dtype)

    def step(self, model_output: Tensor, t: int, t_prev: int, sample: Tensor) -> Tensor:
        """One deterministic DDIM update ``x_t -> x_{t_prev}`` (DDIM paper eq. 12, ``eta = 0``).

        Args:
            model_output: ``(B, C, H, W)`` decoder output at ``t``.
            t: Current train timestep.
            t_prev: Next (smaller) timestep; negative for the last step.
            sample: ``(B, C, H, W)`` current sample ``x_t``.

        Returns:
            ``(B, C, H, W)`` sample ``x_{t_prev}``.
        """
        alpha_t = self._alpha(t)
        alpha_prev = self._alpha(t_prev)
        beta_t = 1 - alpha_t
        sqrt_alpha, sqrt_beta = float(alpha_t**0.5), float(beta_t**0.5)
        if self.prediction_type == "epsilon":
            x0 = (sample - sqrt_beta * model_output) / sqrt_alpha
            eps = model_output
        elif self.prediction_type == "sample":
            x0 = model_output
            eps = (sample - sqrt_alpha * x0) / sqrt_beta
        else:
            x0 = sqrt_alpha * sample - sqrt_beta * model_output
            eps = sqrt_alpha * model_output + sqrt_beta * sample
        if self.thresholding:
            x0 = self._threshold(x0)
        elif self.clip_sample:
            x0 = x0.clamp(-self.clip_sample_range, self.clip_sample_range)
        return float(alpha_prev**0.5) * x0 + float((1 - alpha_prev) ** 0.5) * eps


def seeded_noise(
    batch: int, shape: tuple[int, int, int], seed: int, device: torch.device, dtype: torch.dtype
) -> Tensor:
    """Starting noise ``x_T``: one standard normal draw from ``seed``, shared by every sample.

    The draw happens on the CPU with a fresh generator, so it is the same on every device and for
    every batch composition; for a single sample it equals terratorch's
    ``torch.randn((1, C, H, W), generator=torch.Generator().manual_seed(seed))``.

    Args:
        batch: Batch size ``B``.
        shape: ``(C, H, W)``.
        seed: Generator seed.
        device: Device of the result.
        dtype: Dtype of the result.

    Returns:
        ``(B, C, H, W)`` noise, identical along ``B``.
    """
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn((1, *shape), generator=generator)
    return noise.to(device=device, dtype=dtype).expand(batch, -1, -1, -1)


def ddim_decode(
    decoder: nn.Module,
    cond: Tensor,
    noise: Tensor,
    schedule: DDIMSchedule,
    num_steps: int,
    checkpoint_steps: bool = False,
    gradient_steps: int | None = None,
) -> Tensor:
    """Run the conditional diffusion decoder from ``noise`` for ``num_steps`` DDIM steps, with autograd.

    Args:
        decoder: The tokenizer's decoder network, called as ``decoder(x_t, t, cond)``.
        cond: ``(B, D, h, w)`` quantiser codes (continuous or hard).
        noise: ``(B, C, H, W)`` starting sample ``x_T``.
        schedule: Scheduler settings of the tokenizer.
        num_steps: Number of DDIM steps (``timesteps``).
        checkpoint_steps: Recompute each step's activations in the backward pass instead of
            keeping them (only the steps autograd records).
        gradient_steps: Record only the last ``gradient_steps`` steps: the earlier ones run under
            ``torch.no_grad()`` (truncated backpropagation through the sampler, DRaFT-K). Same
            values as without it; ``None``, or a count of at least ``num_steps``: every step.

    Returns:
        ``(B, C, H, W)`` decoded sample ``x_0``, in the tokenizer's (standardised) units.
    """
    pairs = schedule.timesteps(num_steps)
    untracked = 0 if gradient_steps is None or gradient_steps >= num_steps else len(pairs) - gradient_steps
    sample = noise
    with torch.no_grad():
        for t, t_prev in pairs[:untracked]:
            sample = _denoise(decoder, schedule, sample, cond, t, t_prev)
    recompute = checkpoint_steps and torch.is_grad_enabled()
    for t, t_prev in pairs[untracked:]:
        if recompute:
            sample = checkpoint(_denoise, decoder, schedule, sample, cond, t, t_prev, use_reentrant=False)
        else:
            sample = _denoise(decoder, schedule, sample, cond, t, t_prev)
    return sample


def _denoise(
    decoder: nn.Module, schedule: DDIMSchedule, sample: Tensor, cond: Tensor, t: int, t_prev: int
) -> Tensor:
    timestep = torch.tensor(t, dtype=torch.long, device=sample.device)
    output = decoder(sample, timestep, cond)
    return schedule.step(output.to(sample.dtype), t, t_prev, sample)
