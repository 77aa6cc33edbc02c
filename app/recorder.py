"""A film of the live reconstruction: every preview mesh as a frame of a GIF or MP4.

The recorder listens to the 3D view (``View3D.mesh_changed``) and grabs a frame after
each change of a mesh layer, always from the same camera: the one the view had at the
first frame. The user may turn the view meanwhile; the film does not move. Frames are
streamed to the file (imageio; imageio-ffmpeg writes MP4), so a long run costs no
memory. Runs on the GUI thread, like the view it films.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from levelset_studio.app.view3d import View3D
from levelset_studio.core.errors import ConfigError

FILM_SUFFIXES = (".gif", ".mp4")
MAX_FRAME_WIDTH = 720  # wider views are filmed at a half, third, ... of their size


def check_film_path(path: str | Path) -> Path:
    """``path`` if it names a GIF or MP4 film in an existing folder, else a ConfigError."""
    p = Path(path)
    if p.suffix.lower() not in FILM_SUFFIXES:
        raise ConfigError(f"{p}: a film must be a .gif or .mp4 file")
    if not p.parent.exists() and str(p.parent) not in ("", "."):
        raise ConfigError(f"{p}: the folder {p.parent} does not exist")
    if p.is_dir():
        raise ConfigError(f"{p}: is a folder, not a film file")
    return p


def _camera_state(cam: Any) -> tuple:
    return (
        cam.GetPosition(),
        cam.GetFocalPoint(),
        cam.GetViewUp(),
        cam.GetViewAngle(),
        cam.GetParallelProjection(),
        cam.GetParallelScale(),
        cam.GetClippingRange(),
    )


def _set_camera(cam: Any, state: tuple) -> None:
    # explicit setters: each marks the camera modified, so the next render uses it
    position, focal, up, angle, parallel, scale, clipping = state
    cam.SetPosition(position)
    cam.SetFocalPoint(focal)
    cam.SetViewUp(up)
    cam.SetViewAngle(angle)
    cam.SetParallelProjection(parallel)
    cam.SetParallelScale(scale)
    cam.SetClippingRange(clipping)


class FilmRecorder(QObject):
    """Records the meshes a :class:`View3D` shows, from one fixed camera.

    ``layer``: only changes of this layer make frames (None: any mesh layer).
    ``fps``: frames per second of the film; ``hold_s``: how long the last frame stays.
    """

    frame_added = Signal(int)  # frames so far
    finished = Signal(str)  # the film's path

    def __init__(
        self,
        view: View3D,
        path: str | Path,
        *,
        layer: str | None = None,
        fps: float = 6.0,
        hold_s: float = 1.5,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.view = view
        self.path = check_film_path(path)
        self.layer = layer
        self.fps = float(fps)
        self.hold_s = float(hold_s)
        self.frames = 0
        self.camera: tuple | None = None  # the fixed camera's state, taken at the first frame
        self._writer: Any = None
        self._last: np.ndarray | None = None
        self._shape: tuple[int, int] | None = None
        self.recording = False

    # -- control -----------------------------------------------------------------
    def start(self) -> None:
        if self.recording:
            return
        import imageio.v2 as imageio

        try:
            if self.path.suffix.lower() == ".gif":
                self._writer = imageio.get_writer(str(self.path), mode="I", duration=1000.0 / self.fps, loop=0)
            else:
                self._writer = imageio.get_writer(
                    str(self.path), fps=self.fps, codec="libx264", quality=7, macro_block_size=1
                )
        except (OSError, ValueError, RuntimeError) as exc:
            raise ConfigError(f"{self.path}: cannot write the film ({exc})") from None
        self.recording = True
        self.view.mesh_changed.connect(self._mesh_changed)

    def set_layer(self, layer: str | None) -> None:
        self.layer = layer

    def stop(self) -> Path | None:
        """Finish the film (the last frame held ``hold_s``); returns its path, or None when empty."""
        if not self.recording:
            return self.path if self.frames else None
        self.recording = False
        with contextlib.suppress(RuntimeError, TypeError):
            self.view.mesh_changed.disconnect(self._mesh_changed)
        writer, self._writer = self._writer, None
        if self._last is not None:
            for _ in range(max(0, round(self.hold_s * self.fps) - 1)):
                writer.append_data(self._last)
        writer.close()
        if self.frames == 0:
            self.path.unlink(missing_ok=True)
            return None
        self.finished.emit(str(self.path))
        return self.path

    # -- frames ------------------------------------------------------------------
    def _mesh_changed(self, name: str) -> None:
        if self.layer is not None and name != self.layer:
            return
        self.add_frame()

    def add_frame(self) -> None:
        """Grab the view now, from the fixed camera, and append it to the film."""
        if not self.recording or self.view.closed:
            return
        cam = self.view.plotter.renderer.GetActiveCamera()
        if self.camera is None:
            self.camera = _camera_state(cam)
        current = _camera_state(cam)
        _set_camera(cam, self.camera)
        try:
            frame = np.ascontiguousarray(self.view.image()[:, :, :3])
        finally:
            _set_camera(cam, current)
            self.view.render()
        step = -(-frame.shape[1] // MAX_FRAME_WIDTH)
        frame = frame[::step, ::step]
        if self._shape is None:
            h, w = frame.shape[:2]
            self._shape = (h - h % 2, w - w % 2)  # even sizes for video codecs
        h, w = self._shape
        if frame.shape[0] < h or frame.shape[1] < w:  # the view shrank: pad to the film's size
            pad = np.zeros((h, w, 3), dtype=frame.dtype)
            pad[: frame.shape[0], : frame.shape[1]] = frame[:h, :w]
            frame = pad
        frame = np.ascontiguousarray(frame[:h, :w])
        self._writer.append_data(frame)
        self._last = frame
        self.frames += 1
        self.frame_added.emit(self.frames)
