"""
Path-traced RGB-D sequences with ground-truth ids: the camera moves as on a robot arm.

A sequence is one table (``rgbd_recipe``'s lighting, table and wall) with 3-5 objects, every
glass class at least once, and a camera that, over its frames:

* **orbits** the objects 35-60 degrees in azimuth, so that one glass, placed behind another on
  the line of sight of the sweep's middle, passes behind it;
* **approaches**, from 0.85-1.1 m to 0.5-0.65 m, while the point it looks at pans sideways: an
  object set off to one side enters or leaves the view;
* **holds still** half way, for 35 % of the frames (the arm planning its grasp; each move
  starts and ends at rest), where the glasses are static in the camera's view too;
* **shakes** as a wrist camera on a moving arm does: a sway (2-5 mm at 0.3-1 Hz, one
  sinusoid per axis) and a vibration (0.5-1 mm at 6-12 Hz, which at 10 frames a second is a
  new offset each frame).

Frames are FPS apart in time (10 Hz: a slow arm move at the render cost of 5 s a frame). Every
object keeps one ``track_id`` (its index in the recipe) in every frame's truth, and each frame
records its camera pose (world in metres to the optical frame), so that an evaluation can tell
a static glass's real jitter from the camera's motion. Each sequence is one ``rgbd:DIR`` folder
(``camera_info.yaml``, ``color/``, ``depth/``, ``truth.json``) plus ``sequence.json``; a
sequence is a pure function of (seed, index, frames, quality).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
import json
import math
from pathlib import Path

import numpy as np

from .pbr import make_object, Part, VARIANTS
from .rgbd import camera_info_yaml, FX, render_rgbd_recipe, rgbd_recipe, WIDTH, write_rgbd_frame
from ..core.synthetic import ALL_KINDS, CLASSES

FPS = 10.0
HOLD = 0.35  # the fraction of a sequence's frames the arm holds still
DISTRACTORS = tuple(k for k in ALL_KINDS if k not in CLASSES)


@dataclass
class CameraPath:
    """The camera over a sequence, in the scene's centimetres."""

    azimuth_deg: tuple[float, float]
    distance_cm: tuple[float, float]
    down_deg: float
    target_x_cm: tuple[float, float]
    target_y_cm: float
    target_z_cm: float
    sway_cm: float
    sway_hz: np.ndarray  # 3 frequencies, one per axis
    vibration_cm: float
    vibration_hz: np.ndarray
    phase: np.ndarray  # 6 phases

    def pose(self, s: float, t: float) -> tuple[tuple, tuple]:
        """Return (origin, target) at progress s in [0, 1] along the path and time t [s]."""
        ease = 0.5 - 0.5 * math.cos(math.pi * s)
        az = math.radians(self.azimuth_deg[0] + (self.azimuth_deg[1] - self.azimuth_deg[0]) * s)
        dist = self.distance_cm[0] + (self.distance_cm[1] - self.distance_cm[0]) * ease
        down = math.radians(self.down_deg)
        tx = self.target_x_cm[0] + (self.target_x_cm[1] - self.target_x_cm[0]) * s
        target = np.array([tx, self.target_y_cm, self.target_z_cm])
        offset = dist * np.array(
            [math.cos(down) * math.sin(az), math.sin(down), math.cos(down) * math.cos(az)]
        )
        shake = self.sway_cm * np.sin(2 * math.pi * self.sway_hz * t + self.phase[:3])
        shake += self.vibration_cm * np.sin(2 * math.pi * self.vibration_hz * t + self.phase[3:])
        origin = target + offset + shake
        # the wrist turns less than it moves: the aim point shakes a third as much
        return tuple(float(v) for v in origin), tuple(float(v) for v in target + shake / 3.0)


def _place(rng, kind: str, x: float, z: float):
    obj = make_object(rng, kind, str(rng.choice(VARIANTS[kind])))
    yaw = rng.uniform(0, 2 * math.pi)
    obj.x, obj.z = float(x), float(z)
    obj.parts = [Part(p.mesh.transformed(yaw, x, z), p.bsdf) for p in obj.parts]
    return obj


def _free(obj_footprint: float, x: float, z: float, placed) -> bool:
    return all(math.hypot(x - o.x, z - o.z) > obj_footprint + o.footprint + 1.0 for o in placed)


