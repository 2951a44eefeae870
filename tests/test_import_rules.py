"""The package's import rules (written in ``ntkpaper/__init__.py``), read from the source."""

import ast
from pathlib import Path

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


def module_name(path: Path) -> str:
    rel = path.relative_to(REPO).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports(path: Path):
    """(imported module, names imported from it, line) for every ntkpaper import in a file."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, [], node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, [a.name for a in node.names], node.lineno


def package_files():
    return sorted(ROOT.rglob("*.py"))


def test_every_module_has_a_layer():
    for path in package_files():
        layer_of(module_name(path))


def test_layers_import_only_what_they_may():
    bad = []
    for path in package_files():
        me = module_name(path)
        mine = layer_of(me)
        for mod, names, line in imports(path):
            if not mod.startswith("ntkpaper"):
                continue
            targets = [mod] if mod != "ntkpaper" else [f"ntkpaper.{n}" for n in names]
            if mod != "ntkpaper" and names:  # from ntkpaper.pkg import submodule
                targets = [f"{mod}.{n}" if (ROOT / Path(*mod.split(".")[1:]) / f"{n}.py")
                           .exists() else mod for n in names]
            for t in targets:
                theirs = layer_of(t)
                if theirs not in ntkpaper.ALLOWED[mine] | ({"experiments"} if False else set()):
                    bad.append(f"{path.relative_to(REPO)}:{line} ({mine}) imports {t} "
                               f"({theirs})")
                if mine == "experiments" and theirs == "experiments" and t != me:
                    bad.append(f"{path.relative_to(REPO)}:{line} imports another notebook's "
                               f"module {t}")
    assert not bad, "import rules broken:\n" + "\n".join(bad)


def test_experiments_never_import_each_other():
    for path in (ROOT / "experiments").glob("nb*.py"):
        for mod, names, line in imports(path):
            assert not (mod.startswith("ntkpaper.experiments") and mod != module_name(path)), (
                f"{path.name}:{line} imports {mod}")
            assert not (mod == "ntkpaper.experiments" and names), f"{path.name}:{line}"


def test_only_nt_imports_neural_tangents():
    files = package_files() + sorted((REPO / "notebooks").glob("*.py")) + sorted(
        (REPO / "benchmarks").glob("*.py"))
    offenders = [f"{p.relative_to(REPO)}:{line}" for p in files for mod, _, line in imports(p)
                 if mod.split(".")[0] == "neural_tangents" and p != ROOT / "nt.py"]
    assert not offenders, offenders


def _aliases(tree) -> dict[str, str]:
    """Local names bound to ntkpaper modules in a file."""
    out = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("ntkpaper"):
                    out[a.asname or a.name.split(".")[0]] = a.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(
                "ntkpaper"):
            for a in node.names:
                out[a.asname or a.name] = f"{node.module}.{a.name}"
    return out


def test_no_private_name_is_used_outside_its_module():
    files = package_files() + sorted((REPO / "notebooks").glob("*.py")) + sorted(
        (REPO / "benchmarks").glob("*.py"))
    bad = []
    for path in files:
        tree = ast.parse(path.read_text())
        aliases = _aliases(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(
                    "ntkpaper"):
                bad += [f"{path.relative_to(REPO)}:{node.lineno} imports {node.module}.{a.name}"
                        for a in node.names if a.name.startswith("_")
                        and not (ROOT / f"{a.name}.py").exists()]
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in aliases and node.attr.startswith("_")
                    and not node.attr.startswith("__")):
                bad.append(f"{path.relative_to(REPO)}:{node.lineno} uses "
                           f"{aliases[node.value.id]}.{node.attr}")
    assert not bad, "private names used outside their module:\n" + "\n".join(bad)


def test_the_rules_test_catches_a_violation(tmp_path):
    """The checks above are not vacuous: a science module importing the pipeline is caught."""
    assert "pipeline" not in ntkpaper.ALLOWED["science"]
    assert layer_of("ntkpaper.pipeline.runner") == "pipeline"
    assert layer_of("ntkpaper.experiments.nb02_mup_feature_learning") == "experiments"
    src = tmp_path / "m.py"
    src.write_text("from ntkpaper import _io\nfrom ntkpaper.kernels import _pad_rows\n")
    assert [n for _, n, _ in imports(src)] == [["_io"], ["_pad_rows"]]
