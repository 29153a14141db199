"""glass_perception.core.bags and the bag: source: real bags written and read with rosbags."""

from __future__ import annotations

import time

import cv2
from glass_perception.core import bags
from glass_perception.core.camera_model import Intrinsics
from glass_perception.core.sources import BadFrame, EndOfSource, open_source, SourceError
from glass_perception.tools import bag as bag_tool
import numpy as np
import pytest

CAMERA = Intrinsics.from_k(64, 48, [60.0, 0, 31.5, 0, 60.0, 23.5, 0, 0, 1])
T0 = 1_767_225_600 * 1_000_000_000


def colour(i: int) -> np.ndarray:
    img = np.zeros((48, 64, 3), np.uint8)
    img[:, :, 2] = 40 * i  # red grows with the frame: which frame is which
    return img


def depth(i: int) -> np.ndarray:
    return np.full((48, 64), 500 + i, np.uint16)


def write_bag(path, frames=4, storage='mcap', depth_first=False, bad=None, encoding='bgr8'):
    """Write a realsense2_camera-like bag: colour, aligned depth, camera_info, 10 fps."""
    with bags.BagWriter(path, storage) as w:
        for i in range(frames):
            t = T0 + i * 100_000_000
            c = (bags.REALSENSE_COLOUR, bags.IMAGE, t,
                 bags.image_message(w.store, colour(i), 'bgr8', t, 'cam'))  # fmt: skip
            if i == bad:  # a message that says 48 rows but holds 10
                c[3].data = c[3].data[: 64 * 3 * 10]
            if encoding != 'bgr8':
                c[3].encoding = encoding
            d = (bags.REALSENSE_DEPTH, bags.IMAGE, t + (0 if i % 2 else 2_000_000),
                 bags.image_message(w.store, depth(i), '16UC1', t, 'cam'))  # fmt: skip
            info = (bags.REALSENSE_INFO, bags.INFO, t,
                    bags.camera_info_message(w.store, CAMERA, t, 'cam'))  # fmt: skip
            for topic, msgtype, log, msg in (info, d, c) if depth_first else (info, c, d):
                w.write(topic, msgtype, log, msg)
    return path


@pytest.mark.parametrize(
    'storage, name', [('mcap', 'b.mcap'), ('sqlite3', 'b_db3'), ('mcap', 'b')]
)
@pytest.mark.parametrize('depth_first', [False, True])
def test_a_bag_plays_colour_paired_with_its_depth_and_the_recorded_header(
    tmp_path, storage, name, depth_first
):
    path = write_bag(tmp_path / name, storage=storage, depth_first=depth_first)
    assert path.is_file() == name.endswith('.mcap')  # one MCAP file, else a rosbag2 folder
    src = open_source(f'bag:{path}', 64, 48, loop=False)
    frames = []
    while True:
        try:
            frames.append(src.read())
        except EndOfSource:
            break
    assert [f.stamp_ns for f in frames] == [T0 + i * 100_000_000 for i in range(4)]
    for i, f in enumerate(frames):
        assert f.frame_id == 'cam' and f.image[0, 0, 2] == 40 * i
        assert f.depth is not None and f.depth[0, 0] == 500 + i  # its own frame's depth
        assert f.camera.fx == pytest.approx(60.0)


def test_compressed_colour_and_compressed_depth_are_decoded(tmp_path):
    folder = tmp_path / 'rgbd'
    (folder / 'color').mkdir(parents=True)
    (folder / 'depth').mkdir()
    from glass_perception.workflow.rgbd import camera_info_yaml

    info = camera_info_yaml(size=(64, 48), fxy_cxy=(60, 60, 31.5, 23.5))
    (folder / 'camera_info.yaml').write_text(info)
    for i in range(3):
        cv2.imwrite(str(folder / 'color' / f'f{i}.png'), colour(i))
        cv2.imwrite(str(folder / 'depth' / f'f{i}.png'), depth(i))
    out = tmp_path / 'c.mcap'
    assert bag_tool.main(['from-rgbd', str(folder), '--out', str(out), '--compressed']) == 0
    src = open_source(
        f'bag:{out}', 64, 48, loop=False,
        bag_topics=(bags.REALSENSE_COLOUR + '/compressed',
                    bags.REALSENSE_DEPTH + '/compressedDepth', bags.REALSENSE_INFO),
    )  # fmt: skip
    f = src.read()
    assert abs(int(f.image[10, 10, 2]) - 0) <= 3 and f.depth[5, 5] == 500  # JPEG, lossless PNG
    assert bag_tool.main(['from-rgbd', str(folder), '--out', str(out)]) == 1  # never overwritten


