"""Every command in README.md and docs/*.md runs as written, or fails at once naming what is missing.

Commands are read from the ```bash blocks (``VAR=value`` prefixes and ``srun`` are set aside). How
each is run here:

* ``axion-stage3 ...``: parsed by the real command line (an unknown flag or a missing argument
  fails), every ``configs/`` or ``examples/`` path it names exists. Then, when a file or folder the
  command needs is absent from this checkout (``CKPT``, ``S1.tif``, ``tiles/``, a ``--resume``
  checkpoint, ``outputs/demo``): run as written, it must exit with status 2 within 5 s and print one
  line naming what is missing. When everything it needs is here: ``train`` resolves its config with
  ``--print-config`` (the training itself: the ``--smoke`` run of every shipped config in
  ``tests/cli/test_train_smoke.py``; ``--validate-config`` builds with ``--smoke``),
  ``memory-report`` resolves its settings from the config (the measured step at test size is
  ``tests/cli/test_axion_stage3_memory_report.py``), other commands on the reader's own files are
  parsed only (their runs are the tests of each command).
* ``terratorch fit -c ...``: LightningCLI resolves the config with ``--print_config``. A config that
  downloads pretrained TerraMind weights not in the Hugging Face cache is also run as written with
  ``HF_HUB_OFFLINE=1``: it must fail within 5 s with the weights message as its first error line.
  Configs that train offline (the demo, the real-data recipes) are run by their own tests.
* ``python benchmarks/<script>.py``: the script exists and takes every flag shown (the scripts
  train or time models for minutes; they are not run).
* ``make <target>``: the Makefile has the target; ``pip install``: the package and extra exist;
  ``.venv/bin/python -m pytest <path>``: the path exists and every ``AXION_*`` variable set before
  it is read by the tests.

Lines with ``[optional]`` synopsis brackets, ``...`` or an upper-case placeholder (``CONFIG``) are
parsed with every optional part in (``axion-stage3``) or skipped (``terratorch``).
"""

import argparse
import importlib
import re
import shlex
import time
from pathlib import Path

import pytest
import tomllib
import torch
from terratorch.cli_tools import build_lightning_cli

from axion_terratorch.cli import SUBCOMMANDS, build_parser, main
from axion_terratorch.cli.memory_report import resolve_settings
from axion_terratorch.models.hub import is_cached

from run_configs import REPO

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
PROGRAMS = (
    "axion-stage3 ",
    "terratorch fit ",
    "python benchmarks/",
    "make ",
    "pip install ",
    ".venv/bin/python -m pytest ",
)
#: Seconds within which a heavy command missing its inputs must fail.
FAIL_FAST = 5.0


def documented_commands() -> list[tuple[str, str]]:
    """``(file, command)`` of every command line in the ```bash blocks, continuations joined."""
    found = []
    for path in DOCS:
        blocks = re.findall(r"```bash\n(.*?)```", path.read_text(), flags=re.DOTALL)
        for block in blocks:
            for line in block.replace("\\\n", " ").splitlines():
                command = re.sub(r"\s+#.*$", "", line).strip()
                command = re.sub(r"^(srun|(\w+=\S+\s+)+)", "", command).strip()
                if command.startswith(PROGRAMS):
                    found.append((path.name, " ".join(command.split())))
    return found


COMMANDS = documented_commands()


def is_synopsis(command: str) -> bool:
    """A line with ``[optional]`` parts or ``...``: a synopsis, not a command to paste."""
    return "[" in command or "..." in command


def has_placeholder(tokens: list[str]) -> bool:
    """An upper-case placeholder such as ``CONFIG``, ``CKPT``, ``S1.tif``."""
    return any(re.fullmatch(r"[A-Z][A-Z0-9_]+(\.\w+)?/?", t.split("=")[-1]) for t in tokens)


def subcommand_parser(name: str) -> tuple[argparse.ArgumentParser, object]:
    module = importlib.import_module(f"axion_terratorch.cli.{SUBCOMMANDS[name][0]}")
    parser = argparse.ArgumentParser(prog=f"axion-stage3 {name}", exit_on_error=False)
    module.add_arguments(parser)
    return parser, module


