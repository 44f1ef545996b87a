"""alexnet_ref.model: the AlexNet module, the functional forward pass and their errors."""
import numpy as np
import pytest
import torch

import alexnet_ref as A
from tests.test_ref_shapes import SOURCE_SHAPES

# Whole-network tolerance from the measured facts: rtol=1e-4, atol=3e-5·max|ref| on logits.
RTOL, ATOL_REL = 1e-4, 3e-5


@pytest.fixture(scope="module")
def model():
    return A.AlexNet(seed=0).eval()


@pytest.fixture(scope="module")
def images():
    torch.manual_seed(1)
    return torch.randn(2, 3, 227, 227)


def test_every_stage_has_the_source_shape(model, images):
    stages = list(A.alexnet_stages(images, model.state_dict()))
    assert [name for name, _ in stages] == list(SOURCE_SHAPES)
    for name, out in stages:
        assert tuple(out.shape) == (2, *SOURCE_SHAPES[name]), name


def test_parameter_count_of_the_module():
    assert sum(p.numel() for p in A.AlexNet().parameters()) == 62_378_344
    assert sum(p.numel() for p in A.AlexNet(grouped=True).parameters()) == 60_965_224


def test_functional_forward_equals_module(model, images):
    with torch.no_grad():
        probs = model(images)
    functional = A.alexnet_forward(images, model.state_dict(), "cpu")
    assert probs.shape == functional.shape == (2, 1000)
    torch.testing.assert_close(functional, probs, rtol=RTOL, atol=1e-7)
    torch.testing.assert_close(probs.sum(1), torch.ones(2))


def test_grouped_functional_equals_grouped_module(images):
    model = A.AlexNet(grouped=True).eval()
    with torch.no_grad():
        logits = model.logits(images[:1])
    functional = A.alexnet_logits(images[:1], model.state_dict(), grouped=True)
    scale = logits.abs().max().item()
    torch.testing.assert_close(functional, logits, rtol=RTOL, atol=ATOL_REL * scale)


def test_float32_agrees_with_float64(model, images):
    """Stated tolerance: logits within rtol=1e-4, atol=3e-5·max|logits| of the float64 pass."""
    params = model.state_dict()
    x = images[:1] * 50  # large activations make LRN matter
    lo = A.alexnet_logits(x, params)
    hi = A.alexnet_logits(x.double(), {k: v.double() for k, v in params.items()})
    assert hi.dtype == torch.float64
    np.testing.assert_allclose(lo.double().numpy(), hi.numpy(), rtol=RTOL,
                               atol=ATOL_REL * hi.abs().max().item())


def test_module_runs_in_float64(images):
    model = A.AlexNet().double().eval()
    with torch.no_grad():
        out = model(images[:1].double())
    assert out.dtype == torch.float64 and out.shape == (1, 1000)


def test_logits_and_probabilities(model, images):
    with torch.no_grad():
        logits, probs = model.logits(images), model(images)
    torch.testing.assert_close(probs, torch.softmax(logits, 1))


def test_dropout_only_in_training(images):
    model = A.AlexNet(seed=0)
    with torch.no_grad():
        model.eval()
        a, b = model.logits(images[:1]), model.logits(images[:1])
        model.train()
        c = model.logits(images[:1])
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)


def test_initialisation_follows_the_paper():
    params = A.init_params(seed=0)
    for name, t in params.items():
        layer, kind = name.split(".")
        if kind == "bias":
            expected = 1.0 if layer in {"conv2", "conv4", "conv5", "fc6", "fc7"} else 0.0
            assert torch.all(t == expected), name
    w = params["fc6.weight"]
    assert abs(w.mean().item()) < 1e-4 and abs(w.std().item() - 0.01) < 1e-4
    assert torch.equal(A.init_params(seed=0)["conv1.weight"], params["conv1.weight"])
    assert not torch.equal(A.init_params(seed=1)["conv1.weight"], params["conv1.weight"])
    assert torch.equal(A.AlexNet(seed=0).conv1.weight, params["conv1.weight"])


def test_forward_on_device(device, model, images):
    probs = A.alexnet_forward(images[:1], model.state_dict(), device)
    assert probs.device.type == device.type
    cpu = A.alexnet_forward(images[:1], model.state_dict(), "cpu")
    # On CUDA, convolutions may use TF32: a looser, documented bound.
    torch.testing.assert_close(probs.cpu(), cpu, rtol=1e-3, atol=1e-5)


@pytest.mark.needs_cuda
def test_module_on_cuda(images):
    model = A.AlexNet().cuda().eval()
    with torch.no_grad():
        out = model(images[:1].cuda())
    assert out.is_cuda and torch.allclose(out.sum(), torch.ones((), device="cuda"))


@pytest.mark.parametrize("shape,fragment", [
    ((3, 227, 227), "input: expected shape (N, 3, 227, 227), got (3, 227, 227)"),
    ((1, 3, 224, 224), "input: expected shape (N, 3, 227, 227), got (1, 3, 224, 224)"),
    ((1, 1, 227, 227), "got (1, 1, 227, 227)"),
])
def test_input_shape_errors(model, shape, fragment):
    with pytest.raises(ValueError) as err:
        A.alexnet_forward(torch.randn(shape), model.state_dict(), "cpu")
    assert fragment in str(err.value)
    with pytest.raises(ValueError):
        model(torch.randn(shape))


def test_integer_input_error(model):
    with pytest.raises(ValueError, match="input: expected a floating-point tensor, got dtype torch.uint8"):
        A.alexnet_forward(torch.zeros(1, 3, 227, 227, dtype=torch.uint8), model.state_dict())


def test_missing_parameter_error(model, images):
    params = dict(model.state_dict())
    del params["fc8.bias"]
    with pytest.raises(ValueError, match=r"fc8: missing parameter 'fc8.bias' \(expected shape \(1000,\)\)"):
        A.alexnet_forward(images[:1], params)


def test_wrong_parameter_shape_error(model, images):
    params = dict(model.state_dict())
    params["conv2.weight"] = torch.randn(256, 48, 5, 5)
    with pytest.raises(ValueError) as err:
        A.alexnet_forward(images[:1], params)
    assert str(err.value) == ("conv2: parameter 'conv2.weight' expected shape (256, 96, 5, 5), "
                              "got (256, 48, 5, 5)")
