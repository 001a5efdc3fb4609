"""The package's layers point down: no module imports one from a higher layer (lazy imports in
functions included), and no modules import each other in a circle."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "licodec"

# Bottom to top. A module may import its own layer and those below it, never one above.
LAYERS: list[tuple[str, ...]] = [
    # torch-free foundations: errors, files, the format, the coder, images, metrics
    ("errors", "config", "files", "threads", "effort", "precision", "container", "rans", "format_tables",
     "latent_stream", "images", "metrics", "bdrate", "rate_control", "compressai_compat"),
    ("models",),  # the networks and their inference engine
    ("weights",),  # weights files and the shipped models
    ("", "api", "pillow"),  # the Python API ("" is the package itself: `import licodec`)
    ("batch", "entropy_map", "training"),  # many files at once; the training loop
    ("evaluation", "checks"),  # measurements and checks, over the API and training
    ("cli_params", "cli_research", "cli", "manpages", "__main__"),  # the command
]


def module_names() -> dict[str, Path]:
    names = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        parts = parts[:-1] if parts[-1] == "__init__" else parts
        names[".".join(parts)] = path
    return names


def imports(path: Path, names: dict[str, Path]) -> set[str]:
    """The licodec modules a file imports anywhere in it, as names relative to the package."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # `from licodec import container` imports the module licodec.container.
            targets = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}"[8:] in names else node.module
                       for alias in node.names]
        else:
            continue
        found.update(t[len("licodec."):] if t != "licodec" else "" for t in targets
                     if t == "licodec" or t.startswith("licodec."))
    return found & set(names)


def layer(module: str) -> int:
    top = module.split(".")[0] if module else ""
    for rank, members in enumerate(LAYERS):
        if top in members:
            return rank
    raise AssertionError(f"licodec.{module} is in no layer of tests/test_layout.py: give it one")


def graph() -> dict[str, set[str]]:
    names = module_names()
    return {name: imports(path, names) - {name} for name, path in names.items()}


def test_every_import_points_down_or_sideways():
    upward = [f"licodec.{a} (layer {layer(a)}) imports licodec.{b} (layer {layer(b)})"
              for a, targets in graph().items() for b in targets if layer(b) > layer(a)]
    assert upward == []


def test_no_modules_import_each_other_in_a_circle():
    edges = graph()
    edges.pop("", None)  # the package re-exports the API; `from licodec import x` means licodec.x
    state: dict[str, str] = {}
    cycle: list[str] = []

    def visit(node: str, path: list[str]) -> bool:
        state[node] = "open"
        for target in sorted(edges.get(node, ())):
            if state.get(target) == "open":
                cycle.extend(path[path.index(target):] + [target] if target in path else [node, target])
                return True
            if target not in state and visit(target, path + [target]):
                return True
        state[node] = "done"
        return False

    for start in sorted(edges):
        if start not in state and visit(start, [start]):
            break
    assert cycle == [], " -> ".join(f"licodec.{m}" for m in cycle)


@pytest.mark.parametrize("module", ["training.curves", "training.data", "models.codec"])
def test_the_layers_are_read_from_the_code(module):
    """The checks above see real imports (a guard against a parser that finds none)."""
    assert graph()[module]
