"""
ROS 2 bags without a ROS distro: the camera node's ``bag:PATH`` source and the bag writers.

Reading and writing use the ``rosbags`` library (pure Python, no distro): a bag is a rosbag2
folder (``metadata.yaml`` with ``.db3`` or ``.mcap`` files, what ``ros2 bag record`` writes) or a
single ``.mcap`` file. Messages are deserialised with the bag's own message definitions where it
carries them (MCAP, rosbag2 version 8 and later), else with ROS 2 Kilted's, to which this
package's ``vision_msgs`` and ``tf2_msgs`` definitions are added (``typestore``).

``BagSource`` plays one colour topic (``sensor_msgs/Image`` or ``CompressedImage``), optionally
an aligned depth topic (``Image`` 16UC1 / 32FC1, or ``CompressedImage`` in image_transport's
``compressedDepth`` format) and a ``camera_info`` topic, with realsense2_camera's names by default.
A bag without realsense2_camera's colour topic that ``glass-pipeline --record`` wrote plays its own
camera topics (``own_layout``). Colour and depth are paired by their header stamps, as recorded;
frames keep the recorded header (stamp, frame_id) and come out at the recorded pace times
``rate``. A bag that cannot be opened,
lacks a chosen topic, or whose first colour or depth message has an encoding this package does not
read, raises ``SourceError`` at once with one line naming the file; a bad message in the middle
raises ``BadFrame`` (the node skips it, logs a throttled line and counts it). No ROS here.
"""

from __future__ import annotations

from dataclasses import dataclass
import os
from pathlib import Path
import sys
import time

import cv2
import numpy as np

from .camera_model import CameraModelError, Intrinsics
from .image_codec import compressed_depth_mm, compressed_to_bgr

#: realsense2_camera's topics with align_depth.enable:=true (namespace camera, node camera)
REALSENSE_COLOUR = '/camera/camera/color/image_raw'
REALSENSE_DEPTH = '/camera/camera/aligned_depth_to_color/image_raw'
REALSENSE_INFO = '/camera/camera/color/camera_info'
IMAGE = 'sensor_msgs/msg/Image'
COMPRESSED = 'sensor_msgs/msg/CompressedImage'
INFO = 'sensor_msgs/msg/CameraInfo'
COLOUR_ENCODINGS = ('bgr8', 'rgb8', 'bgra8', 'rgba8', 'mono8')
DEPTH_ENCODINGS = ('16UC1', 'mono16', '32FC1')
#: depth and colour of one frame whose stamps differ by more than this are not paired
PAIR_SKEW_NS = 20_000_000


class BagError(ValueError):
    """A bag cannot be read or written as asked (one line, naming the file)."""


def _share_dirs() -> list[Path]:
    prefixes = [p for p in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep) if p]
    return [Path(p) / 'share' for p in prefixes] + [Path(sys.prefix) / 'share']


def typestore():
    """
    Return ROS 2 Kilted's message types with this package's vision_msgs and tf2_msgs added.

    The .msg files come from an installed interface package (``share/<pkg>/msg`` under the
    ament prefixes or this interpreter's prefix), else from the package's ``interfaces`` folder.
    """
    from rosbags.typesys import get_types_from_msg, get_typestore, Stores

    store = get_typestore(Stores.ROS2_KILTED)
    source = Path(__file__).resolve().parents[2] / 'interfaces'
    for package in ('vision_msgs', 'tf2_msgs'):
        if f'{package}/msg/' in ' '.join(store.types):
            continue
        folders = [d / package / 'msg' for d in _share_dirs()] + [source / package / 'msg']
        folder = next((f for f in folders if f.is_dir() and any(f.glob('*.msg'))), None)
        if folder is None:
            continue
        types = {}
        for f in sorted(folder.glob('*.msg')):
            types.update(get_types_from_msg(f.read_text(), f'{package}/msg/{f.stem}'))
        store.register(types)
    return store


