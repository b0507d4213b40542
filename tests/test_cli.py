"""The command line: `demo` (every method on a digits CNN) and `explain` (one saved model)."""

import json
import os
import subprocess
import sys
import types

import keras
import numpy as np
import pytest
from matplotlib.image import imread

import xplique
from tests.conftest import make_inputs, make_model, one_hot
from xplique import attributions, demo
from xplique.attributions import BlackBoxExplainer, IntegratedGradients, Saliency, SmoothGrad
from xplique.cli import CliError, available_methods, find_method, main, method_names, parse_param
from xplique.demo import demo_parameters

# --------------------------------------------------------------------------- demo


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """One demo run (1 epoch, 2 digits) into a fresh cache; returns its folders and exit code."""
    cache = tmp_path_factory.mktemp("cache")
    out = tmp_path_factory.mktemp("demo")
    code = main(["demo", "--out", str(out), "--cache", str(cache), "--samples", "2",
                 "--epochs", "1"])
    with open(out / "summary.json", encoding="utf-8") as file:
        summary = json.load(file)
    return code, cache, out, summary


def test_demo_runs_every_discovered_method(demo_run):
    code, _, out, summary = demo_run
    assert code == 0, summary["failed"]
    assert set(summary["methods"]) == set(available_methods())
    for name, record in summary["methods"].items():
        assert record["error"] is None, name
        assert record["output_shape"] == [2, 8, 8, 1], name
        assert record["seconds"] >= 0.0
    assert summary["inputs"]["shape"] == [2, 8, 8, 1]
    assert 0.0 <= summary["model"]["test_accuracy"] <= 1.0
    assert summary["model"]["loaded_from_cache"] is False


def test_demo_grid_is_split_labelled_and_not_blank(demo_run):
    _, _, out, summary = demo_run
    figures = summary["figures"]
    # 21+ methods do not fit in 2000 px: several figures, every one within the limit
    assert len(figures) >= 2 and figures[0] == "attributions-1.png"
    assert not (out / "attributions.png").exists()
    for name in figures:
        image = imread(out / name)
        assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] <= 2000
        # Heatmaps and digits, not an empty canvas: the pixels vary a lot, in colour too.
        assert image[..., :3].std() > 0.1
        assert np.abs(image[..., 0] - image[..., 2]).max() > 0.5
    # the listed panels (none until their modules land) all ran
    assert list(summary["panels"]) == list(demo.PANELS) and summary["failed_panels"] == []


def test_demo_rows_name_true_and_predicted_class(monkeypatch, tmp_path, demo_run):
    captured = {}

    def spy(path, inputs, columns, row_labels=None):
        captured.update(inputs=inputs, columns=columns, row_labels=row_labels)
        return real(path, inputs, columns, row_labels)

    real = demo.save_grid
    monkeypatch.setattr(demo, "save_grid", spy)
    code = main(["demo", "--out", str(tmp_path), "--cache", str(demo_run[1]), "--samples", "3",
                 "--epochs", "1", "--methods", "GradientInput"])
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert code == 0 and summary["figures"] == ["attributions.png"]
    expected = [f"true {t}, pred {p}" for t, p in
                zip(summary["inputs"]["labels"], summary["inputs"]["predicted"])]
    assert captured["row_labels"] == expected
    assert list(captured["columns"]) == ["GradientInput"]


def test_demo_passes_seed_and_only_accepted_overrides(demo_run):
    _, _, _, summary = demo_run
    methods = available_methods()
    for name, record in summary["methods"].items():
        params = record["parameters"]
        accepted = set(demo_parameters(methods[name]))
        assert accepted <= set(params)
        assert ("seed" in params and params["seed"] == 0) == ("seed" in accepted)
    assert summary["methods"]["Saliency"]["parameters"]["output_layer"] == "logits"
    assert summary["methods"]["IntegratedGradients"]["parameters"]["steps"] == 32


def test_demo_reuses_the_cached_model(demo_run, tmp_path):
    _, cache, _, first = demo_run
    path = first["model"]["path"]
    mtime = os.path.getmtime(path)
    code = main(["demo", "--out", str(tmp_path), "--cache", str(cache), "--samples", "2",
                 "--epochs", "1", "--methods", "saliency"])
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert code == 0
    assert summary["model"]["loaded_from_cache"] is True
    assert summary["model"]["path"] == path and os.path.getmtime(path) == mtime
    assert summary["model"]["test_accuracy"] == first["model"]["test_accuracy"]
    assert list(summary["methods"]) == ["Saliency"]


