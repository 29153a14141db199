"""
glass-import-rgbd: turn a real RGB-D capture into the rgbd:DIR layout the camera node plays.

  glass-import-rgbd --out work/real/mine --camera intrinsics.yaml \
      --pair frame0.jpg frame0_depth.exr --pair frame1.jpg frame1_depth.exr
  glass-import-rgbd --out work/real/mine --k 921 921 642 359 --depth-unit mm \
      --pair a.png a_depth.png
  glass-import-rgbd --out work/real --labelled     # every labelled frame of shared/real
  glass-pipeline --source rgbd:work/real/cleargrasp_glasses

Depth may be EXR or .npy in metres, a 16-bit PNG or integer .npy in millimetres, or an OpenCV
FileStorage file (.xml/.yml, gzipped or not, node depth_image); --depth-unit overrides the guess.
It must be registered to the colour image (same size, same pixels), as a RealSense's aligned depth
is. The camera matrix comes from --k or --camera (a ROS camera_info YAML, an OpenCV calibration
file with K, or a file of fx/fy/cx/cy lines). The folder gets camera_info.yaml, color/NNNNNN.png
and depth/NNNNNN.png (16-bit millimetres, 0 = no depth).
"""

from __future__ import annotations

import argparse
from pathlib import Path
import sys


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog='glass-import-rgbd',
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument('--out', type=Path, required=True, help='the rgbd folder to write')
    p.add_argument(
        '--pair',
        nargs=2,
        action='append',
        type=Path,
        default=[],
        metavar=('COLOUR', 'DEPTH'),
        help='a colour image and its registered depth (repeat for each frame)',
    )
    k = p.add_mutually_exclusive_group()
    k.add_argument('--k', nargs=4, type=float, metavar=('FX', 'FY', 'CX', 'CY'))
    k.add_argument('--camera', type=Path, help='a calibration file holding the camera matrix')
    p.add_argument('--depth-unit', default='auto', choices=('auto', 'm', 'mm'))
    p.add_argument(
        '--max-depth',
        type=float,
        default=10.0,
        help='metres; farther depth becomes "no depth" (default %(default)s)',
    )
    p.add_argument(
        '--labelled',
        action='store_true',
        help="import every frame of the package's real labels, one folder per camera under --out",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from ..workflow import real

    try:
        if args.labelled:
            for name, n in real.import_labelled(args.out).items():
                print(f'wrote {n} frames to {args.out / name}')
            return 0
        if not args.pair:
            parser.error('give --pair COLOUR DEPTH (one or more), or --labelled')
        if args.k is None and args.camera is None:
            parser.error('give the camera matrix: --k FX FY CX CY or --camera FILE')
        k = args.k or real.read_intrinsics(args.camera)
        n = real.import_rgbd(args.pair, k, args.out, args.depth_unit, max_depth=args.max_depth)
    except (OSError, ValueError) as e:
        print(f'glass-import-rgbd: {e}', file=sys.stderr)
        return 2
    print(f'wrote {n} frames to {args.out}; play them with --source rgbd:{args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
