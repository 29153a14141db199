"""
The layering is checked, not hoped for: the import-linter contracts in setup.cfg.

core (what the robot runs) imports nothing from workflow, nodes or tools and no rclpy, matplotlib
or mitsuba; nodes import core only; workflow may use core; nothing in the package imports tools.
import-linter follows imports inside functions too, so a lazy import does not get round it.
"""

import os
from pathlib import Path
import shutil
import subprocess
import sys

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _lint_imports(package_parent: Path) -> subprocess.CompletedProcess:
    """Run lint-imports with setup.cfg's contracts on the package found in ``package_parent``."""
    env = dict(os.environ, PYTHONPATH=str(package_parent))
    code = (
        'import sys; from importlinter.cli import lint_imports; '
        f'sys.exit(lint_imports(config_filename={str(ROOT / "setup.cfg")!r}, no_cache=True))'
    )
    return subprocess.run(
        [sys.executable, '-c', code],
        cwd=package_parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.linter
def test_the_import_contracts_are_kept():
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'Contracts: 3 kept, 0 broken' in result.stdout


@pytest.mark.linter
@pytest.mark.parametrize(
    'module, bad_import',
    [
        ('core/geometry.py', 'from glass_perception.workflow import scoring'),
        ('core/labels.py', 'import matplotlib'),
        ('nodes/overlay_node.py', 'from ..workflow import pbr'),
        ('workflow/scoring.py', 'from ..tools import echo'),
    ],
)
def test_a_forbidden_import_breaks_a_contract(tmp_path, module, bad_import):
    """The same contracts on a copy of the package with one bad import added inside a function."""
    shutil.copytree(
        ROOT / 'glass_perception',
        tmp_path / 'glass_perception',
        ignore=shutil.ignore_patterns('__pycache__', 'models', 'data'),
    )
    target = tmp_path / 'glass_perception' / module
    target.write_text(
        target.read_text() + f'\n\ndef _deliberately_bad():\n    {bad_import}  # noqa\n'
    )
    result = _lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout
    dotted = 'glass_perception.' + module.removesuffix('.py').replace('/', '.')
    assert 'BROKEN' in result.stdout and dotted in result.stdout
