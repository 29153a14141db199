"""flake8 with ament's checks, as `ros2 pkg create --build-type ament_python` generates it."""

from pathlib import Path

from ament_flake8.main import main_with_errors
import pytest

ROOT = Path(__file__).resolve().parents[1]
# the package's Python, not the virtual environment or build outputs that may sit beside it
PATHS = ['glass_perception', 'launch', 'test', 'setup.py', 'scripts/fix_cmake_paths.py']


@pytest.mark.flake8
@pytest.mark.linter
def test_flake8():
    argv = ['--config', str(ROOT / 'setup.cfg'), *(str(ROOT / p) for p in PATHS)]
    rc, errors = main_with_errors(argv=argv)
    assert rc == 0, 'Found %d code style errors / warnings:\n' % len(errors) + '\n'.join(errors)
