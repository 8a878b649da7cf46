"""sensor_msgs/Image and CompressedImage <-> numpy, without cv_bridge (absent on Kilted wheels).

Functions take and return duck-typed messages (anything with the fields), so this module does
not import rclpy; the message class is passed in where one is built.
"""

from __future__ import annotations

from typing import Any, Tuple

import numpy as np

#: encoding -> (channels, numpy dtype)
ENCODINGS = {
    'rgb8': (3, np.uint8), 'bgr8': (3, np.uint8), 'mono8': (1, np.uint8),
    'rgba8': (4, np.uint8), 'bgra8': (4, np.uint8),
    'mono16': (1, np.uint16), '16UC1': (1, np.uint16), '32FC1': (1, np.float32),
}


class ImageError(ValueError):
    """An image message that cannot be interpreted (encoding, size, step, data length)."""


def image_to_array(msg: Any) -> np.ndarray:
    """Return the pixels of a sensor_msgs/Image as an (H, W, C) array (a copy).

    Honours `step` (row padding) and `is_bigendian`. Raises ImageError on anything malformed.
    """
    enc = msg.encoding
    if enc not in ENCODINGS:
        raise ImageError(f'unsupported image encoding {enc!r} (supported: {sorted(ENCODINGS)})')
    channels, dtype = ENCODINGS[enc]
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height <= 0 or width <= 0:
        raise ImageError(f'empty image {width}x{height}')
    itemsize = np.dtype(dtype).itemsize
    row_bytes = width * channels * itemsize
    if step < row_bytes:
        raise ImageError(f'step {step} is smaller than a row ({row_bytes} bytes) for {enc}')
    data = bytes(msg.data) if not isinstance(msg.data, (bytes, bytearray)) else msg.data
    if len(data) < step * height:
        raise ImageError(f'image data has {len(data)} bytes, expected step*height = '
                         f'{step * height}')
    rows = np.frombuffer(data, dtype=np.uint8, count=step * height).reshape(height, step)
    pixels = rows[:, :row_bytes].copy().view(np.dtype(dtype).newbyteorder(
        '>' if msg.is_bigendian else '<') if itemsize > 1 else dtype)
    return pixels.reshape(height, width, channels).astype(dtype, copy=False)


def to_rgb(array: np.ndarray, encoding: str) -> np.ndarray:
    """Convert an (H, W, C) array in `encoding` to (H, W, 3) uint8 RGB."""
    if encoding in ('rgb8',):
        return array
    if encoding == 'bgr8':
        return array[:, :, ::-1].copy()
    if encoding == 'rgba8':
        return array[:, :, :3].copy()
    if encoding == 'bgra8':
        return array[:, :, 2::-1].copy()
    if encoding == 'mono8':
        return np.repeat(array, 3, axis=2)
    raise ImageError(f'cannot convert {encoding!r} to RGB')


def image_to_rgb(msg: Any) -> np.ndarray:
    """sensor_msgs/Image (rgb8/bgr8/mono8/rgba8/bgra8) -> (H, W, 3) uint8 RGB."""
    return to_rgb(image_to_array(msg), msg.encoding)


def compressed_to_rgb(msg: Any) -> np.ndarray:
    """sensor_msgs/CompressedImage (jpeg/png) -> (H, W, 3) uint8 RGB."""
    import cv2  # lazy: only compressed streams need OpenCV

    fmt = (msg.format or '').lower()
    if not any(k in fmt for k in ('jpeg', 'jpg', 'png')):
        raise ImageError(f'unsupported compressed format {msg.format!r} (jpeg or png)')
    buf = np.frombuffer(bytes(msg.data), dtype=np.uint8)
    if buf.size == 0:
        raise ImageError('empty compressed image')
    bgr = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if bgr is None:
        raise ImageError(f'could not decode {msg.format!r} image ({buf.size} bytes)')
    return bgr[:, :, ::-1].copy()


def fill_image(msg: Any, array: np.ndarray, encoding: str = 'rgb8') -> Any:
    """Fill a sensor_msgs/Image from an (H, W, C) or (H, W) array; return the message."""
    if array.ndim == 2:
        array = array[:, :, None]
    channels, dtype = ENCODINGS[encoding]
    if array.shape[2] != channels or array.dtype != dtype:
        raise ImageError(f'array {array.shape} {array.dtype} does not match {encoding}')
    array = np.ascontiguousarray(array)
    msg.height, msg.width = int(array.shape[0]), int(array.shape[1])
    msg.encoding = encoding
    msg.is_bigendian = 0
    msg.step = int(array.shape[1] * channels * array.dtype.itemsize)
    msg.data = array.tobytes()
    return msg


def encode_compressed(msg: Any, rgb: np.ndarray, fmt: str = 'jpeg',
                      quality: int = 90) -> Any:
    """Fill a sensor_msgs/CompressedImage from an RGB array; return the message."""
    import cv2

    ext = '.png' if fmt == 'png' else '.jpg'
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)] if ext == '.jpg' else []
    ok, buf = cv2.imencode(ext, np.ascontiguousarray(rgb[:, :, ::-1]), params)
    if not ok:
        raise ImageError('encoding failed')
    msg.format = 'rgb8; ' + ('png compressed bgr8' if ext == '.png' else 'jpeg compressed bgr8')
    msg.data = buf.tobytes()
    return msg


def resize_rgb(rgb: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """Resize an RGB array to (height, width) with area interpolation."""
    import cv2

    h, w = size
    if rgb.shape[:2] == (h, w):
        return rgb
    return cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)
