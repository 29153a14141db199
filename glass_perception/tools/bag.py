"""
glass-bag: ROS 2 bags without a ROS distro (rosbags): make one from RGB-D frames, or list one.

  glass-bag from-rgbd work/real/cleargrasp_glasses --out work/real/glasses.mcap
  glass-bag from-rgbd glass_perception/data/scenes --out work/scenes_db3 --storage sqlite3
  glass-bag from-rgbd DIR --out work/compressed.mcap --compressed   # JPEG colour, PNG depth
  glass-bag info work/real/glasses.mcap

from-rgbd writes an rgbd:DIR folder (camera_info.yaml, color/, depth/; glass-import-rgbd makes
one from real captures) as realsense2_camera publishes it with align_depth.enable:=true: colour
on /camera/camera/color/image_raw (bgr8), depth aligned to it on
/camera/camera/aligned_depth_to_color/image_raw (16UC1, mm) and camera_info, one frame every
1/fps s, colour and depth with the same stamp. With --compressed, what image_transport's
compressed and compressedDepth plugins publish instead: .../image_raw/compressed (JPEG) and
.../image_raw/compressedDepth (PNG). The camera node plays it with source bag:OUT (set
bag_color_topic and bag_depth_topic to the compressed topics for a --compressed bag).

An OUT ending in .mcap is one MCAP file; anything else a rosbag2 folder (--storage mcap or
sqlite3). A bag is never overwritten.
"""

from __future__ import annotations

import argparse
from pathlib import Path
import sys

EPOCH_S = 1_767_225_600  # 2026-01-01T00:00:00Z: the first frame's stamp


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog='glass-bag', description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest='what', required=True)
    f = sub.add_parser('from-rgbd', help='an rgbd:DIR folder as a realsense2_camera bag')
    f.add_argument('folder', type=Path, help='camera_info.yaml, color/, depth/')
    f.add_argument('--out', type=Path, required=True, help='FILE.mcap, or a rosbag2 folder')
    f.add_argument('--storage', choices=('mcap', 'sqlite3'), default='mcap')
    f.add_argument('--fps', type=float, default=10.0, help='default: %(default)s')
    f.add_argument('--repeat', type=int, default=1, help='play the folder this many times')
    f.add_argument('--compressed', action='store_true', help='JPEG colour, PNG depth')
    f.add_argument(
        '--frame-id',
        default='camera_color_optical_frame',
        help="the headers' frame_id (realsense2_camera's; default: %(default)s)",
    )
    i = sub.add_parser('info', help='topics, types, message counts and duration of a bag')
    i.add_argument('bag', type=Path)
    return p


def from_rgbd(folder: Path, out: Path, storage: str, fps: float, repeat: int, compressed: bool,
              frame_id: str) -> int:  # fmt: skip
    """Write the folder's frames as a bag; return the number of frames written."""
    from ..core import bags
    from ..core.image_codec import compress_bgr, compress_depth_mm, DEPTH_FORMAT, JPEG_FORMAT
    from ..core.sources import RGBDSource

    source = RGBDSource(folder, 0, 0, loop=False)
    camera = source.camera
    colour_topic, depth_topic = bags.REALSENSE_COLOUR, bags.REALSENSE_DEPTH
    if compressed:
        colour_topic, depth_topic = colour_topic + '/compressed', depth_topic + '/compressedDepth'
    n = 0
    with bags.BagWriter(out, storage) as w:
        for _ in range(repeat):
            for colour_path, depth_path, stem in source.frames:
                img, dep = source._load(colour_path, depth_path, stem)
                t = EPOCH_S * 1_000_000_000 + int(round(n * 1e9 / fps))
                if compressed:  # what image_transport's compressed plugins publish
                    w.write(colour_topic, bags.COMPRESSED, t, bags.compressed_message(
                        w.store, compress_bgr(img), JPEG_FORMAT, t, frame_id))
                    w.write(depth_topic, bags.COMPRESSED, t, bags.compressed_message(
                        w.store, compress_depth_mm(dep), DEPTH_FORMAT, t, frame_id))  # fmt: skip
                else:
                    w.write(colour_topic, bags.IMAGE, t,
                            bags.image_message(w.store, img, 'bgr8', t, frame_id))
                    w.write(depth_topic, bags.IMAGE, t,
                            bags.image_message(w.store, dep, '16UC1', t, frame_id))  # fmt: skip
                w.write(bags.REALSENSE_INFO, bags.INFO, t,
                        bags.camera_info_message(w.store, camera, t, frame_id))  # fmt: skip
                n += 1
    return n


def info(path: Path) -> str:
    from ..core.bags import open_reader

    reader = open_reader(path)
    try:
        lines = [f'{path}: {reader.duration / 1e9:.2f} s, {reader.message_count} messages']
        for c in sorted(reader.connections, key=lambda c: c.topic):
            lines.append(f'  {c.topic:<55} {c.msgtype:<36} {c.msgcount:>6}')
        return '\n'.join(lines)
    finally:
        reader.close()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from ..core.bags import BagError
    from ..core.sources import SourceError

    try:
        if args.what == 'info':
            print(info(args.bag))
            return 0
        n = from_rgbd(
            args.folder, args.out, args.storage, args.fps, args.repeat, args.compressed,
            args.frame_id,
        )  # fmt: skip
    except (BagError, SourceError) as e:
        print(f'glass-bag: {e}', file=sys.stderr)
        return 1
    print(f'glass-bag: wrote {n} frames to {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
