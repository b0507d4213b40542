"""TorchWrapper: a torch model explained like its Keras twin, in graph mode, with clear errors."""

import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

torch = pytest.importorskip("torch")

from xplique.attributions import IntegratedGradients, Saliency, SmoothGrad  # noqa: E402
from xplique.attributions.occlusion import Occlusion  # noqa: E402
from xplique.attributions.rise import Rise  # noqa: E402
from xplique.commons.gradients import gradient_of  # noqa: E402
from xplique.commons.operators import predictions_operator  # noqa: E402
from xplique.wrappers import TorchWrapper  # noqa: E402

H, W, C, NB_CLASSES = 5, 6, 3, 4


def _torch_cnn():
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(C, 4, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.Flatten(),  # flattens (C, H, W): the twin permutes before flattening
        torch.nn.Linear(4 * H * W, NB_CLASSES),
    ).eval()


def _keras_twin(net):
    """The same network in Keras (channels last), weights copied from `net`."""
    inputs = keras.Input((H, W, C))
    conv = keras.layers.Conv2D(4, 3, padding="same", activation="relu")
    dense = keras.layers.Dense(NB_CLASSES)
    hidden = keras.layers.Flatten()(keras.layers.Permute((3, 1, 2))(conv(inputs)))
    model = keras.Model(inputs, dense(hidden))
    conv_weight, conv_bias = net[0].weight.detach().numpy(), net[0].bias.detach().numpy()
    conv.set_weights([conv_weight.transpose(2, 3, 1, 0), conv_bias])
    dense.set_weights([net[3].weight.detach().numpy().T, net[3].bias.detach().numpy()])
    return model


@pytest.fixture(scope="module")
def twins():
    net = _torch_cnn()
    inputs = np.random.default_rng(0).uniform(0, 1, (6, H, W, C)).astype("float32")
    targets = np.array([0, 1, 2, 3, 0, 1])
    return TorchWrapper(net, "cpu"), _keras_twin(net), inputs, targets


def test_forward_equals_the_keras_twin(twins):
    wrapper, twin, inputs, _ = twins
    assert wrapper.is_channel_first
    outputs = wrapper(inputs)
    assert outputs.dtype == tf.float32 and outputs.shape == (6, NB_CLASSES)
    np.testing.assert_allclose(outputs, twin(inputs), atol=1e-4)
    np.testing.assert_allclose(wrapper.predict(inputs, verbose=0), twin(inputs), atol=1e-4)


@pytest.mark.parametrize("method, params", [
    (Saliency, {}),
    (IntegratedGradients, {"steps": 8}),
    (SmoothGrad, {"nb_samples": 6, "seed": 3}),
    (Occlusion, {"patch_size": 2, "patch_stride": 2}),
    (Rise, {"nb_samples": 20, "grid_size": 3, "seed": 3}),
], ids=["Saliency", "IntegratedGradients", "SmoothGrad", "Occlusion", "Rise"])
def test_explanations_equal_the_keras_twin(twins, method, params):
    wrapper, twin, inputs, targets = twins
    expected = method(twin, batch_size=4, **params)(inputs, targets)
    explained = method(wrapper, batch_size=4, **params)(inputs, targets)
    assert np.abs(expected.numpy()).max() > 1e-3
    np.testing.assert_allclose(explained, expected, atol=1e-3)


def test_graph_mode_is_kept_and_kernels_trace_once(twins):
    """Building and explaining never switch TensorFlow to eager mode; compiled gradient
    kernels run the torch model as graph ops and trace once."""
    wrapper, twin, inputs, targets = twins
    assert not tf.config.functions_run_eagerly()
    TorchWrapper(_torch_cnn(), "cpu")
    assert not tf.config.functions_run_eagerly()
    kernel = gradient_of(wrapper, predictions_operator)
    one_hot = tf.one_hot(targets, NB_CLASSES)
    gradients = kernel(tf.constant(inputs), one_hot)
    kernel(tf.constant(inputs[:2]), one_hot[:2])
    assert kernel.tracing_count == 1
    np.testing.assert_allclose(gradients, gradient_of(twin, predictions_operator)(
        tf.constant(inputs), one_hot), atol=1e-5)
    assert not tf.config.functions_run_eagerly()


