"""
Frame sources for the camera node: synthetic scenes, V4L2 devices, video files, image folders.

``synthetic`` plays the path-traced RGB-D scenes shipped with the package (colour, depth as an
active-stereo camera sees glass, calibration and ground truth), ``synthetic:fast`` draws an
endless stream from the 2.5-D generator (seeded, colour only), ``synthetic:DIR`` plays any scene
set that ``glass-synth rgbd`` or ``glass-synth detect`` rendered, ``rgbd:DIR`` plays a
recorded RGB-D folder in the common layout (``DIR/camera_info.yaml``, ``DIR/color/<stem>.png|jpg``,
``DIR/depth/<stem>.png``: 16-bit millimetres aligned to colour; other files are ignored), and
``bag:PATH`` plays a ROS 2 bag (core.bags).

``open_source`` returns an object whose ``read()`` gives ``Frame`` or raises:
``EndOfSource`` when a file source is exhausted (and not looping), ``SourceError`` when a device or
file fails (the node reopens it with backoff). No ROS here.
"""

from __future__ import annotations

from dataclasses import dataclass
import glob
import json
import os
from pathlib import Path

import cv2
import numpy as np

from .camera_model import CameraModelError, Intrinsics, parse_camera_info_yaml
from .geometry import Box
from .paths import DEFAULT_SCENES
from .synthetic import render_scene, SceneObject

IMAGE_EXTENSIONS = {'.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp'}


class SourceError(RuntimeError):
    pass


class EndOfSource(Exception):
    pass


class BadFrame(Exception):
    """One frame could not be decoded (a corrupt file in a folder): skip it, the source is fine."""


@dataclass
class Frame:
    image: np.ndarray  # BGR uint8
    truth: list[SceneObject] | None = None  # synthetic source only
    depth: np.ndarray | None = None  # uint16 millimetres aligned to image, 0 = no reading
    camera: Intrinsics | None = None  # the calibration of image (and depth)
    truth_3d: list[dict] | None = None  # synthetic RGB-D: base, centre, height, diameter (m)
    # a sequence's camera in the world: p_optical = R @ p_world + t ({'R': 3x3, 't': 3})
    camera_pose: dict | None = None
    # a recording's own header (bag:): published as recorded instead of now and frame_id
    stamp_ns: int | None = None
    frame_id: str | None = None


def _fit(img: np.ndarray, width: int, height: int) -> np.ndarray:
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    elif img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    if (width and height) and (img.shape[1] != width or img.shape[0] != height):
        img = cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA)
    return img


def _scene_objects(objs: list[dict], sx: float, sy: float) -> list[SceneObject]:
    """Return truth.json's objects as SceneObjects, their boxes scaled by (sx, sy)."""
    return [
        SceneObject(
            o['kind'],
            o.get('variant', ''),
            Box(o['box'][0] * sx, o['box'][1] * sy, o['box'][2] * sx, o['box'][3] * sy),
            o.get('visibility', 1.0),
            o.get('track_id'),
        )
        for o in objs
    ]


class SyntheticSource:
    kind = 'synthetic'

    def __init__(self, seed: int, width: int, height: int):
        self.seed, self.width, self.height = seed, width, height
        self.index = 0

    def read(self) -> Frame:
        scene = render_scene(self.seed, self.index, self.width, self.height)
        self.index += 1
        return Frame(scene.image, scene.objects)

    def close(self):
        pass


class _Playlist:
    """Step through ``len(items)`` things in order from ``self.index``; loop if ``self.loop``."""

    def _next_index(self, n: int) -> int:
        if self.index >= n:
            if not self.loop:
                raise EndOfSource(f'end of {self.label}')
            self.index = 0
        self.index += 1
        return self.index - 1