# ---- decoding ---------------------------------------------------------------------------------
def decode_colour(msg, msgtype: str) -> np.ndarray:
    """Return a colour image message as BGR uint8; ValueError saying why it cannot."""
    if msgtype == COMPRESSED:
        return compressed_to_bgr(msg)
    enc = msg.encoding
    if enc not in COLOUR_ENCODINGS:
        raise ValueError(f"colour encoding '{enc}' is not one of {', '.join(COLOUR_ENCODINGS)}")
    channels = {'mono8': 1, 'bgr8': 3, 'rgb8': 3, 'bgra8': 4, 'rgba8': 4}[enc]
    data = np.frombuffer(bytes(msg.data), np.uint8)
    if msg.step < msg.width * channels or len(data) < msg.step * msg.height:
        raise ValueError(f'{len(data)} bytes cannot hold {msg.width}x{msg.height} {enc}')
    rows = data[: msg.step * msg.height].reshape(msg.height, msg.step)
    img = rows[:, : msg.width * channels].reshape(msg.height, msg.width, channels)
    code = {
        'mono8': cv2.COLOR_GRAY2BGR,
        'rgb8': cv2.COLOR_RGB2BGR,
        'bgra8': cv2.COLOR_BGRA2BGR,
        'rgba8': cv2.COLOR_RGBA2BGR,
    }.get(enc)
    return cv2.cvtColor(img, code) if code is not None else img.copy()


def decode_depth(msg, msgtype: str) -> np.ndarray:
    """
    Return a depth image message as uint16 millimetres (0 = no reading); ValueError if it cannot.

    ``Image`` 16UC1 / mono16 (millimetres) or 32FC1 (metres; NaN and inf are no reading), or
    ``CompressedImage`` as image_transport's compressedDepth writes it: a 12-byte header (the
    format and two quantisation floats) then a 16-bit PNG of millimetres.
    """
    if msgtype == COMPRESSED:
        return compressed_depth_mm(msg.data, str(msg.format))
    enc = msg.encoding
    if enc not in DEPTH_ENCODINGS:
        raise ValueError(f"depth encoding '{enc}' is not one of {', '.join(DEPTH_ENCODINGS)}")
    size = 4 if enc == '32FC1' else 2
    data = bytes(msg.data)
    if msg.step < msg.width * size or len(data) < msg.step * msg.height:
        raise ValueError(f'{len(data)} bytes cannot hold {msg.width}x{msg.height} {enc}')
    dtype = np.dtype('<f4' if size == 4 else '<u2').newbyteorder('>' if msg.is_bigendian else '<')
    rows = np.frombuffer(data[: msg.step * msg.height], np.uint8).reshape(msg.height, msg.step)
    dep = rows[:, : msg.width * size].copy().view(dtype).reshape(msg.height, msg.width)
    if size == 4:
        metres = np.where(np.isfinite(dep) & (dep > 0), dep, 0.0)
        return np.clip(np.rint(metres * 1000.0), 0, 65535).astype(np.uint16)
    return dep.astype(np.uint16)


def intrinsics(msg) -> Intrinsics:
    """Return a CameraInfo message's calibration; CameraModelError when it has none."""
    return Intrinsics.from_k(
        int(msg.width), int(msg.height), list(msg.k), msg.distortion_model, list(msg.d)
    )


def stamp_ns(msg) -> int:
    return int(msg.header.stamp.sec) * 1_000_000_000 + int(msg.header.stamp.nanosec)


# ---- reading ----------------------------------------------------------------------------------
@dataclass
class BagFrame:
    """What BagSource gives per colour message, with the recorded header."""

    image: np.ndarray
    depth: np.ndarray | None
    camera: Intrinsics | None
    stamp_ns: int
    frame_id: str


def open_reader(path: Path):
    """Open a rosbag2 folder or a single .mcap file with rosbags; BagError naming the file."""
    from rosbags.highlevel import AnyReader

    path = Path(path)
    if not path.exists():
        raise BagError(f'{path}: no such bag (a rosbag2 folder or a .mcap file)')
    try:
        reader = AnyReader([path], default_typestore=typestore())
        reader.open()
    except Exception as e:  # rosbags raises its own errors, and sqlite3 / OS ones beneath
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise BagError(f'{path}: not a readable ROS 2 bag ({reason})') from None
    return reader


