"""The debug image: the camera frame with the instruction and the predicted motion drawn on it.

Base: an arrow from the bottom centre for the planned (linear_x, linear_y) — up is forward,
left is +y (REP-103) — and an arc for angular_z; the chunk's later steps are drawn fainter.
Arm: an arrow for (dx, dy) and a gripper bar. OpenCV's Hershey fonts have no Hangul glyphs,
so Korean text is written as the canonical form when there is one, else with non-ASCII
characters replaced and the instruction id shown.

numpy + OpenCV only.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

GREEN = (40, 220, 40)
YELLOW = (250, 210, 40)
WHITE = (255, 255, 255)
BLACK = (0, 0, 0)


def ascii_text(text: str, limit: int = 60) -> str:
    """Text drawable with Hershey fonts ('?' for other characters), shortened to `limit`."""
    out = ''.join(ch if 32 <= ord(ch) < 127 else '?' for ch in text)
    return out if len(out) <= limit else out[:limit - 3] + '...'


def _label(img: np.ndarray, text: str, org: tuple, scale: float) -> None:
    import cv2

    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, BLACK, 3, cv2.LINE_AA)
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, WHITE, 1, cv2.LINE_AA)


def draw_debug(rgb: np.ndarray, chunk: np.ndarray, action_space: str, instruction: str = '',
               canonical: str = '', instruction_id: str = '', trigger: str = '',
               latency_ms: float = 0.0, max_width: int = 320,
               limits: Optional[np.ndarray] = None) -> np.ndarray:
    """An RGB image (uint8) with the annotations; `chunk` is (steps, dims) in SI units."""
    import cv2

    h, w = rgb.shape[:2]
    if w > max_width:
        rgb = cv2.resize(rgb, (max_width, int(round(h * max_width / w))),
                         interpolation=cv2.INTER_AREA)
    img = np.ascontiguousarray(rgb.copy())
    h, w = img.shape[:2]
    scale = max(0.3, w / 640.0)
    text = canonical or instruction
    _label(img, ascii_text(text, 48), (4, int(14 * scale / 0.5)), scale)
    _label(img, f'{instruction_id} {trigger} {latency_ms:.0f} ms', (4, h - 6), scale * 0.9)
    chunk = np.asarray(chunk, dtype=np.float64)
    if chunk.ndim != 2 or chunk.shape[0] == 0:
        return img
    if limits is None:
        limits = np.array([0.5, 0.5, 1.0]) if action_space == 'base' else np.full(7, 0.65)
    origin = np.array([w / 2.0, h * 0.85])
    length = 0.35 * h
    for i in range(chunk.shape[0] - 1, -1, -1):
        a = chunk[i]
        fade = 1.0 - 0.7 * i / max(1, chunk.shape[0] - 1)
        color = tuple(int(c * fade) for c in (GREEN if i == 0 else YELLOW))
        if action_space == 'base':
            fwd, left = a[0] / limits[0], a[1] / limits[1]
            tip = origin + length * np.array([-left, -fwd])
        else:
            tip = origin + length * np.array([-a[1] / limits[1], -a[0] / limits[0]])
        cv2.arrowedLine(img, tuple(int(v) for v in origin), tuple(int(v) for v in tip), color,
                        2 if i == 0 else 1, cv2.LINE_AA, tipLength=0.2)
    a = chunk[0]
    if action_space == 'base':
        yaw = float(np.clip(a[2] / limits[2], -1.0, 1.0))
        radius = int(0.12 * h)
        # Counter-clockwise yaw (positive) turns left: sweep the arc towards the left.
        end = -90 - 90 * yaw
        cv2.ellipse(img, tuple(int(v) for v in origin), (radius, radius), 0.0, -90, end,
                    (80, 160, 255), 2, cv2.LINE_AA)
    elif chunk.shape[1] >= 7:
        g = float(np.clip(a[6], 0.0, 1.0))
        x0, y0 = w - 14, int(h * 0.2)
        cv2.rectangle(img, (x0, y0), (x0 + 8, y0 + int(h * 0.5)), WHITE, 1)
        cv2.rectangle(img, (x0, y0 + int(h * 0.5 * (1 - g))), (x0 + 8, y0 + int(h * 0.5)),
                      (80, 160, 255), -1)
    return img