def test_32fc1_depth_in_metres_becomes_millimetres():
    store = bags.typestore()
    metres = np.full((4, 5), 0.75, np.float32)
    metres[0, 0] = np.nan
    msg = bags.image_message(store, metres, '32FC1', T0, 'cam')
    mm = bags.decode_depth(msg, bags.IMAGE)
    assert mm.dtype == np.uint16 and mm[1, 1] == 750 and mm[0, 0] == 0


def test_a_bag_that_is_not_one_or_lacks_a_topic_stops_the_source_with_one_line(tmp_path):
    junk = tmp_path / 'junk.mcap'
    junk.write_bytes(b'not a bag at all' * 10)
    with pytest.raises(SourceError, match='junk.mcap: not a readable ROS 2 bag') as e:
        open_source(f'bag:{junk}', 64, 48)
    assert '\n' not in str(e.value)
    with pytest.raises(SourceError, match='no such bag'):
        open_source(f'bag:{tmp_path / "missing.mcap"}', 64, 48)
    path = write_bag(tmp_path / 'b.mcap')
    with pytest.raises(SourceError, match="no depth topic '/d' in the bag .*bag_depth_topic"):
        open_source(f'bag:{path}', 64, 48, bag_topics=(bags.REALSENSE_COLOUR, '/d', ''))
    with pytest.raises(SourceError, match='holds sensor_msgs/msg/CameraInfo, not'):
        open_source(f'bag:{path}', 64, 48, bag_topics=(bags.REALSENSE_INFO, '', ''))


def test_an_encoding_the_package_does_not_read_stops_it_at_start(tmp_path):
    path = write_bag(tmp_path / 'yuv.mcap', encoding='yuv422')
    with pytest.raises(SourceError, match="colour encoding 'yuv422' is not one of"):
        open_source(f'bag:{path}', 64, 48)


def test_a_bad_message_in_the_middle_is_skipped_and_counted(tmp_path):
    path = write_bag(tmp_path / 'bad.mcap', frames=4, bad=2)
    src = open_source(f'bag:{path}', 64, 48, loop=False)
    got, bad = [], []
    for _ in range(4):
        try:
            got.append(src.read().stamp_ns)
        except BadFrame as e:
            bad.append(str(e))
    assert got == [T0, T0 + 100_000_000, T0 + 300_000_000]
    assert len(bad) == 1 and 'cannot hold 64x48 bgr8' in bad[0] and src.bad == 1


def test_frames_come_at_the_recorded_pace_times_the_rate(tmp_path):
    path = write_bag(tmp_path / 'b.mcap', frames=4)
    src = open_source(f'bag:{path}', 64, 48, loop=True, rate=2.0)
    seen = []
    start = time.monotonic()
    while len(seen) < 6:
        if src.ready():
            seen.append((time.monotonic() - start, src.read().stamp_ns))
        time.sleep(0.002)
    # 0.1 s apart in the bag, 0.05 s at rate 2; then it loops from the first frame
    gaps = np.diff([t for t, _ in seen[:4]])
    assert np.all(gaps >= 0.045) and np.all(gaps < 0.2)
    assert seen[4][1] == T0


def test_a_recording_of_this_package_plays_its_own_camera_topics(tmp_path):
    path = tmp_path / 'own.mcap'
    with bags.BagWriter(path) as w:
        for i in range(2):
            t = T0 + i * 100_000_000
            w.write('/ns/camera/image_raw', bags.IMAGE, t,
                    bags.image_message(w.store, colour(i), 'bgr8', t, 'cam'))  # fmt: skip
            w.write('/ns/camera/camera_info', bags.INFO, t,
                    bags.camera_info_message(w.store, CAMERA, t, 'cam'))  # fmt: skip
    src = open_source(f'bag:{path}', 64, 48, loop=False)
    f = src.read()
    assert f.stamp_ns == T0 and f.depth is None and f.camera is not None
