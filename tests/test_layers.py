"""The package's layers import one way: read from the source (ast), so a wrong import fails here
before it forms a cycle."""

import ast
from pathlib import Path

import pytest

import axion_terratorch

PACKAGE = Path(axion_terratorch.__file__).parent
NAME = "axion_terratorch"

#: The rooms above training: checkpoints (load, select, export) < inference (grounding scenes) <
#: evaluation (scores and reports); what trains, and the top modules every room shares, import none.
ROOMS = ("checkpoints", "inference", "evaluation")
TRAINING = ("tasks", "models", "losses", "metrics", "datamodules", "datasets", "functional", "compat")
TOP_MODULES = tuple(path.name for path in PACKAGE.glob("*.py") if path.name != "__init__.py")
#: (folders the rule applies to, or None for all but ``excepted``; forbidden package; excepted folder)
RULES = [
    (("metrics",), "losses", None),
    (("losses",), "metrics", None),
    *(((*TRAINING, *TOP_MODULES), room, None) for room in ROOMS),
    (("checkpoints",), "inference", None),
    (("checkpoints", "inference"), "evaluation", None),
    (None, "cli", "cli"),
]


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports (at any depth, relative imports resolved); ``from a import b``
    counts as ``a.b`` too, as ``b`` may be a module."""
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def violations() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        folder = path.relative_to(PACKAGE).parts[0]
        modules = imported_modules(path)
        for folders, forbidden, excepted in RULES:
            applies = folder != excepted if folders is None else folder in folders
            target = f"{NAME}.{forbidden}"
            bad = sorted(m for m in modules if m == target or m.startswith(f"{target}."))
            if applies and bad:
                found.append(f"{path.relative_to(PACKAGE.parent)} imports {', '.join(bad)}")
    return found


def test_imports_follow_the_layers():
    assert violations() == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from axion_terratorch.inference.scene import x", "axion_terratorch.inference.scene"),
        ("from axion_terratorch import inference", "axion_terratorch.inference"),
        ("from ..inference import scene", "axion_terratorch.inference.scene"),
        ("import axion_terratorch.cli.errors", "axion_terratorch.cli.errors"),
    ],
)
def test_every_import_form_is_seen(tmp_path, monkeypatch, source, expected):
    folder = tmp_path / NAME / "tasks"
    folder.mkdir(parents=True)
    (folder / "probe.py").write_text(f"def f():\n    {source}\n")
    monkeypatch.setattr(f"{__name__}.PACKAGE", tmp_path / NAME)
    assert expected in imported_modules(folder / "probe.py")


@pytest.mark.parametrize(
    ("module", "source", "allowed"),
    [
        ("inference/probe.py", "from axion_terratorch.evaluation import evaluate", False),
        ("checkpoints/probe.py", "from axion_terratorch.inference.scene import ground_scene", False),
        ("tasks/probe.py", "from axion_terratorch.checkpoints import load_model", False),
        ("output_files.py", "import axion_terratorch.inference", False),
        ("evaluation/probe.py", "from axion_terratorch.inference.quality import QualityCheck", True),
        ("inference/probe.py", "from axion_terratorch.checkpoints import load_model", True),
    ],
)
def test_rooms_import_downward_only(tmp_path, monkeypatch, module, source, allowed):
    path = tmp_path / NAME / module
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{source}\n")
    monkeypatch.setattr(f"{__name__}.PACKAGE", tmp_path / NAME)
    assert (violations() == []) is allowed
