"""A callable run in a child forked from the test process: a real process to signal, at no import cost."""

import multiprocessing
import os
import sys
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from pathlib import Path

import torch


def forked(target: Callable[..., object], *args: object, stderr: Path | None = None) -> BaseProcess:
    """Start ``target(*args)`` in a child forked from this process; return the started child.

    Tests that kill or interrupt a running command need a process of its own, but a fresh
    interpreter pays the import of terratorch again (~15 s); a fork of the pytest process starts
    with everything imported. The child exits as a script ending in ``sys.exit(target(*args))``
    (an uncaught exception: exit 1 and its traceback on stderr); its stdout goes to ``os.devnull``,
    its stderr to the file ``stderr`` (``os.devnull`` if ``None``). ``multiprocessing`` ends the
    child with ``os._exit`` in a ``finally``, so it never returns into pytest.

    The child runs torch on one thread: the OpenMP worker threads of the parent do not exist in a
    fork, and a parallel region waits for them forever. A test comparing the child's numbers with
    the parent's runs the parent on one thread too (the ``one_torch_thread`` fixture), as under
    ``pytest -n 2``.
    """
    child = multiprocessing.get_context("fork").Process(
        target=_run, args=(target, args, str(stderr or os.devnull))
    )
    child.start()
    return child


def _run(target: Callable[..., object], args: tuple[object, ...], stderr: str) -> None:
    """The child's body: one torch thread, then file descriptors 1 and 2 and ``sys.stdout``/
    ``sys.stderr`` (pytest's capture, inherited) replaced before ``target`` runs."""
    torch.set_num_threads(1)
    for fd, path in ((1, os.devnull), (2, stderr)):
        file = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(file, fd)
        os.close(file)
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115 - for the child's lifetime
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    sys.exit(target(*args))
