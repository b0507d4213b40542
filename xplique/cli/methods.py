"""The attribution method named on the command line, and its constructor parameters.

Methods are discovered from `xplique.attributions.__all__`: every concrete subclass of
`BlackBoxExplainer` listed there is available (:func:`available_methods`), so new methods
appear without editing the command line. `--help` does not import TensorFlow: the parser reads
the method names from the source (:func:`method_names`). `--method` is matched
case-insensitively (:func:`find_method`) and `--param NAME=VALUE` / `--batch-size` become its
checked keyword arguments (:func:`method_and_parameters`).
"""

import argparse
import ast
import inspect
import os
import re
from typing import Dict, Optional

from xplique.cli.errors import CliError


def available_methods() -> Dict[str, type]:
    """Every concrete attribution method exported by `xplique.attributions`, by class name."""
    from xplique import attributions

    methods = {}
    for name in attributions.__all__:
        candidate = getattr(attributions, name)
        if (
            inspect.isclass(candidate)
            and issubclass(candidate, attributions.BlackBoxExplainer)
            and not inspect.isabstract(candidate)
        ):
            methods[name] = candidate
    return methods


def _base_name(node: ast.expr) -> Optional[str]:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _is_abstract_method(node: ast.AST) -> bool:
    return any(_base_name(decorator) == "abstractmethod"
               for decorator in getattr(node, "decorator_list", []))


def method_names() -> list:
    """The names :func:`available_methods` returns, read from the source of
    `xplique.attributions` without importing it (so without TensorFlow): `__all__` of its
    `__init__.py`, kept when the class derives from `BlackBoxExplainer` and leaves no abstract
    method unimplemented, as `inspect.isabstract` decides at run time."""
    package = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                           "attributions")
    classes = {}  # name -> (base names, methods defined, abstract methods declared)
    for folder, _, files in os.walk(package):
        for file_name in sorted(files):
            if not file_name.endswith(".py"):
                continue
            with open(os.path.join(folder, file_name), encoding="utf-8") as file:
                tree = ast.parse(file.read())
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef):
                    body = [item for item in node.body
                            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))]
                    classes.setdefault(node.name, (
                        [name for name in map(_base_name, node.bases) if name],
                        {item.name for item in body},
                        {item.name for item in body if _is_abstract_method(item)},
                    ))

    def ancestry(name, seen=()):
        """(derives from BlackBoxExplainer, abstract methods left unimplemented)."""
        if name not in classes or name in seen:
            return name == "BlackBoxExplainer", set()
        bases, defined, declared = classes[name]
        explainer, abstract = name == "BlackBoxExplainer", set()
        for base in bases:
            base_explainer, base_abstract = ancestry(base, seen + (name,))
            explainer, abstract = explainer or base_explainer, abstract | base_abstract
        return explainer, (abstract - defined) | declared

    with open(os.path.join(package, "__init__.py"), encoding="utf-8") as file:
        tree = ast.parse(file.read())
    exported = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "__all__" for target in node.targets
        ):
            exported = list(ast.literal_eval(node.value))
    names = []
    for name in exported:
        explainer, abstract = ancestry(name)
        if explainer and not abstract and name in classes:
            names.append(name)
    return names


def _normalise(name: str) -> str:
    return re.sub(r"[\s_\-]", "", name).lower()


def find_method(name: str) -> type:
    """The method called `name`, matched case-insensitively (`integrated_gradients` works)."""
    methods = available_methods()
    matches = [cls for key, cls in methods.items() if _normalise(key) == _normalise(name)]
    if not matches:
        raise CliError(f"unknown method {name!r}; available methods: {', '.join(methods)}")
    return matches[0]


def constructor_parameters(cls: type) -> Dict[str, inspect.Parameter]:
    """The named constructor parameters of a method, `model` excluded."""
    variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    return {
        name: parameter
        for name, parameter in inspect.signature(cls).parameters.items()
        if name != "model" and parameter.kind not in variadic
    }


def check_parameters(cls: type, params: Dict) -> None:
    """Raise a CliError naming the valid parameters if `params` has unknown names."""
    valid = constructor_parameters(cls)
    unknown = [name for name in params if name not in valid]
    if unknown:
        raise CliError(
            f"{cls.__name__} has no parameter {', '.join(map(repr, unknown))}; valid "
            f"parameters: {', '.join(valid)}"
        )


def parse_param(text: str):
    """Split `k=v`; `v` is a Python literal (`3`, `0.5`, `(2, 2)`, `None`), else a string."""
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not name.isidentifier():
        raise CliError(f"--param expects NAME=VALUE. Received: {text!r}")
    try:
        return name, ast.literal_eval(value)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return name, value


def method_and_parameters(args: argparse.Namespace):
    """The class named by `--method` and its checked constructor parameters (`--param k=v`
    and `--batch-size`), shared by `explain` and `explain-dataset`."""
    cls = find_method(args.method)
    params = dict(parse_param(text) for text in args.param)
    if args.batch_size is not None:
        if "batch_size" in params:
            raise CliError("give the batch size once, with --batch-size or --param batch_size=")
        params["batch_size"] = args.batch_size
    check_parameters(cls, params)
    return cls, params
