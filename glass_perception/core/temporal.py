"""
Per-track evidence over time: steady labels, a fail-safe fragile flag and steady 3D positions.

Keyed by track id (``core.tracking``). Ids that are not track ids (empty, or ``#<i>``: a
per-frame index when the detector's tracker is ``none``) are never accumulated: each frame of
theirs stands alone. Every table is bounded: a track not seen for ``expiry_s`` (by the frames'
stamps) is forgotten, and past ``max_tracks`` the longest unseen goes first.

* :class:`LabelSmoother`: a running mean of each track's log-probabilities with forgetting
  (the mean of all frames so far until ``window`` frames, then an exponential window of about
  ``window`` frames), plus ``hysteresis`` nats on the label the track holds, normalised. A
  challenger takes over only when its mean log-probability leads by more than that.
* :class:`FragileLatch`: once a track is fragile it stays fragile until ``release_frames``
  consecutive frames say it is not: one or two doubtful frames never make a glass handled as
  a cup.
* :class:`PositionFilter`: a Kalman filter (OpenCV's) on a glass's position as a static object
  in a fixed frame (the robot's base or world frame, from TF): each frame's camera pose carries
  the camera-frame measurement into it, so an arm moving the camera is not mistaken for the
  glass moving, and the estimate is published back in the camera's optical frame. The frame's
  own covariance is the measurement noise and a random walk (``walk_sigma``) the process noise;
  a frame without a camera pose keeps its own estimates and the tracks start afresh after it.
  A Mahalanobis gate rejects outliers (and restarts the track after ``max_rejects`` in a row:
  the glass was moved); the published covariance is the posterior's.
  Height and diameter are averaged over the frames where they were measured.
"""

from __future__ import annotations

from dataclasses import dataclass
import math

import cv2
import numpy as np

UNTRACKED_PREFIX = '#'


MAX_ID_LENGTH = 64


def check_ids(ids) -> None:
    """
    Raise ValueError unless a frame's detection ids can key per-track state.

    Each is at most MAX_ID_LENGTH printable ASCII characters, and no two are the same
    (empty ids excepted: detections nobody tracks).
    """
    seen = set()
    for det_id in ids:
        if len(det_id) > MAX_ID_LENGTH:
            raise ValueError(
                f'a detection id of {len(det_id)} characters (at most {MAX_ID_LENGTH})'
            )
        if not (det_id.isascii() and det_id.isprintable()):
            raise ValueError(f'detection id {det_id[:20]!r} is not printable ASCII')
        if det_id and det_id in seen:
            raise ValueError(f'detection id {det_id!r} twice in one frame')
        seen.add(det_id)


def is_track_id(det_id: str) -> bool:
    """Return True for a tracker's id; False for '' and per-frame indices ('#0')."""
    return bool(det_id) and not det_id.startswith(UNTRACKED_PREFIX)


class TrackTable:
    """A bounded dict of per-track state, expired by stamp."""

    def __init__(self, expiry_s: float, max_tracks: int):
        self.expiry_s, self.max_tracks = expiry_s, max_tracks
        self.state: dict[str, object] = {}
        self.seen: dict[str, float] = {}
        self.expired = 0

    def get(self, key: str):
        return self.state.get(key)

    def put(self, key: str, value, stamp_s: float) -> None:
        self.state[key] = value
        self.seen[key] = stamp_s

    def expire(self, now_s: float) -> None:
        """Forget tracks unseen for expiry_s; then the oldest beyond max_tracks."""
        old = [k for k, t in self.seen.items() if now_s - t > self.expiry_s or t > now_s + 60]
        extra = len(self.seen) - len(old) - self.max_tracks
        if extra > 0:
            keep = sorted((t, k) for k, t in self.seen.items() if k not in set(old))
            old += [k for _, k in keep[:extra]]
        for k in old:
            self.state.pop(k, None)
            self.seen.pop(k, None)
        self.expired += len(old)

    def __len__(self) -> int:
        return len(self.state)