class _Broken(BlackBoxExplainer):
    """A method added later by someone else, which fails on the demo."""

    def __init__(self, model, batch_size=32, operator=None, nb_samples=10, *, seed=None):
        self._setup(model, batch_size, operator)
        self.nb_samples, self.seed = nb_samples, seed

    def _explain_group(self, inputs, targets, first_input):
        raise ValueError("broken on purpose")


@pytest.fixture
def with_broken_method(monkeypatch):
    monkeypatch.setattr(attributions, "_Broken", _Broken, raising=False)
    monkeypatch.setattr(attributions, "__all__", attributions.__all__ + ["_Broken"])


def test_new_methods_are_discovered_and_failures_exit_non_zero(
    with_broken_method, demo_run, tmp_path
):
    methods = available_methods()
    assert methods["_Broken"] is _Broken
    assert "BlackBoxExplainer" not in methods and "WhiteBoxExplainer" not in methods
    assert demo_parameters(_Broken) == {"batch_size": 256, "seed": 0}

    cache = demo_run[1]
    code = main(["demo", "--out", str(tmp_path), "--cache", str(cache), "--samples", "2",
                 "--epochs", "1", "--methods", "_broken", "Saliency"])
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert code == 1
    assert summary["failed"] == ["_Broken"]
    assert summary["methods"]["_Broken"]["error"] == "ValueError: broken on purpose"
    assert summary["methods"]["Saliency"]["error"] is None
    assert imread(tmp_path / "attributions.png")[..., :3].std() > 0.1


# --------------------------------------------------------------------------- demo panels


def _fake_panel_module(name, panel):
    module = types.ModuleType(f"xplique.demo.{name}")
    module.TITLE = f"{name} title"
    module.panel = panel
    return module


@pytest.fixture
def fake_panels(monkeypatch):
    """Three panel modules: one that checks its context and draws, two that fail."""
    seen = {}

    def good(context):
        from matplotlib.figure import Figure

        seen["context"] = context
        figure = Figure(figsize=(3, 2))
        figure.subplots().imshow(context.inputs[0, ..., 0], cmap="gray")
        probabilities = np.asarray(context.model(context.inputs))
        return {"figure": figure,
                "summary": {"agree": bool(np.all(probabilities.argmax(-1) == context.predicted)),
                            "n": int(len(context.inputs))}}

    def broken(context):
        raise RuntimeError("panel broken on purpose")

    def unwritable(context):
        from matplotlib.figure import Figure

        return {"figure": Figure(), "summary": {"array": object()}}

    for name, panel in [("fake_good", good), ("fake_broken", broken),
                        ("fake_unwritable", unwritable)]:
        monkeypatch.setitem(sys.modules, f"xplique.demo.{name}", _fake_panel_module(name, panel))
    monkeypatch.setattr(demo, "PANELS", ("fake_good", "fake_broken", "fake_unwritable"))
    return seen


def test_demo_panels_are_drawn_saved_and_summarised(fake_panels, demo_run, tmp_path):
    code = main(["demo", "--out", str(tmp_path), "--cache", str(demo_run[1]), "--samples", "2",
                 "--epochs", "1", "--methods", "saliency"])
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert code == 1  # a failing panel fails the demo, like a failing method
    assert summary["failed"] == []
    assert summary["failed_panels"] == ["fake_broken", "fake_unwritable"]
    panels = summary["panels"]
    assert list(panels) == ["fake_good", "fake_broken", "fake_unwritable"]
    good = panels["fake_good"]
    assert good["title"] == "fake_good title" and good["error"] is None
    assert good["summary"] == {"agree": True, "n": 2}
    assert good["figure"] == "fake_good.png"
    assert imread(tmp_path / "fake_good.png")[..., :3].std() > 0.05
    assert panels["fake_broken"]["error"] == "RuntimeError: panel broken on purpose"
    assert panels["fake_unwritable"]["error"].startswith("TypeError")
    assert not (tmp_path / "fake_broken.png").exists()
    # the context: the trained model, the split data and the explained digits
    context = fake_panels["context"]
    x_train, x_test, y_train, y_test = demo.load_data()
    np.testing.assert_array_equal(context.x_train, x_train)
    np.testing.assert_array_equal(context.y_test, y_test)
    indices = summary["inputs"]["test_indices"]
    np.testing.assert_array_equal(context.inputs, x_test[indices])
    assert context.labels.tolist() == summary["inputs"]["labels"]
    assert context.predicted.tolist() == summary["inputs"]["predicted"]
    assert context.seed == 0 and context.model.name == "digits_cnn"


