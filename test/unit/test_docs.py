"""The README and the docs site: short, strict, and generated from the code where it can drift."""

import os
from pathlib import Path
import re
import shutil
import subprocess
import sys

from glass_perception.core import params as P
from glass_perception.tools import docs_reference as ref
import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / 'README.md'


def _mkdocs_build(root: Path, site: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, NO_MKDOCS_2_WARNING='1')
    return subprocess.run(
        [sys.executable, '-m', 'mkdocs', 'build', '--strict', '--site-dir', str(site)],
        cwd=root, env=env, capture_output=True, text=True, timeout=300,
    )


def test_generated_reference_pages_match_the_code():
    text = (ROOT / 'docs' / 'reference' / 'commands.md').read_text()
    made_with = re.search(r'with Python (\d+\.\d+)', text)
    assert made_with, 'docs/reference/commands.md does not say which Python generated it'
    stale = ref.stale()
    if made_with.group(1) != ref.PYTHON and stale == ['reference/commands.md']:
        pytest.skip(
            f'commands.md was generated with Python {made_with.group(1)}, this is {ref.PYTHON}: '
            "argparse's --help layout differs between versions"
        )
    assert stale == [], (
        f'{stale} differ from what the code generates: run '
        'python -m glass_perception.tools.docs_reference and commit the pages'
    )


def test_parameter_reference_lists_every_parameter_with_its_range():
    page = (ROOT / 'docs' / 'reference' / 'parameters.md').read_text()
    for node, plist in P.NODES.items():
        section = page.split(f'## {node}\n', 1)[1].split('\n## ', 1)[0]
        for p in plist:
            row = next((r for r in section.splitlines() if r.startswith(f'| `{p.name}` |')), None)
            assert row, f'{node}.{p.name} missing from the parameter reference'
            if p.low is not None:
                assert f'{ref._fmt(p.low)} to {ref._fmt(p.high)}' in row
            assert ('| yes |' in row) == p.read_only


def test_command_reference_has_every_console_command_and_subcommand():
    page = (ROOT / 'docs' / 'reference' / 'commands.md').read_text()
    tools = [name for name, module in ref.commands() if '.tools.' in module]
    assert len(tools) >= 19
    for name in tools:
        assert f'\n## {name}\n' in page, name
    for sub in ('glass-synth rgbd', 'glass-bag from-rgbd', 'glass-pretrained check-yolov5'):
        assert f'\n### {sub}\n' in page
    # the launch file's arguments, read without the launch package
    args = ref.launch_arguments()
    assert {'source', 'namespace', 'rviz', 'foxglove', 'localizer'} <= set(args)
    launch = (ROOT / 'docs' / 'reference' / 'launch.md').read_text()
    assert all(f'| `{a}` |' in launch for a in args)


def test_site_builds_strictly(tmp_path):
    r = _mkdocs_build(ROOT, tmp_path / 'site')
    assert r.returncode == 0, r.stdout + r.stderr
    assert 'WARNING' not in r.stderr, r.stderr
    home = (tmp_path / 'site' / 'index.html').read_text()
    assert 'Two commands' in home, 'the home page is not the README'
    card = (tmp_path / 'site' / 'model-card' / 'index.html').read_text()
    assert 'Real images and pretrained starting points' in card, 'the model card is not included'
    assert (tmp_path / 'site' / 'reference' / 'parameters' / 'index.html').is_file()


def test_strict_build_fails_on_a_broken_link_or_anchor(tmp_path):
    """The site's configuration really catches what the strict build is for."""
    copy = tmp_path / 'repo'
    shutil.copytree(ROOT / 'docs', copy / 'docs')
    shutil.copy(ROOT / 'mkdocs.yml', copy)
    shutil.copy(README, copy)
    (copy / 'glass_perception' / 'models').mkdir(parents=True)
    card = Path('glass_perception', 'models', 'MODEL_CARD.md')
    shutil.copy(ROOT / card, copy / card)
    assert _mkdocs_build(copy, tmp_path / 'ok').returncode == 0
    page = copy / 'docs' / 'quickstart.md'
    page.write_text(page.read_text() + '\n[gone](3d.md#no-such-heading)\n')
    r = _mkdocs_build(copy, tmp_path / 'bad')
    assert r.returncode != 0
    assert 'no-such-heading' in r.stderr
    (copy / 'docs' / 'orphan.md').write_text('# Not in the navigation\n')
    page.write_text(page.read_text().replace('[gone](3d.md#no-such-heading)', ''))
    r = _mkdocs_build(copy, tmp_path / 'orphan')
    assert r.returncode != 0 and 'orphan.md' in r.stderr


def test_readme_is_short_with_the_two_commands_ci_runs_first():
    lines = README.read_text().splitlines()
    assert len(lines) <= 200, f'README.md has {len(lines)} lines; move detail to docs/'
    start = lines.index('## Two commands')
    assert start < 30, 'the two commands must be on the first screen'
    block = lines[start:start + 12]
    commands = [ln.split('#')[0].strip() for ln in block if ln.startswith('scripts/')]
    assert commands == ['scripts/demo', 'scripts/test']
    ci = (ROOT / '.ci' / 'run').read_text()
    assert re.search(r'^exec bash scripts/test\b', ci, re.M), '.ci/run must run the README command'
    for script in commands:
        assert os.access(ROOT / script, os.X_OK)


def test_readme_links_resolve_in_the_repository():
    """The site checks the README's links as its home page; GitHub reads them from the repo."""
    text = README.read_text()
    links = re.findall(r'\]\(([^)#\s]+)(?:#[^)]*)?\)', text)
    local = [u for u in links if '://' not in u]
    assert local, 'no links found'
    missing = [u for u in local if not (ROOT / u).exists()]
    assert missing == []
    assert 'docs/overview.jpg' in local


def test_scripts_docs_builds_the_site(tmp_path):
    """scripts/docs is how a contributor sees the site (serve); its build mode is the same site."""
    r = subprocess.run(
        ['bash', str(ROOT / 'scripts' / 'docs'), 'build', '--site-dir', str(tmp_path / 'site')],
        capture_output=True, text=True, timeout=600,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / 'site' / 'reference' / 'commands' / 'index.html').is_file()