def parse(tokens: list[str]) -> tuple[str, argparse.Namespace]:
    """Parse ``axion-stage3`` arguments as :func:`axion_terratorch.cli.main` does."""
    known, rest = build_parser().parse_known_args(tokens)
    parser, module = subcommand_parser(known.command)
    args, extra = parser.parse_known_args(rest)
    if getattr(module, "PASSTHROUGH", False):
        assert all(e.startswith(("--trainer.", "--model.", "--data.")) for e in extra), extra
    else:
        assert not extra, f"unknown arguments {extra}"
    args.passthrough = extra
    return known.command, args


def test_the_docs_show_commands():
    programs = {command.split()[0] for _, command in COMMANDS}
    assert {"axion-stage3", "terratorch", "python", "make", "pip"} <= programs
    assert sum(command.startswith("axion-stage3") for _, command in COMMANDS) >= 15


def runnable(command: str) -> bool:
    """Every command but a ``terratorch`` synopsis or placeholder line (``axion-stage3`` synopses are
    parsed with every optional part in; benchmark lines are checked for their flags)."""
    tokens = shlex.split(command)
    if command.startswith(("axion-stage3", "python benchmarks/", "make ", "pip ", ".venv/")):
        return True
    return not (is_synopsis(command) or (command.startswith("terratorch") and has_placeholder(tokens)))


RUNNABLE = [(doc, command) for doc, command in COMMANDS if runnable(command)]


def missing_inputs(name: str, args: argparse.Namespace) -> list[str]:
    """What a documented ``axion-stage3`` command needs that this checkout lacks (the reader's files)."""
    needed = [
        getattr(args, key, None)
        for key in ("checkpoint", "s1", "optical", "grounded", "data", "run_dir", "resume", "baseline")
    ]
    needed += list(getattr(args, "compare", None) or [])
    if name == "train":
        needed.append(args.data_dir or "tiles")  # the shipped lowvr configs' data root
    return [str(path) for path in needed if path is not None and not Path(path).exists()]


def assert_fails_fast(tokens: list[str], missing: list[str], capsys) -> None:
    """Run as written: exit status 2 within :data:`FAIL_FAST` s, one stderr line naming a missing input."""
    start = time.perf_counter()
    status = main(tokens[1:])
    elapsed = time.perf_counter() - start
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2, f"exit status {status}, expected 2 (input error): {err}"
    assert elapsed < FAIL_FAST, f"took {elapsed:.1f} s to refuse missing {missing}"
    assert len(err) == 1, f"expected one line, got {len(err)}: {err}"
    assert any(path.rstrip("/") in err[0] for path in missing), f"{err[0]!r} names none of {missing}"


def pretrained_weights(printed: str) -> list[str]:
    """terratorch names of the TerraMind weights a resolved config downloads (none when not pretrained)."""
    model = re.search(r"variant: (\w+)\s", printed)
    if model is None or not re.search(r"\bpretrained: true", printed):
        return []
    return [f"terramind_v1_{model.group(1)}"]