@dataclass(frozen=True)
class LabelSettings:
    window: float = 8.0  # frames; 1 = frame by frame
    hysteresis: float = 0.7  # nats
    expiry_s: float = 2.0
    max_tracks: int = 1000


@dataclass
class _LabelState:
    names: tuple[str, ...]
    mean_log: np.ndarray
    frames: int = 0
    held: int = -1


class LabelSmoother:
    """Running mean of log-probabilities per track with hysteresis; see the module docstring."""

    def __init__(self, settings: LabelSettings):
        self.settings = settings
        self.tracks = TrackTable(settings.expiry_s, settings.max_tracks)

    def update(self, det_id: str, stamp_s: float, ranked) -> list[tuple[str, float]]:
        """Return the smoothed ranked (class, probability) of a frame's (class, probability)."""
        if not ranked or not is_track_id(det_id):
            return list(ranked)
        names = tuple(sorted(c for c, _ in ranked))
        probs = dict(ranked)
        log_p = np.log(np.clip([probs[c] for c in names], 1e-6, 1.0))
        state = self.tracks.get(det_id)
        if state is None or state.names != names:
            state = _LabelState(names, log_p.copy())
        else:
            rate = max(1.0 / max(self.settings.window, 1.0), 1.0 / (state.frames + 1))
            state.mean_log = (1.0 - rate) * state.mean_log + rate * log_p
        state.frames += 1
        score = state.mean_log.copy()
        if state.held >= 0:
            score[state.held] += self.settings.hysteresis
        post = np.exp(score - score.max())
        post /= post.sum()
        state.held = int(np.argmax(post))
        self.tracks.put(det_id, state, stamp_s)
        return sorted(zip(names, (float(p) for p in post)), key=lambda cp: -cp[1])

    def frames(self, det_id: str) -> int:
        state = self.tracks.get(det_id)
        return state.frames if state else 0

    def expire(self, now_s: float) -> None:
        self.tracks.expire(now_s)


class FragileLatch:
    """Fragile until ``release_frames`` frames in a row say otherwise; see the module docstring."""

    def __init__(self, release_frames: int, expiry_s: float, max_tracks: int = 1000):
        self.release_frames = release_frames
        self.tracks = TrackTable(expiry_s, max_tracks)

    def update(self, det_id: str, stamp_s: float, fragile_now: bool) -> bool:
        if not is_track_id(det_id):
            return fragile_now
        latched, calm = self.tracks.get(det_id) or (False, 0)
        if fragile_now:
            latched, calm = True, 0
        elif latched:
            calm += 1
            if calm >= self.release_frames:
                latched, calm = False, 0
        self.tracks.put(det_id, (latched, calm), stamp_s)
        return latched or fragile_now

    def expire(self, now_s: float) -> None:
        self.tracks.expire(now_s)


@dataclass(frozen=True)
class PositionSettings:
    walk_sigma: float = 0.003  # m/sqrt(s): how far a static glass's estimate may wander
    gate: float = 16.27  # chi-square, 3 dof, p = 0.999
    max_rejects: int = 3
    size_window: float = 10.0  # frames of the height/diameter mean
    expiry_s: float = 2.0
    max_tracks: int = 1000


@dataclass
class Smoothed:
    position: np.ndarray  # (3,) filtered, in the camera's optical frame now
    covariance: np.ndarray  # (3, 3) posterior, same frame
    height: float
    diameter: float
    frames: int
    rejected: bool  # this frame's measurement was an outlier (not used)


@dataclass
class _Track:
    kf: cv2.KalmanFilter
    stamp: float
    breaks: int  # PositionFilter.breaks at the last update
    frames: int = 1
    rejects: int = 0
    size_frames: int = 0
    height: float = 0.0
    diameter: float = 0.0


