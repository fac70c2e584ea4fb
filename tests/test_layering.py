"""The folders are layers: each imports only the ones below it (lazy imports included), so
the golden model stands alone, the interface layer owns the streams and registers, and no
shipped code depends on test code."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# What each folder may import besides itself. scripts/ (the CLI) may import anything; only it
# and the tests reach testbench/.
ALLOWED = {
    "golden": set(),
    "interface": {"golden"},
    "rtl": {"golden", "interface"},
    "formal": {"golden", "interface", "rtl"},
    "synth": {"golden", "interface", "rtl"},
    "testbench": {"golden", "interface", "rtl"},
    "board": {"golden", "interface", "rtl", "synth"},
    "host": {"golden", "interface", "board"},
    "model": {"golden"},
}


def _imports(path: Path, folder: str):
    """``(line, folder)`` of every project import in a file, relative ones resolved."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                yield node.lineno, folder
                continue
            names = [node.module or ""]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "vrex" and len(parts) > 1:
                yield node.lineno, parts[1]


def _edges():
    for folder in ALLOWED | {"scripts": None}:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for line, target in _imports(path, folder):
                if target != folder:
                    yield folder, target, f"{path.relative_to(ROOT)}:{line}"


def test_each_folder_imports_only_the_layers_below_it():
    wrong = [f"{where}: {src} imports {dst}" for src, dst, where in _edges()
             if src in ALLOWED and dst not in ALLOWED[src]]
    assert not wrong, "\n".join(wrong)


def test_nothing_imports_the_cli():
    # scripts/ sits on top: a library module that imports it would close a cycle.
    wrong = [where for src, dst, where in _edges() if dst == "scripts"]
    assert not wrong, wrong


def test_the_rules_have_no_cycle():
    done = set()

    def visit(folder, path):
        assert folder not in path, f"cycle: {' -> '.join(path + [folder])}"
        if folder in done:
            return
        for below in ALLOWED.get(folder, ()):
            visit(below, path + [folder])
        done.add(folder)

    for folder in ALLOWED:
        visit(folder, [])