class SceneSetSource(_Playlist):
    """Rendered scenes and their ground truth, played in order (looping unless told not to)."""

    kind = 'scenes'

    def __init__(self, folder: Path, width: int, height: int, loop: bool):
        folder = Path(folder)
        truth_file = folder / 'truth.json'
        if not truth_file.is_file():  # glass-synth detect's layout: OUT/images/SPLIT
            truth_file = folder.parent.parent / f'truth_{folder.name}.json'
        if not truth_file.is_file():
            raise SourceError(
                f'scene set {folder}: no truth.json (render one with glass-synth detect)'
            )
        try:
            truth = json.loads(truth_file.read_text())
        except (OSError, ValueError) as e:
            raise SourceError(f'scene set {truth_file}: {e}') from e
        self.scenes = [
            (folder / f'{stem}.jpg', objs)
            for stem, objs in sorted(truth.items())
            if (folder / f'{stem}.jpg').is_file()
        ]
        if not self.scenes:
            raise SourceError(
                f'scene set {folder}: none of the images listed in {truth_file.name} are there'
            )
        self.width, self.height, self.loop, self.label = width, height, loop, str(folder)
        self.index = 0

    def read(self) -> Frame:
        path, objs = self.scenes[self._next_index(len(self.scenes))]
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            raise SourceError(f'cannot read scene {path}')
        sx, sy = (
            (self.width / img.shape[1], self.height / img.shape[0])
            if self.width and self.height
            else (1, 1)
        )
        return Frame(_fit(img, self.width, self.height), _scene_objects(objs, sx, sy))

    def close(self):
        pass


COLOUR_EXTENSIONS = ('.png', '.jpg')


class RGBDSource(_Playlist):
    """
    An RGB-D folder (module docstring), frames in stem order; with its truth.json if asked.

    The layout is checked when the source opens: a missing or unreadable camera_info.yaml, a
    missing color/ or depth/ folder, a colour frame without its depth (or the reverse), a depth
    image that is not 16-bit or not the colour image's size raise SourceError saying which.
    """

    kind = 'rgbd'

    def __init__(self, folder: Path, width: int, height: int, loop: bool, truth: bool = False):
        folder = Path(folder)
        self.label = f'rgbd:{folder}'
        if not folder.is_dir():
            raise SourceError(f'{self.label}: no such folder')
        info_file = folder / 'camera_info.yaml'
        if not info_file.is_file():
            raise SourceError(
                f'{self.label}: no camera_info.yaml (camera_calibration_parsers YAML)'
            )
        try:
            info = parse_camera_info_yaml(info_file.read_text(errors='replace'))
        except CameraModelError as e:
            raise SourceError(f'{self.label}: camera_info.yaml: {e}') from e
        self.camera = Intrinsics.from_k(
            info['width'], info['height'], info['k'], info['distortion_model'], info['d']
        )
        self.info = info
        for sub in ('color', 'depth'):
            if not (folder / sub).is_dir():
                raise SourceError(f'{self.label}: no {sub}/ folder')
        colour: dict[str, Path] = {}
        for f in sorted((folder / 'color').iterdir()):
            if f.suffix.lower() in COLOUR_EXTENSIONS:
                if f.stem in colour:
                    raise SourceError(f'{self.label}: color/{f.stem} exists as .png and .jpg')
                colour[f.stem] = f
        depth = {f.stem: f for f in (folder / 'depth').iterdir() if f.suffix.lower() == '.png'}
        if not colour:
            raise SourceError(f'{self.label}: no .png or .jpg frames in color/')
        no_depth = sorted(set(colour) - set(depth))
        no_colour = sorted(set(depth) - set(colour))
        if no_depth:
            raise SourceError(
                f'{self.label}: {len(no_depth)} colour frame(s) without depth/<stem>.png, '
                f'first {no_depth[0]}'
            )
        if no_colour:
            raise SourceError(
                f'{self.label}: {len(no_colour)} depth frame(s) without a colour frame, '
                f'first {no_colour[0]}'
            )
        self.frames = [(colour[s], depth[s], s) for s in sorted(colour)]
        self.truth: dict = {}
        if truth:
            truth_file = folder / 'truth.json'
            try:
                self.truth = json.loads(truth_file.read_text())
            except (OSError, ValueError) as e:
                raise SourceError(f'{self.label}: truth.json: {e}') from e
        self.width, self.height, self.loop = width, height, loop
        self.index = 0
        self._load(*self.frames[0])  # a first frame that does not fit stops the node now

    def _load(self, colour_path: Path, depth_path: Path, stem: str):
        img = cv2.imread(str(colour_path), cv2.IMREAD_COLOR)
        dep = cv2.imread(str(depth_path), cv2.IMREAD_UNCHANGED)
        if img is None or dep is None:
            if not colour_path.exists() or not depth_path.exists():
                raise SourceError(f'{self.label}: frame {stem} is gone')
            raise BadFrame(f'{self.label}: cannot decode frame {stem}')
        if dep.dtype != np.uint16 or dep.ndim != 2:
            raise SourceError(
                f'{self.label}: depth/{depth_path.name} is {dep.dtype} with {dep.ndim} dims, '
                'not a 16-bit single-channel PNG in millimetres'
            )
        cam = (self.camera.width, self.camera.height)
        for name, a in (('color', img), ('depth', dep)):
            if (a.shape[1], a.shape[0]) != cam:
                raise SourceError(
                    f'{self.label}: {name} frame {stem} is {a.shape[1]}x{a.shape[0]}, '
                    f'camera_info.yaml says {cam[0]}x{cam[1]}'
                )
        return img, dep

    def read(self) -> Frame:
        colour_path, depth_path, stem = self.frames[self._next_index(len(self.frames))]
        img, dep = self._load(colour_path, depth_path, stem)
        camera = self.camera
        w, h = self.width or camera.width, self.height or camera.height
        sx, sy = w / camera.width, h / camera.height
        if (w, h) != (camera.width, camera.height):
            img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
            dep = cv2.resize(dep, (w, h), interpolation=cv2.INTER_NEAREST)
            camera = camera.scaled(w, h)
        frame = Frame(img, depth=dep, camera=camera)
        scene = self.truth.get(stem)
        if scene is not None:
            objs = scene['objects'] if isinstance(scene, dict) else scene
            frame.truth = _scene_objects(objs, sx, sy)
            frame.truth_3d = [o for o in objs if 'centre' in o]
            if isinstance(scene, dict) and (w, h) == (self.camera.width, self.camera.height):
                frame.camera_pose = scene.get('camera_pose')
        return frame

    def close(self):
        pass


