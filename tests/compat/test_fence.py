"""No module outside ``axion_terratorch/compat`` reaches into another library's internals."""

import ast
from pathlib import Path

import axion_terratorch

PACKAGE = Path(axion_terratorch.__file__).parent
#: Attributes of terratorch's TerraMind and Lightning's loops that only the fence may read.
INTERNAL_ATTRIBUTES = {
    "fit_loop",
    "epoch_loop",
    "batch_progress",
    "forward_mask_encoder_generation",
    "encoder_embeddings",
    "decoder_embeddings",
    "decoder_proj_context",
    "forward_encoder",
    "forward_decoder",
    "mask_token",
    "mod_name_mapping",
    "codebook",
    "noise_scheduler",
}
#: Modules (and their submodules) only the fence may import.
INTERNAL_MODULES = (
    "terratorch.registry",
    "terratorch.models.backbones",
    "lightning.pytorch.loops",
    "lightning.pytorch.trainer.connectors",
    "lightning.fabric.utilities.cloud_io",
    "jsonargparse.typing",
)
#: ``_``-prefixed members of other libraries that may be used outside the fence, and why.
ALLOWED_PRIVATE = {
    # torch's documented override point of nn.Module.load_state_dict (residual_grounding.py).
    "_load_from_state_dict",
}


def _is_private_module(name: str) -> bool:
    return any(part.startswith("_") and not part.startswith("__") for part in name.split("."))


def _violations(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        line = f"{path.relative_to(PACKAGE.parent)}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.ImportFrom | ast.Import):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            for name in names:
                if name.startswith(INTERNAL_MODULES) or (
                    not name.startswith("axion_terratorch") and _is_private_module(name)
                ):
                    found.append(f"{line} imports {name}")
        elif isinstance(node, ast.Attribute):
            if node.attr in INTERNAL_ATTRIBUTES or "REGISTRY" in node.attr:
                found.append(f"{line} reads .{node.attr}")
            owner = node.value
            own = isinstance(owner, ast.Name) and owner.id in ("self", "cls")
            private = node.attr.startswith("_") and not node.attr.startswith("__")
            if private and not own and node.attr not in ALLOWED_PRIVATE:
                found.append(f"{line} reads private .{node.attr}")
    return found


def test_internals_are_read_only_in_the_compat_package():
    fence = PACKAGE / "compat"
    violations = [
        v for path in sorted(PACKAGE.rglob("*.py")) if fence not in path.parents for v in _violations(path)
    ]
    assert not violations, "read these through axion_terratorch.compat:\n" + "\n".join(violations)