def own_layout(available: dict[str, str]) -> dict[str, str] | None:
    """
    Return the camera topics of a bag glass-pipeline --record wrote, or None.

    ``<ns>/camera/image_raw``, ``<ns>/camera/depth/image_raw`` and ``<ns>/camera/camera_info``
    (the camera node's topics), when the bag holds exactly one such colour topic.
    """
    colours = [t for t in available if t.endswith('/camera/image_raw')]
    if len(colours) != 1:
        return None
    ns = colours[0][: -len('camera/image_raw')]
    depth, info = f'{ns}camera/depth/image_raw', f'{ns}camera/camera_info'
    return {
        'color': colours[0],
        'depth': depth if depth in available else '',
        'info': info if info in available else '',
    }


class BagReader:
    """
    Colour frames of a bag, paired with depth by stamp, in recorded order (module docstring).

    ``frames()`` yields (BagFrame or an error text for a bad message, log time in ns).
    """

    def __init__(self, path: Path, colour: str, depth: str = '', info: str = ''):
        self.path = Path(path)
        self.topics = {'color': colour, 'depth': depth, 'info': info}
        reader = open_reader(self.path)
        try:
            available = {c.topic: c.msgtype for c in reader.connections}
            own = own_layout(available)
            if colour == REALSENSE_COLOUR and colour not in available and own:
                # not a realsense2_camera bag but one this package recorded: its own topics
                self.topics = own
            for role, topic in self.topics.items():
                if not topic:
                    continue
                if topic not in available:
                    listed = ', '.join(sorted(available)) or 'none'
                    raise BagError(
                        f"{self.path}: no {role} topic '{topic}' in the bag (it has: {listed}); "
                        f"set bag_{role}_topic{' (empty for none)' if role != 'color' else ''}"
                    )
                want = (INFO,) if role == 'info' else (IMAGE, COMPRESSED)
                if available[topic] not in want:
                    raise BagError(
                        f"{self.path}: {role} topic '{topic}' holds {available[topic]}, "
                        f"not {' or '.join(want)}"
                    )
            self.msgtypes = {role: available.get(t) for role, t in self.topics.items() if t}
            self.count = sum(
                c.msgcount for c in reader.connections if c.topic == self.topics['color']
            )
            if not self.count:
                raise BagError(f"{self.path}: color topic '{colour}' has no messages")
            self._check_first(reader)
        finally:
            reader.close()

    def _check_first(self, reader) -> None:
        """
        Decode the first message of each topic: a wrong encoding stops the start now.

        The first camera_info is kept: frames before the first camera_info of a loop use it.
        """
        wanted = {t: role for role, t in self.topics.items() if t}
        seen = set()
        self.first_camera = None
        conns = [c for c in reader.connections if c.topic in wanted]
        for conn, _, raw in reader.messages(connections=conns):
            role = wanted[conn.topic]
            if role in seen:
                continue
            try:
                msg = reader.deserialize(raw, conn.msgtype)
                if role == 'info':
                    self.first_camera = intrinsics(msg)
                else:
                    (decode_colour if role == 'color' else decode_depth)(msg, conn.msgtype)
            except Exception as e:
                raise BagError(f"{self.path}: {role} topic '{conn.topic}': {e}") from None
            seen.add(role)
            if len(seen) == len(wanted):
                return

    def frames(self):
        reader = open_reader(self.path)
        try:
            by_topic = {t: role for role, t in self.topics.items() if t}
            conns = [c for c in reader.connections if c.topic in by_topic]
            camera = self.first_camera
            colours: list[tuple[int, int, object]] = []  # (stamp, log time, msg)
            depths: dict[int, np.ndarray] = {}
            need_depth = bool(self.topics['depth'])
            for conn, log_ns, raw in reader.messages(connections=conns):
                role = by_topic[conn.topic]
                try:
                    msg = reader.deserialize(raw, conn.msgtype)
                    if role == 'info':
                        camera = intrinsics(msg)
                        continue
                    if role == 'depth':
                        depths[stamp_ns(msg)] = decode_depth(msg, conn.msgtype)
                    else:
                        colours.append((stamp_ns(msg), log_ns, msg))
                except (ValueError, CameraModelError, KeyError, AttributeError) as e:
                    yield f'{conn.topic} at {log_ns / 1e9:.3f} s: {e}', log_ns
                    continue
                except Exception as e:  # a message rosbags cannot deserialise
                    yield f'{conn.topic} at {log_ns / 1e9:.3f} s: undecodable ({e})', log_ns
                    continue
                # a colour frame goes out once its depth is here, or once the depth has moved on
                while colours:
                    stamp, log, cmsg = colours[0]
                    match = _nearest(depths, stamp)
                    later = max(depths) if depths else None
                    waiting = later is None or later < stamp + PAIR_SKEW_NS
                    if need_depth and match is None and waiting:
                        break
                    colours.pop(0)
                    yield self._frame(cmsg, depths.get(match), camera), log
                    for s in [s for s in depths if s <= stamp]:
                        del depths[s]
            for stamp, log, cmsg in colours:  # the end: what is left, with what depth there is
                yield self._frame(cmsg, depths.get(_nearest(depths, stamp)), camera), log
        finally:
            try:
                reader.close()
            except Exception:  # noqa: S110 (closing at interpreter exit, when imports fail)
                pass

    def _frame(self, msg, depth, camera) -> BagFrame | str:
        try:
            img = decode_colour(msg, self.msgtypes['color'])
        except ValueError as e:
            return f"{self.topics['color']} at {stamp_ns(msg) / 1e9:.3f} s: {e}"
        if depth is not None and depth.shape != img.shape[:2]:
            return (
                f"{self.topics['color']} at {stamp_ns(msg) / 1e9:.3f} s: depth "
                f"{depth.shape[1]}x{depth.shape[0]} is not the colour image's "
                f'{img.shape[1]}x{img.shape[0]} (not aligned to colour?)'
            )
        if camera is not None and (camera.width, camera.height) != (img.shape[1], img.shape[0]):
            camera = camera.scaled(img.shape[1], img.shape[0])
        return BagFrame(img, depth, camera, stamp_ns(msg), str(msg.header.frame_id))


