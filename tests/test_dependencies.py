"""The one-way dependencies of DESIGN.md: ``nn`` imports neither ``colorize``, ``agents`` nor
``report``; ``colorize`` takes only ``nn.backend`` from the engine (its benchmark scripts,
``bench_*.py``, may share the engine's benchmark and command-line helpers); and no runtime
module imports a pre-built machine-learning library."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FRAMEWORKS = {"sklearn", "skimage", "torch", "tensorflow", "jax", "autograd"}


def _imports(path):
    """Every module name ``path`` imports (``from a.b import c`` gives ``a.b``), at any depth."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module)
    return names


def _modules(package, benchmarks=False):
    return [p for p in sorted((ROOT / package).rglob("*.py"))
            if benchmarks or not p.name.startswith("bench")]


def test_the_packages_are_found():
    # an empty glob would make every test below pass
    assert len(_modules("nn")) > 10 and len(_modules("colorize")) > 8 and len(_modules("agents")) > 5


@pytest.mark.parametrize("path", _modules("nn", benchmarks=True), ids=lambda p: p.name)
def test_the_engine_imports_no_domain_package(path):
    outside = {n for n in _imports(path) if n.split(".")[0] in {"colorize", "agents", "report"}}
    assert not outside, f"{path.relative_to(ROOT)} imports {sorted(outside)}"


@pytest.mark.parametrize("path", _modules("colorize"), ids=lambda p: p.name)
def test_the_image_domain_takes_only_the_backend_from_the_engine(path):
    engine = {n for n in _imports(path) if n.split(".")[0] == "nn" and n != "nn.backend"}
    upward = {n for n in _imports(path) if n.split(".")[0] in {"agents", "report"}}
    assert not engine and not upward, f"{path.relative_to(ROOT)} imports {sorted(engine | upward)}"


@pytest.mark.parametrize("path", _modules("nn") + _modules("colorize") + _modules("agents"),
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_prebuilt_learning_library_in_the_runtime_path(path):
    found = {n for n in _imports(path) if n.split(".")[0] in FRAMEWORKS}
    assert not found, f"{path.relative_to(ROOT)} imports {sorted(found)}"