class BagSource:
    """
    A ROS 2 bag (.db3 or MCAP, core.bags): colour paired with depth, at the recorded pace.

    ``ready()`` says whether the next frame is due (recorded log times over ``rate``); frames
    keep the recorded header. Checked when it opens (core.bags.BagReader); a bad message later
    is a BadFrame, counted in ``bad``.
    """

    kind = 'bag'

    def __init__(self, path: Path, width: int, height: int, loop: bool, topics, rate: float):
        from .bags import BagError, BagReader, Pacer

        self.label = f'bag:{path}'
        try:
            self.reader = BagReader(path, *topics)
        except BagError as e:
            raise SourceError(str(e)) from None
        self.width, self.height, self.loop = width, height, loop
        self.pacer = Pacer(rate)
        self.bad = 0
        self._frames = self.reader.frames()
        self._next = None  # (frame or error, log time) read ahead, waiting to be due

    def _peek(self):
        if self._next is None:
            try:
                self._next = next(self._frames)
            except StopIteration:
                if not self.loop:
                    raise EndOfSource(f'end of {self.label}') from None
                self._frames = self.reader.frames()
                self.pacer.restart()
                self._next = next(self._frames)
            except OSError as e:  # the file went away or broke under us
                raise SourceError(f'{self.label}: {e}') from None
        return self._next

    def ready(self) -> bool:
        import time

        return time.monotonic() >= self.pacer.due(self._peek()[1])

    def read(self) -> Frame:
        item, _ = self._peek()
        self._next = None
        if isinstance(item, str):
            self.bad += 1
            raise BadFrame(f'{self.label}: {item}')
        img, dep, camera = item.image, item.depth, item.camera
        w, h = self.width or img.shape[1], self.height or img.shape[0]
        if (w, h) != (img.shape[1], img.shape[0]):
            img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
            if dep is not None:
                dep = cv2.resize(dep, (w, h), interpolation=cv2.INTER_NEAREST)
            camera = camera.scaled(w, h) if camera is not None else None
        return Frame(img, depth=dep, camera=camera, stamp_ns=item.stamp_ns, frame_id=item.frame_id)

    def close(self):
        self._frames.close()


class CaptureSource:
    """A V4L2 device or a video file through OpenCV."""

    def __init__(self, target, width: int, height: int, loop: bool, is_device: bool):
        self.kind = 'device' if is_device else 'video'
        self.target, self.width, self.height, self.loop = target, width, height, loop
        self.cap = (
            cv2.VideoCapture(target, cv2.CAP_V4L2) if is_device else cv2.VideoCapture(str(target))
        )
        if not self.cap.isOpened():
            raise SourceError(f'cannot open {"device" if is_device else "video"} {target}')
        if is_device:
            self.cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
            self.cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
            self.cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)

    def read(self) -> Frame:
        ok, img = self.cap.read()
        if not ok and self.kind == 'video':
            if not self.loop:
                raise EndOfSource(f'end of {self.target}')
            self.cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, img = self.cap.read()
        if not ok or img is None:
            raise SourceError(f'no frame from {self.target}')
        return Frame(_fit(img, self.width, self.height))

    def close(self):
        self.cap.release()