def _nearest(depths: dict[int, np.ndarray], stamp: int) -> int | None:
    if not depths:
        return None
    best = min(depths, key=lambda s: abs(s - stamp))
    return best if abs(best - stamp) <= PAIR_SKEW_NS else None


class Pacer:
    """Say when each frame is due: recorded log times over ``rate``, from the first one."""

    def __init__(self, rate: float):
        self.rate = rate
        self.origin: tuple[float, int] | None = None

    def due(self, log_ns: int) -> float:
        """Return the monotonic time at which a message logged at ``log_ns`` is due."""
        if self.origin is None:
            self.origin = (time.monotonic(), log_ns)
        start, first = self.origin
        return start + (log_ns - first) / 1e9 / self.rate

    def restart(self) -> None:
        self.origin = None


# ---- writing ----------------------------------------------------------------------------------
class BagWriter:
    """
    Write a ROS 2 bag with its message definitions, through rosbags.

    ``path`` ending in ``.mcap``: one MCAP file (what Foxglove opens, ``ros2 bag play`` plays and
    ``bag:`` reads), written as a rosbag2 folder beside it and moved out when closed; any other
    ``path``: a rosbag2 folder, ``storage`` 'mcap' or 'sqlite3' (``.db3``) inside. Never
    overwrites.
    """

    def __init__(self, path: Path, storage: str = 'mcap'):
        from rosbags.rosbag2 import StoragePlugin, Writer

        self.path = Path(path)
        if self.path.exists():
            raise BagError(f'{self.path}: exists; a bag is never overwritten')
        self.single = self.path.suffix == '.mcap'
        partial = self.path.with_name(self.path.name + '.partial')
        self.folder = partial if self.single else self.path
        if self.single:
            storage = 'mcap'
            if self.folder.exists():  # a run that died before closing: its file is incomplete
                import shutil

                shutil.rmtree(self.folder)
        self.store = typestore()
        plugin = {'mcap': StoragePlugin.MCAP, 'sqlite3': StoragePlugin.SQLITE3}[storage]
        self.writer = Writer(self.folder, version=9, storage_plugin=plugin)
        self.writer.open()
        self.connections: dict[str, object] = {}
        self.written = 0

    def connection(self, topic: str, msgtype: str):
        if topic not in self.connections:
            self.connections[topic] = self.writer.add_connection(
                topic, msgtype, typestore=self.store
            )
        return self.connections[topic]

    def write(self, topic: str, msgtype: str, log_ns: int, msg) -> None:
        """Serialise a rosbags message object and write it."""
        data = self.store.serialize_cdr(msg, msgtype)
        self.write_raw(topic, msgtype, log_ns, data)

    def write_raw(self, topic: str, msgtype: str, log_ns: int, data: bytes) -> None:
        """Write an already serialised (CDR) message, as rclpy's raw subscriptions give them."""
        self.writer.write(self.connection(topic, msgtype), int(log_ns), bytes(data))
        self.written += 1

    def close(self) -> None:
        self.writer.close()
        if self.single:
            import shutil

            inner = self.folder / f'{self.folder.name}.mcap'
            inner.replace(self.path)
            shutil.rmtree(self.folder)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def image_message(store, image: np.ndarray, encoding: str, stamp: int, frame_id: str):
    """Return a rosbags sensor_msgs/Image of ``image`` (row-major, little endian)."""
    Image = store.types[IMAGE]
    return Image(
        header=_header(store, stamp, frame_id),
        height=image.shape[0],
        width=image.shape[1],
        encoding=encoding,
        is_bigendian=0,
        step=image.shape[1] * image.itemsize * (image.shape[2] if image.ndim == 3 else 1),
        data=np.ascontiguousarray(image).view(np.uint8).ravel(),
    )


