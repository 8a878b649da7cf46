"""Image conversion honours encoding, step and byte order, and rejects malformed images."""

import numpy as np
import pytest
from sensor_msgs.msg import CompressedImage, Image
from vla_common.image import (compressed_to_rgb, encode_compressed, fill_image, image_to_array,
                              image_to_rgb, ImageError, resize_rgb)


def _rgb(h=4, w=5):
    return (np.arange(h * w * 3, dtype=np.uint8).reshape(h, w, 3) * 7) % 251


def test_rgb_round_trip():
    rgb = _rgb()
    msg = fill_image(Image(), rgb, 'rgb8')
    assert msg.step == 15
    np.testing.assert_array_equal(image_to_rgb(msg), rgb)


def test_bgr_and_mono_convert_to_rgb():
    rgb = _rgb()
    bgr = fill_image(Image(), rgb[:, :, ::-1].copy(), 'bgr8')
    np.testing.assert_array_equal(image_to_rgb(bgr), rgb)
    mono = fill_image(Image(), rgb[:, :, 0].copy(), 'mono8')
    out = image_to_rgb(mono)
    assert out.shape == (4, 5, 3)
    np.testing.assert_array_equal(out[:, :, 2], rgb[:, :, 0])


def test_row_padding_is_skipped():
    rgb = _rgb(3, 2)
    msg = Image(height=3, width=2, encoding='rgb8', step=8)
    padded = np.zeros((3, 8), np.uint8)
    padded[:, :6] = rgb.reshape(3, 6)
    padded[:, 6:] = 255
    msg.data = padded.tobytes()
    np.testing.assert_array_equal(image_to_rgb(msg), rgb)


def test_big_endian_16bit():
    depth = np.array([[1, 256], [513, 65535]], dtype=np.uint16)
    msg = Image(height=2, width=2, encoding='16UC1', step=4, is_bigendian=1)
    msg.data = depth.astype('>u2').tobytes()
    np.testing.assert_array_equal(image_to_array(msg)[:, :, 0], depth)


@pytest.mark.parametrize('mutate, match', [
    (lambda m: setattr(m, 'encoding', 'yuv422'), 'unsupported'),
    (lambda m: setattr(m, 'step', 3), 'step'),
    (lambda m: setattr(m, 'data', bytes(10)), 'bytes'),
    (lambda m: setattr(m, 'height', 0), 'empty'),
])
def test_malformed_images_are_rejected(mutate, match):
    msg = fill_image(Image(), _rgb(), 'rgb8')
    mutate(msg)
    with pytest.raises(ImageError, match=match):
        image_to_rgb(msg)


def test_compressed_png_round_trip_and_garbage():
    rgb = _rgb(8, 8)
    msg = encode_compressed(CompressedImage(), rgb, 'png')
    np.testing.assert_array_equal(compressed_to_rgb(msg), rgb)
    bad = CompressedImage(format='jpeg', data=b'not a jpeg')
    with pytest.raises(ImageError, match='decode'):
        compressed_to_rgb(bad)
    with pytest.raises(ImageError, match='unsupported'):
        compressed_to_rgb(CompressedImage(format='bmp', data=b'x'))


def test_resize():
    assert resize_rgb(np.zeros((480, 640, 3), np.uint8), (224, 224)).shape == (224, 224, 3)