class FolderSource(_Playlist):
    kind = 'images'

    def __init__(self, files: list[str], width: int, height: int, loop: bool, label: str):
        if not files:
            raise SourceError(f'no images in {label}')
        self.files, self.width, self.height, self.loop, self.label = (
            files,
            width,
            height,
            loop,
            label,
        )
        self.index = 0

    def read(self) -> Frame:
        i = self._next_index(len(self.files))
        path = self.files[i]
        img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
        if img is None:
            if not os.path.exists(path):
                raise SourceError(f'image {path} is gone')  # the folder vanished: reopen it
            del self.files[i]  # corrupt: skip it from now on
            self.index = i
            if not self.files:
                raise SourceError(f'no readable images left in {self.label}')
            raise BadFrame(f'cannot decode image {path}')
        if img.dtype != np.uint8:
            img = (img / 256).astype(np.uint8)
        return Frame(_fit(img, self.width, self.height))

    def close(self):
        pass


#: every kind of source, as the errors list them
SOURCE_KINDS = (
    "'synthetic', 'synthetic:fast', 'synthetic:DIR', 'rgbd:DIR', 'bag:PATH' (a ROS 2 bag, .db3 "
    "or MCAP), a V4L2 device ('0', '/dev/video0'), a video file, an image folder or a glob"
)


def open_source(
    spec: str,
    width: int,
    height: int,
    seed: int = 7,
    loop: bool = True,
    bag_topics=None,
    rate: float = 1.0,
):
    """
    Open what the camera node's ``source`` parameter names; raise SourceError if it cannot.

    ``bag_topics``: (colour, depth, camera_info) topics of a ``bag:`` source (default:
    realsense2_camera's), ``rate`` its playback rate factor.
    """
    spec = spec.strip()
    if spec.startswith('bag:'):
        from .bags import REALSENSE_COLOUR, REALSENSE_DEPTH, REALSENSE_INFO

        topics = bag_topics or (REALSENSE_COLOUR, REALSENSE_DEPTH, REALSENSE_INFO)
        path = Path(os.path.expanduser(spec[len('bag:'):]))
        return BagSource(path, width, height, loop, topics, rate)
    if spec == 'synthetic':
        return RGBDSource(DEFAULT_SCENES, width, height, loop, truth=True)
    if spec == 'synthetic:fast':
        return SyntheticSource(seed, width, height)
    if spec.startswith('synthetic:'):
        folder = Path(os.path.expanduser(spec[len('synthetic:'):]))
        if (folder / 'camera_info.yaml').is_file():  # glass-synth rgbd's folders
            return RGBDSource(folder, width, height, loop, truth=True)
        return SceneSetSource(folder, width, height, loop)
    if spec.startswith('rgbd:'):
        return RGBDSource(Path(os.path.expanduser(spec[len('rgbd:'):])), width, height, loop)
    if spec.isdigit():
        return CaptureSource(int(spec), width, height, loop, is_device=True)
    if spec.startswith('/dev/video'):
        if not os.path.exists(spec):
            raise SourceError(f'device {spec} does not exist')
        return CaptureSource(spec, width, height, loop, is_device=True)
    if any(ch in spec for ch in '*?['):
        files = sorted(
            f
            for f in glob.glob(os.path.expanduser(spec))
            if Path(f).suffix.lower() in IMAGE_EXTENSIONS
        )
        return FolderSource(files, width, height, loop, spec)
    p = Path(os.path.expanduser(spec))
    if p.is_dir():
        files = sorted(str(f) for f in p.iterdir() if f.suffix.lower() in IMAGE_EXTENSIONS)
        return FolderSource(files, width, height, loop, str(p))
    if p.is_file():
        if p.suffix.lower() in IMAGE_EXTENSIONS:
            return FolderSource([str(p)], width, height, loop, str(p))
        return CaptureSource(p, width, height, loop, is_device=False)
    raise SourceError(f'no such file, folder or device; a source is one of {SOURCE_KINDS}')
