"""The API reference: every cross-reference in a docstring (``:func:`x```, ``:class:``, ``:mod:``,
``:data:``, ``:meth:``, ``:attr:``, ``:exc:``) names an object that exists. ``make docs`` renders
the same docstrings with pdoc; a broken reference there would be a dead link."""

import importlib
import inspect
import pkgutil
import re

import pytest

import ntkpaper

ROLE = re.compile(r":(?:func|class|mod|data|meth|attr|obj|exc):`~?!?([^`<]+?)`")
SKIP = {"ntkpaper.__main__"}  # runs the command line when imported


def _modules():
    names = ["ntkpaper"]
    for info in pkgutil.walk_packages(ntkpaper.__path__, "ntkpaper."):
        if info.name not in SKIP:
            names.append(info.name)
    return names


def _docstrings(module):
    """(where, docstring, namespaces to resolve relative names in) of a module's own objects."""
    yield module.__name__, module.__doc__ or "", [vars(module)]
    for name, obj in vars(module).items():
        if getattr(obj, "__module__", None) != module.__name__:
            continue
        if inspect.isfunction(obj):
            yield f"{module.__name__}.{name}", obj.__doc__ or "", [vars(module)]
        elif inspect.isclass(obj):
            spaces = [vars(obj), vars(module)]
            yield f"{module.__name__}.{name}", obj.__doc__ or "", spaces
            for attr, member in vars(obj).items():
                doc = getattr(member, "__doc__", None) if callable(member) or isinstance(
                    member, (property, staticmethod, classmethod)) else None
                if doc:
                    yield f"{module.__name__}.{name}.{attr}", doc, spaces


def _resolves(target: str, spaces, module: str) -> bool:
    if target.startswith("."):  # relative to the module's package
        package = module if module.count(".") == 0 or _is_package(module) else \
            module.rsplit(".", 1)[0]
        target = package + target
    head, *rest = target.split(".")
    for space in spaces:  # relative: a name in the module (or class), then attributes
        if head in space:
            obj = space[head]
            try:
                for part in rest:
                    obj = getattr(obj, part)
                return True
            except AttributeError:
                pass
    parts = target.split(".")
    for i in range(len(parts), 0, -1):  # absolute: the longest importable prefix, then attributes
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        try:
            for part in parts[i:]:
                obj = getattr(obj, part)
            return True
        except AttributeError:
            return False
    return False


def _is_package(name: str) -> bool:
    return hasattr(importlib.import_module(name), "__path__")


@pytest.mark.parametrize("name", _modules())
def test_docstring_references_resolve(name):
    module = importlib.import_module(name)
    broken = [f"{where}: {target}" for where, doc, spaces in _docstrings(module)
              for target in ROLE.findall(doc) if not _resolves(target, spaces, name)]
    assert not broken, "broken docstring references (fix the name or drop the role):\n" + \
        "\n".join(broken)
