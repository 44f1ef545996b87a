"""alexnet_ref.image: the sample photo and the preprocessing steps."""
import numpy as np
import pytest
import torch

import alexnet_ref as A


def test_sample_image_is_rgb_uint8():
    img = A.sample_image()
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
    assert min(img.shape[:2]) >= 227


def test_preprocess_shape_and_normalisation():
    x = A.preprocess(A.sample_image())
    assert x.shape == (1, 3, 227, 227) and x.dtype == torch.float32
    assert -3 < x.min() < 0 < x.max() < 3          # normalised, not 0..255


def test_preprocess_steps_on_a_constant_image():
    img = np.zeros((300, 400, 3), np.uint8)
    img[..., 0] = 255
    x = A.preprocess(img)
    expected = [(1 - 0.485) / 0.229, (0 - 0.456) / 0.224, (0 - 0.406) / 0.225]
    torch.testing.assert_close(x.mean(dim=(0, 2, 3)), torch.tensor(expected), rtol=1e-5, atol=1e-5)


def test_center_crop_keeps_the_centre():
    img = np.zeros((256, 512, 3), np.float32)
    img[:, 256 - 50:256 + 50] = 1.0                    # a bright central band
    x = A.to_display(A.preprocess(img))
    assert x.shape == (227, 227, 3)
    assert x[:, 113].mean() > 0.99 and x[:, 0].mean() < 0.01


def test_to_display_inverts_preprocess():
    img = np.random.default_rng(0).random((256, 256, 3)).astype(np.float32)
    back = A.to_display(A.preprocess(img, resize=256))
    top = (256 - 227) // 2
    np.testing.assert_allclose(back, img[top:top + 227, top:top + 227], atol=1e-5)


@pytest.mark.parametrize("bad,fragment", [
    (np.zeros((227, 227)), "expected an RGB array of shape (H, W, 3), got (227, 227)"),
    (np.zeros((227, 227, 4), np.uint8), "got (227, 227, 4)"),
    (np.full((227, 227, 3), 2.0), "float images must lie in [0, 1]"),
    (np.zeros((227, 227, 3), np.int64), "expected a uint8 or float RGB array, got dtype int64"),
])
def test_preprocess_errors(bad, fragment):
    with pytest.raises(ValueError) as err:
        A.preprocess(bad)
    assert str(err.value).startswith("input: ") and fragment in str(err.value)
