"""The package's import rules (written in ``ntkpaper/__init__.py``), read from the source.

:func:`violations` lists every broken rule of one file: imports across layers (absolute,
relative, or by ``importlib.import_module("ntkpaper....")``), one notebook's module importing
another's, neural_tangents imported outside ``nt.py``, and ``_private`` names of ntkpaper modules
used outside them (imported, or reached through an attribute chain such as
``ntkpaper.entk._x``). It is tested on small files that break each rule, then run on the tree.
"""

import ast
from pathlib import Path

import pytest

import ntkpaper

ROOT = Path(ntkpaper.__file__).parent
REPO = ROOT.parent


def layer_of(module: str) -> str:
    """``"ntkpaper.entk"`` -> ``"science"``; ``"ntkpaper.experiments.nb01_x"`` -> experiments."""
    parts = module.split(".")
    assert parts[0] == "ntkpaper", module
    if len(parts) == 1:
        return "base"
    for layer, names in ntkpaper.LAYERS.items():
        if parts[1] in names:
            return layer
    raise AssertionError(f"{module} is in no layer of ntkpaper.LAYERS: add it there")


def module_name(path: Path, root: Path = REPO) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_package(module: str, root: Path) -> bool:
    return (root / Path(*module.split(".")) / "__init__.py").exists()


def imported_modules(path: Path, me: str, root: Path = REPO):
    """(module, names imported from it, line) for every import of a file: relative imports are
    resolved against ``me``; ``importlib.import_module("x")`` with a literal counts as
    ``import x``."""
    tree = ast.parse(path.read_text())
    is_pkg = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, [], node.lineno
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = me.split(".")
                base = base[:len(base) - node.level + (1 if is_pkg else 0)]
                module = ".".join(base + ([module] if module else []))
            yield module, [a.name for a in node.names], node.lineno
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr == "import_module" and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            yield node.args[0].value, [], node.lineno


def _targets(module: str, names: list[str], root: Path) -> list[str]:
    """The ntkpaper modules an import statement reaches (``from pkg import sub`` -> pkg.sub)."""
    if not names:
        return [module]
    return [f"{module}.{n}" if _is_package(module, root) or (
        root / Path(*module.split(".")) / f"{n}.py").exists() else module for n in names]


def _chain(node: ast.Attribute) -> list[str]:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return parts[::-1]


def violations(path: Path, root: Path = REPO, in_package: bool = True) -> list[str]:
    """Every broken import rule in one file (see the module docstring)."""
    me = module_name(path, root) if in_package else ""
    mine = layer_of(me) if in_package else None
    where = path.relative_to(root)
    out, aliases = [], {}
    for module, names, line in imported_modules(path, me, root):
        if module.split(".")[0] == "neural_tangents" and me != "ntkpaper.nt":
            out.append(f"{where}:{line} imports neural_tangents (only ntkpaper/nt.py may)")
        if module.split(".")[0] != "ntkpaper":
            continue
        for n in names:
            if n.startswith("_") and not (root / Path(*module.split(".")) / f"{n}.py").exists():
                out.append(f"{where}:{line} imports the private name {module}.{n}")
        targets = _targets(module, names, root)
        for n, t in zip(names or [module.split(".")[-1]], targets):
            aliases[n] = t
        for t in targets if mine else []:
            theirs = layer_of(t)
            if mine == theirs == "experiments":
                if t not in (me, "ntkpaper.experiments"):
                    out.append(f"{where}:{line} imports another notebook's module {t}")
            elif theirs not in ntkpaper.ALLOWED[mine]:
                out.append(f"{where}:{line} ({mine}) imports {t} ({theirs})")
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute):
            chain = _chain(node)
            if chain and (chain[0] in aliases or chain[0] == "ntkpaper"):
                private = [c for c in chain[1:] if c.startswith("_") and not c.startswith("__")]
                if private:
                    out.append(f"{where}:{node.lineno} uses the private name "
                               f"{'.'.join(chain[:chain.index(private[0]) + 1])}")
    return sorted(set(out))


def _all_files():
    return (sorted(ROOT.rglob("*.py")), sorted((REPO / "notebooks").glob("*.py"))
            + sorted((REPO / "benchmarks").glob("*.py")))


def test_every_module_has_a_layer():
    for path in _all_files()[0]:
        layer_of(module_name(path))


def test_the_tree_keeps_the_rules():
    package, others = _all_files()
    found = [v for p in package for v in violations(p)]
    found += [v for p in others for v in violations(p, in_package=False)]
    assert not found, "import rules broken:\n" + "\n".join(found)


@pytest.mark.parametrize("module,source,expected", [
    ("kernels", "from ntkpaper.pipeline import runner\n", "(science) imports"),
    ("kernels", "import ntkpaper.pipeline.runner\n", "(science) imports"),
    ("kernels", "from .pipeline import runner\n", "(science) imports ntkpaper.pipeline.runner"),
    ("kernels", "from .experiments import nb01_x\n", "(science) imports"),
    ("kernels", "import importlib\nimportlib.import_module('ntkpaper.pipeline.session')\n",
     "imports ntkpaper.pipeline.session"),
    ("pipeline/runner", "from ntkpaper import kernels\n", "(pipeline) imports ntkpaper.kernels"),
    ("experiments/nb02_x", "from ntkpaper.experiments import nb01_x\n", "another notebook"),
    ("experiments/nb02_x", "from ntkpaper import entk\nentk._structured(1)\n",
     "private name entk._structured"),
    ("experiments/nb02_x", "import ntkpaper.entk\nntkpaper.entk._structured(1)\n",
     "private name ntkpaper.entk._structured"),
    ("experiments/nb02_x", "from ntkpaper.entk import _structured\n", "private name"),
    ("stats", "import neural_tangents\n", "only ntkpaper/nt.py"),
])
def test_each_rule_catches_its_violation(tmp_path, module, source, expected):
    pkg = tmp_path / "ntkpaper"
    for sub in ("pipeline", "experiments"):
        (pkg / sub).mkdir(parents=True)
        (pkg / sub / "__init__.py").write_text("")
        (pkg / sub / ("runner.py" if sub == "pipeline" else "nb01_x.py")).write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "pipeline" / "session.py").write_text("")
    for name in ("entk", "_io", "paths"):
        (pkg / f"{name}.py").write_text("")
    bad = pkg / f"{module}.py"
    bad.write_text(source)
    found = violations(bad, root=tmp_path)
    assert any(expected in v for v in found), found
    bad.write_text("from ntkpaper import _io, paths\n")  # allowed everywhere
    assert violations(bad, root=tmp_path) == []