@pytest.mark.parametrize(("doc", "command"), RUNNABLE, ids=[f"{d}:{c[:60]}" for d, c in RUNNABLE])
def test_documented_command_runs_as_written(doc, command, monkeypatch, capsys):
    monkeypatch.chdir(REPO)  # the docs' paths are relative to the checkout
    tokens = shlex.split(command)
    for token in tokens:
        if token.startswith(("configs/", "examples/", "benchmarks/")) and not token.endswith(".json"):
            assert Path(token).exists(), f"{doc}: {token} does not exist"
    if command.startswith("make "):
        targets = re.findall(r"^([\w-]+):", Path("Makefile").read_text(), flags=re.MULTILINE)
        assert tokens[1] in targets, f"{doc}: the Makefile has no target {tokens[1]}"
        return
    if command.startswith("pip install"):
        project = tomllib.loads(Path("pyproject.toml").read_text())["project"]
        for token in tokens[2:]:
            name, _, extra = token.partition("[")
            assert name in (project["name"], "-e", "."), f"{doc}: pip installs {name}, not {project['name']}"
            assert not extra or extra.rstrip("]") in project["optional-dependencies"], (
                f"{doc}: no extra {extra}"
            )
        return
    if command.startswith(".venv/bin/python -m pytest"):
        for token in (t for t in tokens[3:] if t.startswith("tests/")):
            assert Path(token).exists(), f"{doc}: {token} does not exist"
        return
    if command.startswith("python benchmarks/"):
        source = Path(tokens[1]).read_text()
        for flag in (t for t in tokens[2:] if t.startswith("--")):
            assert f'"{flag}"' in source, f"{doc}: {tokens[1]} takes no {flag}"
        return
    if command.startswith("axion-stage3") and is_synopsis(command):
        # every optional part in, the first of each a|b|c choice
        plain = shlex.split(re.sub(r"[\[\]]", " ", command).replace("...", " "))
        parse([token.split("|")[0] for token in plain[1:]])
        return
    if command.startswith("terratorch fit"):
        with pytest.raises(SystemExit) as done:
            build_lightning_cli([*tokens[1:], "--print_config"])
        assert done.value.code in (0, None)
        printed = capsys.readouterr().out
        assert "class_path" in printed
        weights = pretrained_weights(printed)
        if weights and not all(is_cached(name) for name in weights):
            monkeypatch.setenv("HF_HUB_OFFLINE", "1")
            start = time.perf_counter()
            with pytest.raises(SystemExit) as refused:
                build_lightning_cli(tokens[1:])
            elapsed = time.perf_counter() - start
            message = str(refused.value.code)
            assert elapsed < FAIL_FAST, f"{doc}: took {elapsed:.1f} s to refuse the download offline"
            assert message.startswith("terratorch fit: error: "), message
            assert "\n" not in message, message
            assert "cannot download TerraMind's pretrained weights" in message, message
            assert all(name in message for name in weights), message
            assert "pretrained: false" in message, message
        return
    name, args = parse(tokens[1:])
    cheap = name == "train" and (args.smoke or args.print_config or args.validate_config)
    missing = [] if cheap or name == "memory-report" else missing_inputs(name, args)
    if missing:
        assert_fails_fast(tokens, missing, capsys)
    elif has_placeholder(tokens):
        return  # the reader's own files are here: parsed; its run is the command's own tests
    elif name == "memory-report":
        _, settings = resolve_settings(args)
        assert settings["tile_size"] > 0
    elif name == "train" and args.resume is None:
        extra = ["--smoke"] if args.validate_config else [] if args.print_config else ["--print-config"]
        assert main([*tokens[1:], *extra]) == 0
        capsys.readouterr()


def test_readme_python_example_runs_offline(tmp_path, monkeypatch, capsys, recwarn):
    """The README's Python example as written, with no network: random weights, nothing downloaded,
    nothing said about downloads (no LPIPS weights in the torch hub folder)."""
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    (example,) = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), flags=re.DOTALL)
    namespace: dict[str, object] = {}
    exec(compile(example, "README.md", "exec"), namespace)  # noqa: S102 - the documented example itself
    grounded = namespace["grounded"]
    assert grounded.shape == namespace["optical_reflectance"].shape
    assert capsys.readouterr() == ("", "")
    assert not [w for w in recwarn.list if "download" in str(w.message).lower()]
    assert not (tmp_path / "hub").exists()


def test_documented_environment_variables_are_read():
    """Every ``AXION_*`` variable a documented command sets is read by the code or the tests."""
    documented = {var for path in DOCS for var in re.findall(r"\b(AXION_[A-Z_]+)=", path.read_text())}
    sources = " ".join(
        p.read_text() for p in [*REPO.glob("tests/**/*.py"), *REPO.glob("axion_terratorch/**/*.py")]
    )
    assert documented, "the docs set no AXION_* variable"
    for var in documented:
        assert var in sources, f"{var} is documented but read nowhere"
