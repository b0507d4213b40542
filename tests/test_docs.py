"""The documentation builds, documents every public method, and its examples run.

- `mkdocs build --strict` passes (mkdocs.yml turns a page missing from `nav` and broken links
  into warnings, so into failures).
- Every concrete class exported by a documented subpackage appears, as its constructor call
  `Name(`, on a page of that subpackage's docs folder (the index page does not count).
- Every ```python block of every page runs, the blocks of one page in order in one namespace,
  in a temporary working directory. Blocks meant to be read, not run (signatures), use ```py.
- The docstring examples of every xplique module pass as doctests.
"""

import doctest
import importlib
import inspect
import os
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import xplique

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

#: (subpackage, docs folder) pairs: each public class of the subpackage needs a page there.
DOCUMENTED = [
    ("xplique.attributions", "attributions"),
    ("xplique.attributions.lrp", "attributions"),
    ("xplique.metrics", "metrics"),
    ("xplique.example_based", "example_based"),
    ("xplique.features_visualizations", "features_visualizations"),
    ("xplique.concepts", "concepts"),
]

#: Module prefix -> optional dependency its docstring examples need (skipped without it).
OPTIONAL_DEPENDENCIES = {
    "xplique.wrappers": "torch",
}

#: Docs page -> optional dependency its examples need (skipped without it).
PAGE_DEPENDENCIES = {
    "wrappers.md": "torch",
}

PYTHON_BLOCK = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.DOTALL | re.MULTILINE)


def _pages():
    return sorted(DOCS.rglob("*.md"))


def _page_id(path):
    return str(path.relative_to(DOCS))


def test_mkdocs_builds_strict(tmp_path):
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    completed = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=300, check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert (tmp_path / "index.html").exists()
    assert (tmp_path / "conventions" / "index.html").exists()


def _public_classes(package_name):
    package = importlib.import_module(package_name)
    for name in package.__all__:
        value = getattr(package, name)
        if inspect.isclass(value) and not inspect.isabstract(value):
            yield name


@pytest.mark.parametrize(
    "package_name, name",
    [
        pytest.param(package_name, name, id=name)
        for package_name, _ in DOCUMENTED
        for name in _public_classes(package_name)
    ],
)
def test_every_public_class_has_a_page(package_name, name):
    folder = dict(DOCUMENTED)[package_name]
    pages = [p for p in sorted((DOCS / folder).glob("*.md")) if p.name != "index.md"]
    documented_on = [p.name for p in pages if f"{name}(" in p.read_text(encoding="utf-8")]
    assert documented_on, (
        f"{package_name}.{name} has no page in docs/{folder}/ showing its constructor "
        f"`{name}(...)`: add one (and a line in mkdocs.yml nav)"
    )


def test_abstract_bases_are_not_counted():
    from xplique.attributions import BlackBoxExplainer, WhiteBoxExplainer

    assert inspect.isabstract(BlackBoxExplainer) and inspect.isabstract(WhiteBoxExplainer)
    assert "Saliency" in set(_public_classes("xplique.attributions"))


@pytest.mark.parametrize("page", [pytest.param(p, id=_page_id(p)) for p in _pages()])
def test_page_examples_run(page, tmp_path, monkeypatch):
    blocks = PYTHON_BLOCK.findall(page.read_text(encoding="utf-8"))
    if not blocks:
        pytest.skip("no ```python block")
    if _page_id(page) in PAGE_DEPENDENCIES:
        pytest.importorskip(PAGE_DEPENDENCIES[_page_id(page)])
    monkeypatch.chdir(tmp_path)  # files an example writes land in a temporary folder
    namespace = {"__name__": f"docs_{page.stem}"}
    for number, block in enumerate(blocks, start=1):
        code = compile(block, f"{_page_id(page)} (python block {number})", "exec")
        exec(code, namespace)  # noqa: S102 - the docs' own examples


def _modules():
    names = [xplique.__name__]
    for info in pkgutil.walk_packages(xplique.__path__, prefix="xplique."):
        names.append(info.name)
    return sorted(names)


@pytest.mark.parametrize("module_name", _modules())
def test_docstring_examples(module_name):
    for prefix, dependency in OPTIONAL_DEPENDENCIES.items():
        if module_name.startswith(prefix):
            pytest.importorskip(dependency)
    module = importlib.import_module(module_name)
    tests = doctest.DocTestFinder().find(module, module_name)
    tests = [test for test in tests if test.examples]
    if not tests:
        pytest.skip("no docstring examples")
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in tests:
        runner.run(test)
    results = runner.summarize(verbose=False)
    assert results.failed == 0, f"{results.failed} of {results.attempted} examples failed"