def test_listed_panels_are_demo_modules():
    import importlib

    for name in demo.PANELS:
        module = importlib.import_module(f"xplique.demo.{name}")
        assert isinstance(module.TITLE, str) and callable(module.panel), name


# --------------------------------------------------------------------------- explain


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A small image classifier saved as .keras, with inputs and targets as .npy files."""
    folder = tmp_path_factory.mktemp("explain")
    model = make_model("images", softmax=True)
    model.save(folder / "model.keras")
    inputs = make_inputs("images", 5)
    labels = np.array([0, 2, 1, 1, 0])
    np.save(folder / "inputs.npy", inputs)
    np.save(folder / "labels.npy", labels)
    np.save(folder / "one_hot.npy", one_hot(labels))
    model = keras.models.load_model(folder / "model.keras")
    return folder, model, inputs, labels


def _explain(folder, *extra, out="out.npy"):
    args = ["explain", "--model", str(folder / "model.keras"), "--inputs",
            str(folder / "inputs.npy"), "--out", str(folder / out), *extra]
    code = main(args)
    return code, (np.load(folder / out) if code == 0 else None)


@pytest.mark.parametrize(
    "method, options, cls, params",
    [
        ("saliency", [], Saliency, {}),
        ("integrated_gradients", ["--param", "steps=5", "--param", "output_layer=logits",
                                  "--batch-size", "4"],
         IntegratedGradients, dict(steps=5, output_layer="logits", batch_size=4)),
        ("SMOOTHGRAD", ["--param", "nb_samples=4", "--param", "seed=3", "--param", "noise=0.1"],
         SmoothGrad, dict(nb_samples=4, seed=3, noise=0.1)),
    ],
    ids=["saliency", "ig-params", "smoothgrad-seed"],
)
def test_explain_matches_the_method_called_directly(saved, method, options, cls, params):
    folder, model, inputs, labels = saved
    code, explanations = _explain(folder, "--method", method, "--targets",
                                  str(folder / "labels.npy"), *options)
    assert code == 0
    expected = np.asarray(cls(model, **params)(inputs, labels))
    np.testing.assert_array_equal(explanations, expected)


def test_explain_params_take_effect(saved):
    folder, *_ = saved
    targets = ["--targets", str(folder / "labels.npy")]
    _, logits = _explain(folder, "--method", "saliency", "--param", "output_layer=logits",
                         *targets, out="a.npy")
    _, probs = _explain(folder, "--method", "saliency", *targets, out="b.npy")
    assert not np.allclose(logits, probs)


def test_integer_and_one_hot_targets_agree_and_default_is_top_class(saved):
    folder, model, inputs, _ = saved
    _, from_indices = _explain(folder, "--method", "Saliency", "--targets",
                               str(folder / "labels.npy"), out="i.npy")
    _, from_one_hot = _explain(folder, "--method", "Saliency", "--targets",
                               str(folder / "one_hot.npy"), out="o.npy")
    _, from_top = _explain(folder, "--method", "Saliency", out="t.npy")
    top = np.argmax(model(inputs), axis=-1)
    np.testing.assert_array_equal(from_indices, from_one_hot)
    np.testing.assert_array_equal(from_top, np.asarray(Saliency(model)(inputs, top)))


def test_explain_plot(saved):
    folder, *_ = saved
    code, _ = _explain(folder, "--method", "saliency", "--plot", str(folder / "p.png"))
    assert code == 0
    assert imread(folder / "p.png")[..., :3].std() > 0.1


def test_explain_plot_labels_rows_and_uses_the_shared_colours(saved, monkeypatch):
    folder, model, inputs, labels = saved
    captured = {}
    real = demo.grid_figures

    def spy(inputs_, columns, row_labels=None):
        figures = real(inputs_, columns, row_labels)
        captured.update(row_labels=row_labels, figures=figures)
        return figures

    monkeypatch.setattr(demo, "grid_figures", spy)
    code, explanations = _explain(folder, "--method", "GradientInput", "--targets",
                                  str(folder / "one_hot.npy"), "--plot", str(folder / "g.png"))
    assert code == 0
    predicted = np.argmax(model(inputs), axis=-1)
    assert captured["row_labels"] == [f"target {t}, pred {p}" for t, p in zip(labels, predicted)]
    (figure,) = captured["figures"]
    heatmaps = [ax.get_images()[0] for ax in figure.axes[1::2] if ax.get_images()]
    assert len(heatmaps) == len(inputs)
    # Gradient x Input is signed: diverging colours, limits symmetric around zero
    for heatmap in heatmaps:
        low, high = heatmap.get_clim()
        assert heatmap.get_cmap().name == "RdBu_r" and low == pytest.approx(-high)


def test_unsafe_model_needs_the_flag(tmp_path, capsys):
    inputs = keras.Input((4,))
    doubled = keras.layers.Lambda(lambda x: 2.0 * x)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(3)(doubled))
    model.save(tmp_path / "model.keras")
    data = make_inputs("tabular", 3)[:, :4]
    np.save(tmp_path / "inputs.npy", data)
    code, _ = _explain(tmp_path, "--method", "saliency")
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("xplique: error:") and "--unsafe" in err

    code, explanations = _explain(tmp_path, "--method", "saliency", "--unsafe")
    assert code == 0
    top = np.argmax(model(data), axis=-1)
    np.testing.assert_array_equal(explanations, np.asarray(Saliency(model)(data, top)))


@pytest.mark.parametrize(
    "options, message",
    [
        (["--method", "nope"], "available methods: Saliency"),
        (["--method", "saliency", "--param", "steps=3"], "valid parameters: output_layer"),
        (["--method", "saliency", "--param", "steps"], "NAME=VALUE"),
        (["--method", "integrated_gradients", "--param", "steps=1"], "`steps` must be"),
        (["--method", "saliency", "--param", "output_layer=nope"], "No layer named 'nope'"),
        (["--method", "saliency", "--targets", "missing.npy"], "targets file not found"),
        (["--method", "saliency", "--targets", "bad_targets.npy"], "one row per input"),
        (["--method", "saliency", "--inputs", "bad_inputs.npy"], "`inputs` must have shape"),
        (["--method", "saliency", "--model", "inputs.npy"], "cannot load model"),
        (["--method", "saliency", "--batch-size", "0"], "positive int"),
        ([], "--method"),
    ],
    ids=["method", "param-name", "param-syntax", "param-value", "layer", "missing-file",
         "targets-shape", "inputs-shape", "not-a-model", "batch-size", "required"],
)
def test_errors_are_one_line(saved, capsys, options, message):
    folder, *_ = saved
    np.save(folder / "bad_targets.npy", np.zeros((2, 3)))
    np.save(folder / "bad_inputs.npy", np.zeros((5, 4, 4, 3), "float32"))
    # Later options override the defaults of _explain (argparse keeps the last value).
    options = [str(folder / o) if o.endswith(".npy") else o for o in options]
    code, _ = _explain(folder, *options)
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("xplique: error:"), err
    assert message in err


def test_names_and_params_parsing():
    assert find_method("integrated_gradients") is IntegratedGradients
    assert find_method("SALIENCY") is Saliency and find_method("smooth-grad") is SmoothGrad
    assert parse_param("steps=16") == ("steps", 16)
    assert parse_param("noise=0.5") == ("noise", 0.5)
    assert parse_param("grid_size=(2, 3)") == ("grid_size", (2, 3))
    assert parse_param("output_layer=logits") == ("output_layer", "logits")
    assert parse_param("seed=None") == ("seed", None)
    with pytest.raises(CliError, match="NAME=VALUE"):
        parse_param("=3")


@pytest.mark.parametrize("command", ["demo", "explain"])
def test_help(command, capsys):
    assert main([command, "--help"]) == 0
    assert "--out" in capsys.readouterr().out


def _imported_modules(*argv):
    """Run `python -X importtime -m xplique *argv`; return (result, imported module names)."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "xplique", *argv],
        capture_output=True, text=True, timeout=120,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    imported = [line.split("|")[-1].strip() for line in result.stderr.splitlines()
                if line.startswith("import time:")]
    return result, imported


def test_module_entry_point_loads_the_demo_lazily():
    result, imported = _imported_modules("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"xplique {xplique.__version__}"
    assert "xplique.cli" in imported and "xplique.demo" not in imported


@pytest.mark.parametrize("argv", [["--help"], ["explain", "--help"], ["demo", "--help"]],
                         ids=["main", "explain", "demo"])
def test_help_answers_without_tensorflow(argv):
    result, imported = _imported_modules(*argv)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "xplique.cli" in imported
    heavy = [name for name in imported
             if name.split(".")[0] in ("tensorflow", "keras", "matplotlib", "torch")]
    assert heavy == [], heavy[:5]
    if argv[0] == "explain":
        listed = " ".join(result.stdout.split())  # argparse wraps the description
        for name in available_methods():
            assert name in listed, name


def test_method_names_read_from_source_match_the_real_registry():
    assert method_names() == list(available_methods())
    assert "BlackBoxExplainer" not in method_names()