def _kalman(position: np.ndarray, covariance: np.ndarray) -> cv2.KalmanFilter:
    kf = cv2.KalmanFilter(3, 3, 0, cv2.CV_64F)
    kf.transitionMatrix = np.eye(3)
    kf.measurementMatrix = np.eye(3)
    kf.statePost = position.reshape(3, 1).astype(np.float64)
    kf.errorCovPost = covariance.astype(np.float64)
    return kf


class PositionFilter:
    """
    Per-track Kalman filter of a static glass, in a frame that does not move with the camera.

    ``pose`` (4x4, p_camera = pose @ p_fixed) is where the camera is in the fixed frame, from TF
    (:meth:`set_pose`, each frame); after a frame where it was unknown, every track starts afresh
    from its next measurement. See the module docstring.
    """

    def __init__(self, settings: PositionSettings):
        self.settings = settings
        self.tracks = TrackTable(settings.expiry_s, settings.max_tracks)
        self.pose = np.eye(4)
        self.breaks = 0
        self.rejected = 0

    def set_pose(self, pose: np.ndarray | None) -> None:
        """Set this frame's camera pose (p_camera = pose @ p_fixed); None: unknown."""
        if pose is None:
            self.breaks += 1
        else:
            self.pose = np.asarray(pose, np.float64)

    def _to_world(self, position, covariance):
        rot, t = self.pose[:3, :3], self.pose[:3, 3]
        return rot.T @ (position - t), rot.T @ covariance @ rot

    def _predicted(self, track: _Track, stamp_s: float) -> tuple[np.ndarray, np.ndarray]:
        s = self.settings
        dt = float(np.clip(stamp_s - track.stamp, 0.0, 10.0))
        q = s.walk_sigma**2 * dt
        return np.array(track.kf.statePost[:, 0]), track.kf.errorCovPost + np.eye(3) * q

    def update(
        self,
        det_id: str,
        stamp_s: float,
        position: np.ndarray,
        covariance: np.ndarray,
        height: float,
        diameter: float,
        size_measured: bool,
    ) -> Smoothed:
        position = np.asarray(position, np.float64)
        covariance = np.asarray(covariance, np.float64)
        if not is_track_id(det_id):
            return Smoothed(position, covariance, height, diameter, 1, False)
        z, r = self._to_world(position, covariance)
        track = self.tracks.get(det_id)
        if track is None or stamp_s < track.stamp - 1e-9 or track.breaks != self.breaks:
            # new, time went back, or the camera's pose was unknown since: start afresh
            return self._start(det_id, stamp_s, z, r, height, diameter, size_measured)
        x, p = self._predicted(track, stamp_s)
        innovation = z - x
        d2 = float(innovation @ np.linalg.solve(p + r, innovation))
        kf = track.kf
        kf.statePre, kf.errorCovPre = x.reshape(3, 1), p
        kf.measurementNoiseCov = r
        track.stamp, track.breaks = stamp_s, self.breaks
        track.frames += 1
        if not math.isfinite(d2) or d2 > self.settings.gate:
            track.rejects += 1
            if track.rejects >= self.settings.max_rejects:  # it moved: start again from here
                return self._start(det_id, stamp_s, z, r, height, diameter, size_measured)
            self.rejected += 1
            kf.statePost, kf.errorCovPost = x.reshape(3, 1), p
            self.tracks.put(det_id, track, stamp_s)
            return self._out(track, True, height, diameter)
        track.rejects = 0
        kf.correct(z.reshape(3, 1))
        self._size(track, height, diameter, size_measured)
        self.tracks.put(det_id, track, stamp_s)
        return self._out(track, False, height, diameter)

    def _start(self, det_id, stamp_s, z, r, height, diameter, size_measured) -> Smoothed:
        track = _Track(_kalman(z, r), stamp_s, self.breaks)
        self._size(track, height, diameter, size_measured)
        self.tracks.put(det_id, track, stamp_s)
        return self._out(track, False, height, diameter)

    def _size(self, track: _Track, height: float, diameter: float, measured: bool) -> None:
        if not measured:
            return
        track.size_frames += 1
        rate = max(1.0 / self.settings.size_window, 1.0 / track.size_frames)
        track.height += rate * (height - track.height)
        track.diameter += rate * (diameter - track.diameter)

    def _out(self, track: _Track, rejected: bool, height: float, diameter: float) -> Smoothed:
        rot, t = self.pose[:3, :3], self.pose[:3, 3]
        cov = rot @ track.kf.errorCovPost @ rot.T
        sized = track.size_frames > 0
        return Smoothed(
            position=rot @ track.kf.statePost[:, 0] + t,
            covariance=(cov + cov.T) / 2.0,
            height=track.height if sized else height,
            diameter=track.diameter if sized else diameter,
            frames=track.frames,
            rejected=rejected,
        )

    def expire(self, now_s: float) -> None:
        self.tracks.expire(now_s)


