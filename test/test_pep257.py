"""Docstring style with ament's pep257 convention, as `ros2 pkg create` generates it."""

from pathlib import Path

from ament_pep257.main import main
import pytest

ROOT = Path(__file__).resolve().parents[1]
PATHS = ['glass_perception', 'launch', 'test', 'setup.py', 'scripts/fix_cmake_paths.py']


@pytest.mark.linter
@pytest.mark.pep257
def test_pep257():
    rc = main(argv=[*(str(ROOT / p) for p in PATHS)])
    assert rc == 0, 'Found code style errors / warnings'
