"""Shared by the reliability tests: fuzz settings, outcome counting, a timeout guard and TIFF patching.

Every fuzz case ends in one of the outcomes counted here (a valid sample or a named error); anything
else fails the test. ``AXION_FUZZ_EXAMPLES=<n>`` runs every fuzz target with ``n`` examples instead
of its CI default; ``AXION_FUZZ_REPORT=<file.json>`` writes the counts of the session to a file.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import struct
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, settings

#: target -> outcome -> count, over the whole pytest session (printed by :func:`fuzz_summary`).
OUTCOMES: defaultdict[str, Counter[str]] = defaultdict(Counter)
#: Longest a single fuzz case may take before it counts as a hang.
CASE_TIMEOUT_S = 20.0


class _OutcomeSummary:
    """pytest plugin: print :data:`OUTCOMES` at the end of the session (and write ``$AXION_FUZZ_REPORT``)."""

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not OUTCOMES:
            return
        terminalreporter.section("fuzz cases per target")
        for target, counts in sorted(OUTCOMES.items()):
            terminalreporter.write_line(f"{target}: {sum(counts.values())} cases")
            for outcome, count in counts.most_common():
                terminalreporter.write_line(f"    {count:5d}  {outcome}")
        report = os.environ.get("AXION_FUZZ_REPORT")
        if report:
            Path(report).write_text(json.dumps({t: dict(c) for t, c in OUTCOMES.items()}, indent=2))


@pytest.fixture(scope="module", autouse=True)
def fuzz_summary(request: pytest.FixtureRequest) -> None:
    """Register the end-of-session summary (import this fixture into each fuzz test module)."""
    manager = request.config.pluginmanager
    if not manager.has_plugin("axion-fuzz-summary"):
        manager.register(_OutcomeSummary(), "axion-fuzz-summary")


def fuzz_settings(default_examples: int) -> settings:
    """Hypothesis settings: ``default_examples`` (or ``$AXION_FUZZ_EXAMPLES``), no deadline, derandomized
    in CI so a run is reproducible (``AXION_FUZZ_RANDOM=1`` explores new examples)."""
    examples = int(os.environ.get("AXION_FUZZ_EXAMPLES", default_examples))
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=os.environ.get("AXION_FUZZ_RANDOM") != "1",
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


class CaseTimeout(Exception):
    """A fuzz case ran longer than :data:`CASE_TIMEOUT_S`."""


@contextlib.contextmanager
def time_limit(seconds: float = CASE_TIMEOUT_S) -> Iterator[None]:
    """Raise :class:`CaseTimeout` in the block after ``seconds`` (SIGALRM; main thread, POSIX)."""

    def expire(signum: int, frame: object) -> None:
        msg = f"fuzz case still running after {seconds} s"
        raise CaseTimeout(msg)

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def record(target: str, outcome: str) -> None:
    """Count one case of ``target``."""
    OUTCOMES[target][outcome] += 1


def check_named(error: Exception, *names: str | os.PathLike[str]) -> str:
    """Assert that ``error``'s message names one of ``names`` (files or keys); return its outcome label."""
    text = str(error)
    assert any(str(name) in text or Path(name).name in text for name in names), (
        f"{type(error).__name__} does not name the file: {text}"
    )
    return f"{type(error).__name__}: {error_kind(text)}"


def error_kind(message: str) -> str:
    """A short class of a message, for the counts: its wording without paths, numbers and values."""
    text = re.sub(r"tile '[^']*' \([^)]*\)", "tile", message)
    text = re.sub(r"(/[^\s,:;()']+)+", "", text).split("; set on_bad_tile")[0]
    for _ in range(4):  # innermost brackets first
        text = re.sub(r"\[[^\[\]]*\]|\{[^{}]*\}|\([^()]*\)", "_", text)
    text = re.sub(r"'[^']*'|\"[^\"]*\"|-?\d[\d.e+x-]*", "_", text)
    text = re.sub(r"[^\w\s:;,.=_-]+", "", text)
    return re.sub(r"\s+", " ", text).strip(" :;,")[:70]


def assert_clean_sample(sample: dict, channels: int) -> None:
    """A returned sample is no silent garbage: shapes agree, every value is finite and zero outside the
    valid mask, and at least one pixel is valid."""
    sar, optical = sample["image"]["S1GRD"], sample["image"]["S2L2A"]
    target, mask = sample["target"], sample["valid_mask"]
    height, width = mask.shape[-2:]
    assert sar.shape == (2, height, width)
    assert optical.shape == target.shape == (channels, height, width)
    assert mask.dtype == torch.bool
    assert mask.shape == (1, height, width)
    assert mask.any(), "a sample without any valid pixel"
    for name, tensor in (("S1GRD", sar), ("S2L2A", optical), ("target", target)):
        assert tensor.dtype == torch.float32, name
        assert torch.isfinite(tensor).all(), f"non-finite values in {name}"
        assert (tensor[:, ~mask[0]] == 0).all(), f"non-zero {name} outside the valid mask"


# --- TIFF header patching (classic little-endian TIFF, as GDAL writes small files) ----------------

_TYPE_SIZES = {3: 2, 4: 4}  # SHORT, LONG


def patch_tiff_tag(path: Path, tag: int, value: int) -> bool:
    """Overwrite the value of ``tag`` (SHORT or LONG, count 1) in the first IFD of ``path``.

    Returns:
        Whether the tag was found and patched (the value is clipped to the tag's type).
    """
    data = bytearray(path.read_bytes())
    if data[:4] != b"II*\x00":
        return False
    (ifd,) = struct.unpack_from("<I", data, 4)
    (count,) = struct.unpack_from("<H", data, ifd)
    for entry in range(count):
        offset = ifd + 2 + 12 * entry
        entry_tag, kind, n = struct.unpack_from("<HHI", data, offset)
        if entry_tag == tag and n == 1 and kind in _TYPE_SIZES:
            if kind == 3:
                struct.pack_into("<H", data, offset + 8, min(value, 0xFFFF))
            else:
                struct.pack_into("<I", data, offset + 8, min(value, 0xFFFFFFFF))
            path.write_bytes(bytes(data))
            return True
    return False