def sequence_recipe(seed: int, index: int):
    """Return (recipe, camera path): the table, its objects and how the camera moves."""
    recipe = rgbd_recipe(seed, index)
    rng = np.random.default_rng([int(seed), int(index), 4711])
    kinds = list(rng.permutation(CLASSES))
    kinds += [str(rng.choice(ALL_KINDS)) for _ in range(int(rng.integers(0, 3)))]
    objects = []
    # the pair: one glass behind another on the line of sight of the sweep's middle (azimuth 0)
    front_x = rng.uniform(-6.0, 6.0)
    objects.append(_place(rng, kinds[0], front_x, rng.uniform(6.0, 10.0)))
    objects.append(
        _place(rng, kinds[1], front_x + rng.uniform(-2.0, 2.0), rng.uniform(-12.0, -7.0))
    )
    # one to the side, beyond the view at one end of the pan
    side = float(rng.choice([-1.0, 1.0]))
    objects.append(_place(rng, kinds[2], side * rng.uniform(24.0, 32.0), rng.uniform(-6.0, 6.0)))
    for kind in kinds[3:]:
        for _attempt in range(30):
            x, z = rng.uniform(-20.0, 20.0), rng.uniform(-14.0, 14.0)
            probe = _place(rng, kind, x, z)
            if _free(probe.footprint, x, z, objects):
                objects.append(probe)
                break
    recipe.objects = objects
    sweep = rng.uniform(35.0, 60.0)
    start = -sweep / 2.0 + rng.uniform(-5.0, 5.0)
    azimuth = (start, start + sweep) if rng.random() < 0.5 else (start + sweep, start)
    pan = side * float(rng.choice([-1.0, 1.0]))  # towards the side object, or away from it
    path = CameraPath(
        azimuth_deg=azimuth,
        distance_cm=(rng.uniform(85.0, 110.0), rng.uniform(50.0, 65.0)),
        down_deg=float(rng.uniform(25.0, 45.0)),
        target_x_cm=(-8.0 * pan, 8.0 * pan),
        target_y_cm=float(rng.uniform(4.0, 7.0)),
        target_z_cm=float(rng.uniform(-3.0, 3.0)),
        sway_cm=float(rng.uniform(0.2, 0.5)),
        sway_hz=rng.uniform(0.3, 1.0, 3),
        vibration_cm=float(rng.uniform(0.05, 0.1)),
        vibration_hz=rng.uniform(6.0, 12.0, 3),
        phase=rng.uniform(0, 2 * math.pi, 6),
    )
    return recipe, path


def arm_progress(frame: int, frames: int) -> tuple[float, bool]:
    """
    Return (progress along the camera path, whether the arm holds still) of a frame.

    The arm moves through the first half of the path, holds still for HOLD of the frames (it
    plans its grasp; the camera still sways and vibrates), then moves through the second half;
    each move starts and ends at rest.
    """
    u = frame / max(1, frames - 1)
    move = (1.0 - HOLD) / 2.0
    if u < move:
        return 0.25 - 0.25 * math.cos(math.pi * u / move), False
    if u <= move + HOLD:
        return 0.5, True
    return 0.75 - 0.25 * math.cos(math.pi * (u - move - HOLD) / move), False


def frame_recipe(recipe, path: CameraPath, frame: int, frames: int):
    """Return the recipe of one frame: the sequence's scene seen from the camera at that time."""
    out = copy.copy(recipe)
    s, _ = arm_progress(frame, frames)
    out.camera_origin, out.camera_target = path.pose(s, frame / FPS)
    out.fov = math.degrees(2.0 * math.atan(WIDTH / 2.0 / FX))
    out.roll = 0.0
    return out


def sequence_name(seed: int, index: int) -> str:
    return f'seq{seed}_{index:03d}'


def export_sequence(
    root, seed: int, index: int, frames: int, quality: str = 'fast', progress=lambda it: it
) -> Path:
    """
    Render sequence ``index`` of stream ``seed`` into ``root/seq<seed>_<index>``; return it.

    Resumable: the truth is saved after every frame and a second run renders only what is
    missing; a folder rendered with other settings is refused.
    """
    from ..core.atomic import atomic_write_text

    folder = Path(root) / sequence_name(seed, index)
    (folder / 'color').mkdir(parents=True, exist_ok=True)
    (folder / 'depth').mkdir(parents=True, exist_ok=True)
    settings = {'seed': int(seed), 'index': int(index), 'frames': int(frames)}
    settings.update({'quality': quality, 'fps': FPS})
    meta_file = folder / 'sequence.json'
    if meta_file.is_file() and json.loads(meta_file.read_text()) != settings:
        raise ValueError(
            f'{folder} holds a sequence rendered with {meta_file.read_text()}, not {settings}'
        )
    atomic_write_text(meta_file, json.dumps(settings))
    atomic_write_text(folder / 'camera_info.yaml', camera_info_yaml())
    truth_file = folder / 'truth.json'
    truth = json.loads(truth_file.read_text()) if truth_file.is_file() else {}
    recipe, path = sequence_recipe(seed, index)
    for frame in progress(range(frames)):
        stem = f'{frame:04d}'
        colour, depth = folder / 'color' / f'{stem}.jpg', folder / 'depth' / f'{stem}.png'
        if stem in truth and colour.is_file() and depth.is_file():
            continue
        scene = render_rgbd_recipe(
            frame_recipe(recipe, path, frame, frames),
            seed,
            index * 10_000 + frame,
            quality,
            track_ids=True,
        )
        write_rgbd_frame(colour, depth, scene)
        truth[stem] = {
            **scene.truth_json(with_pose=True),
            'time_s': round(frame / FPS, 4),
            'camera_holding': arm_progress(frame, frames)[1],
        }
        atomic_write_text(truth_file, json.dumps(truth, indent=1, sort_keys=True))
    return folder


def sequence_folders(root) -> list[Path]:
    """Return the sequence folders under ``root`` (or ``root`` itself if it is one), sorted."""
    root = Path(root)
    if (root / 'sequence.json').is_file():
        return [root]
    return sorted(p.parent for p in root.glob('*/sequence.json'))