def compressed_message(store, data: bytes, fmt: str, stamp: int, frame_id: str):
    """Return a rosbags sensor_msgs/CompressedImage."""
    return store.types[COMPRESSED](
        header=_header(store, stamp, frame_id), format=fmt, data=np.frombuffer(data, np.uint8)
    )


def camera_info_message(store, camera: Intrinsics, stamp: int, frame_id: str):
    """Return a rosbags sensor_msgs/CameraInfo of ``camera``."""
    k = np.array([camera.fx, 0.0, camera.cx, 0.0, camera.fy, camera.cy, 0.0, 0.0, 1.0])
    p = np.array([camera.fx, 0.0, camera.cx, 0.0, 0.0, camera.fy, camera.cy, 0.0, 0, 0, 1, 0])
    d = np.array(list(camera.d) or [0.0] * 5, float)
    roi = store.types['sensor_msgs/msg/RegionOfInterest'](
        x_offset=0, y_offset=0, height=0, width=0, do_rectify=False
    )
    return store.types[INFO](
        header=_header(store, stamp, frame_id),
        height=camera.height,
        width=camera.width,
        distortion_model=camera.distortion_model or 'plumb_bob',
        d=d,
        k=k,
        r=np.eye(3).ravel(),
        p=p.astype(float),
        binning_x=0,
        binning_y=0,
        roi=roi,
    )


def _header(store, stamp: int, frame_id: str):
    Time = store.types['builtin_interfaces/msg/Time']
    Header = store.types['std_msgs/msg/Header']
    return Header(
        stamp=Time(sec=int(stamp // 1_000_000_000), nanosec=int(stamp % 1_000_000_000)),
        frame_id=frame_id,
    )
