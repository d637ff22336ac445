"""Every command in README.md and docs/*.md runs as written, reduced where running it whole is a job.

Commands are read from the ```bash blocks. How each is run here:

* ``axion-stage3 ...``: parsed by the real command line (an unknown flag or a missing argument
  fails), every ``configs/`` or ``examples/`` path it names exists; then, reduced:
  ``train`` resolves its config with ``--print-config`` (the training itself: the ``--smoke`` run of
  every shipped config in ``tests/cli/test_train_smoke.py``; ``--validate-config`` builds with
  ``--smoke``), ``memory-report`` resolves its settings from the config (the measured step at test
  size is ``tests/cli/test_axion_stage3_memory_report.py``). Commands on placeholder files
  (``CKPT``, ``S1.tif``) are parsed only; their runs are the tests of each command.
* ``terratorch fit -c ...``: LightningCLI resolves the config with ``--print_config``.
* ``python benchmarks/<script>.py``: the script exists and takes every flag shown.

Lines with ``[optional]`` synopsis brackets, ``...`` or an upper-case placeholder (``CONFIG``) and
``make`` targets are skipped; a ``--resume`` needs a checkpoint of that run and is parsed only.
"""

import argparse
import importlib
import re
import shlex
from pathlib import Path

import pytest
import torch
from terratorch.cli_tools import build_lightning_cli

from axion_terratorch.cli import SUBCOMMANDS, build_parser, main
from axion_terratorch.cli.memory_report import resolve_settings

from run_configs import REPO

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
PROGRAMS = ("axion-stage3 ", "terratorch fit ", "python benchmarks/")


def documented_commands() -> list[tuple[str, str]]:
    """``(file, command)`` of every command line in the ```bash blocks, continuations joined."""
    found = []
    for path in DOCS:
        blocks = re.findall(r"```bash\n(.*?)```", path.read_text(), flags=re.DOTALL)
        for block in blocks:
            for line in block.replace("\\\n", " ").splitlines():
                command = re.sub(r"\s+#.*$", "", line).strip()
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
    assert programs == {"axion-stage3", "terratorch", "python"}
    assert sum(command.startswith("axion-stage3") for _, command in COMMANDS) >= 15


def runnable(command: str) -> bool:
    """Every command but a ``terratorch`` synopsis or placeholder line (``axion-stage3`` synopses are
    parsed with every optional part in; benchmark lines are checked for their flags)."""
    tokens = shlex.split(command)
    if command.startswith(("axion-stage3", "python benchmarks/")):
        return True
    return not (is_synopsis(command) or (command.startswith("terratorch") and has_placeholder(tokens)))


RUNNABLE = [(doc, command) for doc, command in COMMANDS if runnable(command)]


@pytest.mark.parametrize(("doc", "command"), RUNNABLE, ids=[f"{d}:{c[:60]}" for d, c in RUNNABLE])
def test_documented_command_runs_as_written(doc, command, monkeypatch, capsys):
    monkeypatch.chdir(REPO)  # the docs' paths are relative to the checkout
    tokens = shlex.split(command)
    for token in tokens:
        if token.startswith(("configs/", "examples/", "benchmarks/")) and not token.endswith(".json"):
            assert Path(token).exists(), f"{doc}: {token} does not exist"
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
        assert "class_path" in capsys.readouterr().out
        return
    name, args = parse(tokens[1:])
    if has_placeholder(tokens):
        return  # a command on the reader's own files: parsed; its run is the command's own tests
    if name == "memory-report":
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
