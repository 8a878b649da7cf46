"""Offscreen MuJoCo camera rendering and the world base shared by the simulators (mobile_base,
arm_sim).

Importing this module picks a headless OpenGL backend when there is no display (EGL, which
works here with Mesa; osmesa is the slower fallback) before MuJoCo is imported. All rendering
must happen in the thread that created the renderer (OpenGL contexts are per thread), so each
simulator node owns one simulation thread that steps, renders and publishes.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Optional, Tuple

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


class SimWorld:
    """What a simulated MuJoCo world keeps over its episodes (the base of mobile_base's
    MujocoWorld and arm_sim's ArmWorld): the running episode's model and data, a sim time that
    is continuous over episodes, the count of physics steps, and the camera renderer (made on
    first use, made again when the image size changes, pointed at the current model).

    A subclass keeps its options in `options` (`image_width`, `image_height`) and builds each
    episode's model with `load`.
    """

    options: Any

    def __init__(self) -> None:
        self.model: Optional[mujoco.MjModel] = None
        self.data: Optional[mujoco.MjData] = None
        self.steps = 0
        self._time_offset = 0.0
        self._renderer: Optional[CameraRenderer] = None

    def load(self, xml: str) -> Tuple[mujoco.MjModel, mujoco.MjData]:
        """The next episode's model and data, from MJCF; sim time carries on from the last."""
        model = mujoco.MjModel.from_xml_string(xml)
        data = mujoco.MjData(model)
        self._time_offset = self.time
        self.model, self.data = model, data
        return model, data

    @property
    def time(self) -> float:
        """Simulated seconds since the world was created (continuous over episodes)."""
        return self._time_offset + (float(self.data.time) if self.data is not None else 0.0)

    def render_camera(self, camera: str) -> np.ndarray:
        """RGB (image_height, image_width, 3) uint8 from `camera` in the current state."""
        self._require()
        width, height = self.options.image_width, self.options.image_height
        renderer = self._renderer
        if renderer is not None and (renderer.width, renderer.height) != (width, height):
            self.close()
            renderer = None
        if renderer is None:
            renderer = self._renderer = CameraRenderer(width, height)
        if renderer.model is not self.model:
            renderer.set_model(self.model)
        return renderer.render(self.data, camera)

    def close(self) -> None:
        """Release the renderer (its OpenGL context)."""
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    def _require(self) -> None:
        if self.data is None:
            raise RuntimeError(f'{type(self).__name__}: reset() first (no episode yet)')


__all__ = ['CameraRenderer', 'mujoco', 'SimWorld']