class TrackSmoothing:
    """What the localizer keeps per track: a PositionFilter and a FragileLatch."""

    def __init__(self, positions: PositionSettings, release_frames: int):
        self.positions = PositionFilter(positions)
        self.latch = FragileLatch(release_frames, positions.expiry_s, positions.max_tracks)

    def smooth_frame(self, stamp_s: float, pose, located) -> None:
        """
        Replace each (id, core.localizer.Localization)'s estimate by its track's, in place.

        ``pose``: the camera in the fixed frame at this frame (p_camera = pose @ p_fixed), or None
        where TF does not say: then the frame's own estimates stay, and the tracks start afresh.
        """
        self.positions.set_pose(pose)
        if pose is None:
            return  # the frame's own estimates, unchanged
        for det_id, loc in located:
            self.smooth(det_id, stamp_s, loc)

    def smooth(self, det_id: str, stamp_s: float, loc) -> Smoothed:
        """
        Average one glass's base point (where it stands: what a grasp is planned from) in place.

        The centre follows from the averaged base, the frame's axis and the averaged height; the
        covariance is the filter's (the frame's own is the centre's, used as the base's).
        """
        track = self.positions.tracks.get(det_id)
        was_measured = track is not None and track.size_frames > 0
        out = self.positions.update(
            det_id,
            stamp_s,
            loc.base,
            loc.covariance,
            loc.height,
            loc.diameter,
            loc.size_measured,
        )
        if loc.size_measured or was_measured:
            loc.height, loc.diameter = out.height, out.diameter
            loc.size_measured = True
        loc.base = out.position
        loc.centre = out.position + np.asarray(loc.axis, np.float64) * (loc.height / 2.0)
        loc.covariance = out.covariance
        return out

    def fragile(self, det_id: str, stamp_s: float, fragile_now: bool) -> bool:
        return self.latch.update(det_id, stamp_s, fragile_now)

    def expire(self, now_s: float) -> None:
        self.positions.expire(now_s)
        self.latch.expire(now_s)


class TrackLabels:
    """What the classifier keeps per track: a LabelSmoother and a FragileLatch."""

    def __init__(self, settings: LabelSettings, release_frames: int):
        self.smoother = LabelSmoother(settings)
        self.latch = FragileLatch(release_frames, settings.expiry_s, settings.max_tracks)

    def frame(self, stamp_s: float, dets, fragile_classes, threshold: float):
        """
        Return (smoothed ranked, fragile) per (id, the frame's ranked) of one frame.

        Fragile: the smoothed summed fragile probability at or above ``threshold``, latched.
        """
        fragile_classes = set(fragile_classes)
        out = []
        for det_id, ranked in dets:
            smooth = self.smoother.update(det_id, stamp_s, ranked)
            score = sum(p for c, p in smooth if c in fragile_classes)
            out.append((smooth, self.latch.update(det_id, stamp_s, score >= threshold)))
        self.smoother.expire(stamp_s)
        self.latch.expire(stamp_s)
        return out
