"""Offscreen MuJoCo camera rendering shared by the simulators (mobile_base, arm_sim).

Importing this module picks a headless OpenGL backend when there is no display (EGL, which
works here with Mesa; osmesa is the slower fallback) before MuJoCo is imported. All rendering
must happen in the thread that created the renderer (OpenGL contexts are per thread), so each
simulator node owns one simulation thread that steps, renders and publishes.
"""

from __future__ import annotations

import os
from typing import Dict, Optional

import numpy as np

if 'MUJOCO_GL' not in os.environ and not os.environ.get('DISPLAY'):
    os.environ['MUJOCO_GL'] = 'egl'

import mujoco  # noqa: E402  (after choosing the GL backend)


class CameraRenderer:
    """RGB images of a model's fixed cameras, one OpenGL context for the renderer's life.

    The GL context (slow to create: ~0.3 s here) is made once; a new model only needs its own
    MjrContext and scene (~20 ms). Use from the thread that created it.
    """

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self._gl = mujoco.GLContext(max(width, 640), max(height, 480))
        self._gl.make_current()
        self._model: Optional[mujoco.MjModel] = None
        self._con: Optional[mujoco.MjrContext] = None
        self._scene: Optional[mujoco.MjvScene] = None
        self._opt = mujoco.MjvOption()
        self._pert = mujoco.MjvPerturb()
        self._cam = mujoco.MjvCamera()
        self._cam.type = mujoco.mjtCamera.mjCAMERA_FIXED
        self._rect = mujoco.MjrRect(0, 0, width, height)
        self._rgb = np.empty((height, width, 3), dtype=np.uint8)
        self._camera_ids: Dict[str, int] = {}

    @property
    def model(self) -> Optional[mujoco.MjModel]:
        return self._model

    def set_model(self, model: mujoco.MjModel) -> None:
        if self._con is not None:
            self._con.free()
        self._gl.make_current()
        self._model = model
        self._scene = mujoco.MjvScene(model, maxgeom=1000)
        self._con = mujoco.MjrContext(model, mujoco.mjtFontScale.mjFONTSCALE_50)
        mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN, self._con)
        self._camera_ids = {}

    def render(self, data: mujoco.MjData, camera: str) -> np.ndarray:
        """RGB (H, W, 3) uint8 from the model's fixed camera `camera`."""
        if self._model is None or self._scene is None or self._con is None:
            raise RuntimeError('set_model first')
        cam_id = self._camera_ids.get(camera)
        if cam_id is None:
            cam_id = mujoco.mj_name2id(self._model, mujoco.mjtObj.mjOBJ_CAMERA, camera)
            if cam_id < 0:
                raise ValueError(f'model has no camera {camera!r}')
            self._camera_ids[camera] = cam_id
        self._cam.fixedcamid = cam_id
        mujoco.mjv_updateScene(self._model, data, self._opt, self._pert, self._cam,
                               mujoco.mjtCatBit.mjCAT_ALL, self._scene)
        mujoco.mjr_render(self._rect, self._scene, self._con)
        mujoco.mjr_readPixels(self._rgb, None, self._rect, self._con)
        return np.flipud(self._rgb).copy()   # OpenGL rows start at the bottom

    def close(self) -> None:
        if self._con is not None:
            self._con.free()
            self._con = None
        self._gl.free()


class WorldCameras:
    """The renderer a simulated world keeps: made on first use, made again when the image
    size changes, pointed at the world's current model; `close` releases it."""

    def __init__(self) -> None:
        self._renderer: Optional[CameraRenderer] = None

    def render(self, model: mujoco.MjModel, data: mujoco.MjData, camera: str, width: int,
               height: int) -> np.ndarray:
        """RGB (height, width, 3) uint8 from `camera` of `model` in the state `data`."""
        renderer = self._renderer
        if renderer is not None and (renderer.width, renderer.height) != (width, height):
            self.close()
            renderer = None
        if renderer is None:
            renderer = self._renderer = CameraRenderer(width, height)
        if renderer.model is not model:
            renderer.set_model(model)
        return renderer.render(data, camera)

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None


__all__ = ['CameraRenderer', 'mujoco', 'WorldCameras']
