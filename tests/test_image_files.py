"""Every awkward image encoding becomes 8-bit RGB with the right pixels, and every broken file a clear reason."""

import re

import numpy as np
import pytest
from PIL import Image

from data_pipelines import image_files
from data_pipelines.image_files import BadImage
from tests import data_fixtures as fx


@pytest.fixture(scope="module")
def base():
    rng = np.random.default_rng(0)
    pixels = np.repeat(np.repeat(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8), 8, 0), 8, 1)  # 64 px, 8 px blocks
    return Image.fromarray(pixels)


def test_convertible_encodings_keep_their_pixels(base):
    grey = np.asarray(base.convert("L"), float)
    for name, (data, reason) in fx.odd_images(base).items():
        if reason is not None:
            continue
        jpeg, scale = image_files.load_rgb_jpeg(data)
        image = np.asarray(image_files.decode(jpeg))
        assert image.shape == (64, 64, 3) and scale == (1.0, 1.0), name
        reference = np.asarray(base, float) if name in ("alpha.png", "palette.png", "cmyk.jpg") else grey[..., None]
        tolerance = 40 if name == "palette.png" else 12  # a palette has at most 256 colours
        assert np.abs(image - reference).mean() < tolerance, name


def test_sixteen_bit_grey_is_scaled_not_clipped():
    ramp = np.linspace(0, 65535, 64 * 64).astype(np.uint16).reshape(64, 64)
    image = image_files.to_rgb(image_files.decode(fx.png_bytes(Image.fromarray(ramp))))
    values = np.asarray(image)[..., 0].astype(int)
    assert values.min() == 0 and values.max() == 255
    np.testing.assert_allclose(values, ramp / 257, atol=1)


def test_transparent_pixels_become_black():
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 255  # red, fully transparent except the first row
    rgba[0, :, 3] = 255
    image = np.asarray(image_files.to_rgb(Image.fromarray(rgba, "RGBA")))
    assert (image[0] == [255, 0, 0]).all() and (image[1:] == 0).all()


def test_broken_files_are_refused_with_their_reason(base, tmp_path):
    for data, reason in fx.odd_images(base).values():
        if reason is None:
            continue
        with pytest.raises(BadImage, match=re.escape(reason)):
            image_files.load_rgb_jpeg(data)
    with pytest.raises(BadImage, match="file listed but missing"):
        image_files.read_bytes(str(tmp_path), "nope.jpg")
    with pytest.raises(BadImage, match="a directory"):
        image_files.read_bytes(str(tmp_path), "")


def test_paths_that_leave_the_release_are_refused(base, tmp_path):
    release, outside = tmp_path / "release", tmp_path / "secret.jpg"
    outside.write_bytes(fx.jpeg_bytes(base))
    (release / "images").mkdir(parents=True)
    (release / "images" / "link.jpg").symlink_to(outside)
    (release / "images" / "inside.jpg").write_bytes(fx.jpeg_bytes(base))
    for relative in (str(outside), "../secret.jpg", "images/../../secret.jpg", "images/link.jpg"):
        with pytest.raises(BadImage, match="path outside the release folder"):
            image_files.read_bytes(str(release), relative)
    assert image_files.read_bytes(str(release), "images/../images/inside.jpg") == fx.jpeg_bytes(base)


def test_an_rgb_jpeg_keeps_its_bytes_and_a_large_one_shrinks(base):
    data = fx.jpeg_bytes(base)
    assert image_files.load_rgb_jpeg(data)[0] is data
    shrunk, scale = image_files.load_rgb_jpeg(fx.jpeg_bytes(base.resize((300, 150))), max_size=100)
    assert scale == (1 / 3, 1 / 3) and image_files.decode(shrunk).size == (100, 50)