def test_channel_layout_inference_tabular_and_time_series():
    torch.manual_seed(1)
    mlp = torch.nn.Sequential(torch.nn.Linear(5, 3), torch.nn.Tanh(), torch.nn.Linear(3, 2))
    wrapper = TorchWrapper(mlp.eval(), "cpu")
    assert not wrapper.is_channel_first
    x = np.random.default_rng(0).normal(size=(4, 5)).astype("float32")
    np.testing.assert_allclose(wrapper(x), mlp(torch.from_numpy(x)).detach().numpy(), atol=1e-6)
    # time series (N, T, W): a Conv1d reads the W features as channels
    conv1d = torch.nn.Sequential(torch.nn.Conv1d(3, 2, 3), torch.nn.Flatten()).eval()
    series = np.random.default_rng(1).normal(size=(2, 7, 3)).astype("float32")
    expected = conv1d(torch.from_numpy(series).permute(0, 2, 1)).detach().numpy()
    np.testing.assert_allclose(TorchWrapper(conv1d, "cpu")(series), expected, atol=1e-6)
    # a float64 module gets float64 inputs and gives float32 outputs and gradients
    double = TorchWrapper(torch.nn.Sequential(torch.nn.Linear(5, 3)).double().eval(), "cpu")
    with tf.GradientTape() as tape:
        tensor = tf.constant(x)
        tape.watch(tensor)
        outputs = double(tensor)
    assert outputs.dtype == tape.gradient(outputs, tensor).dtype == tf.float32
    # forcing channels last on a conv model leaves the inputs as they are
    forced = TorchWrapper(conv1d, "cpu", is_channel_first=False)
    np.testing.assert_allclose(forced(series.transpose(0, 2, 1)), expected, atol=1e-6)


def test_clear_errors():
    net = _torch_cnn()
    with pytest.raises(ValueError, match=r"eval\(\)"):
        TorchWrapper(_torch_cnn().train(), "cpu")
    with pytest.raises(TypeError, match="torch.nn.Module"):
        TorchWrapper(lambda x: x, "cpu")
    with pytest.raises(ValueError, match="device"):
        TorchWrapper(net, "not a device")
    with pytest.raises(ValueError, match="device"):
        TorchWrapper(net, "meta")  # the parameters live on the CPU
    with pytest.raises(TypeError, match="is_channel_first"):
        TorchWrapper(net, "cpu", is_channel_first="yes")
    wrapper = TorchWrapper(net, "cpu")
    with pytest.raises(TypeError, match="output_layer"):
        Saliency(wrapper, output_layer=-1)
    kernel = gradient_of(wrapper, predictions_operator)
    x, y = tf.zeros((1, H, W, C)), tf.ones((1, NB_CLASSES))
    kernel(x, y)
    net.train()  # switched to training after wrapping
    with pytest.raises(ValueError, match=r"eval\(\)"):
        wrapper(np.zeros((1, H, W, C), "float32"))
    with pytest.raises(tf.errors.OpError, match=r"eval\(\)"):  # an already traced kernel
        kernel(x, y)
    net.eval()

    class TwoOutputs(torch.nn.Module):
        def forward(self, x):
            return x, x

    with pytest.raises(TypeError, match="one tensor"):
        TorchWrapper(TwoOutputs().eval(), "cpu")(np.zeros((1, 3), "float32"))


LAYER_LEVEL = ["GradCAM", "GradCAMPP", "LayerCAM", "ScoreCAM", "FEM", "GuidedBackprop",
               "DeconvNet", "FullGradient"]


@pytest.mark.parametrize("name", LAYER_LEVEL)
def test_layer_level_methods_refuse_torch_models(twins, name):
    import xplique.attributions

    wrapper, _, inputs, targets = twins
    with pytest.raises(TypeError, match="no Keras layers"):
        getattr(xplique.attributions, name)(wrapper)(inputs[:1], targets[:1])


def test_missing_torch_and_import_side_effects():
    """`import xplique` does not import torch; without torch, building a
    wrapper names the `torch` extra."""
    code = (
        "import sys; import xplique, xplique.wrappers\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
        "sys.modules['torch'] = None\n"
        "from xplique.wrappers import TorchWrapper\n"
        "try:\n"
        "    TorchWrapper(object(), 'cpu')\n"
        "except ImportError as error:\n"
        "    assert 'xplique[torch]' in str(error), error\n"
        "else:\n"
        "    raise SystemExit('no ImportError')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]


def test_pytorch_tutorial_runs():
    from tests.helpers import run_tutorial

    namespace = run_tutorial("pytorch.ipynb")
    assert np.abs(namespace["model"](namespace["images"]).numpy()
                  - namespace["reference"]).max() < 1e-5
    assert not tf.config.functions_run_eagerly()
