"""Which Fast DDS transport the package's processes use, so camera-sized images get through."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

PROFILE = 'fastdds_large_images.xml'
# Any of these means the user chose the transport: leave it alone.
USER_CHOICES = (
    'FASTDDS_DEFAULT_PROFILES_FILE',
    'FASTRTPS_DEFAULT_PROFILES_FILE',
    'FASTDDS_BUILTIN_TRANSPORTS',
)


def default_transports(environ: Mapping[str, str]) -> bool:
    """
    Tell whether Fast DDS will run with its default transports.

    True when there is no profile and no builtin-transports choice.
    """
    return environ.get('RMW_IMPLEMENTATION', 'rmw_fastrtps_cpp').startswith(
        'rmw_fastrtps'
    ) and not any(environ.get(k) for k in USER_CHOICES)


def image_transport_env(environ: Mapping[str, str], config_dir: Path) -> dict[str, str]:
    """
    Return the variables to add for the shipped large-image profile.

    The profile is config/fastdds_large_images.xml. Nothing under another RMW, or when the user set
    a Fast DDS profile or builtin transports.
    """
    return (
        {'FASTDDS_DEFAULT_PROFILES_FILE': str(Path(config_dir) / PROFILE)}
        if default_transports(environ)
        else {}
    )


def describe(environ: Mapping[str, str]) -> str:
    """One line naming the transport setting in force, for logs."""
    chosen = [f'{k}={environ[k]}' for k in USER_CHOICES if environ.get(k)]
    rmw = environ.get('RMW_IMPLEMENTATION', 'rmw_fastrtps_cpp')
    return ', '.join(chosen) if chosen else f'{rmw} with its default transports'


def clean_shared_memory(timeout_s: float = 60.0) -> str | None:
    """
    Remove the Fast DDS shared memory of processes that are gone (``fastdds shm clean``).

    A participant that exits cleanly removes its segment (16 MB with the shipped profile) from
    /dev/shm; one that is killed leaves it there, in RAM, until this runs. Segments whose owner is
    alive are kept. Returns the tool's summary line, or None where Fast DDS's tool is not
    installed (a ROS distro has it as the ``fastdds`` command; the PyPI wheels under the Python
    prefix's ``tools/fastdds``).
    """
    import shutil
    import subprocess
    import sys

    script = Path(sys.prefix) / 'tools' / 'fastdds' / 'fastdds.py'
    if script.is_file():
        cmd = [sys.executable, str(script)]
    elif shutil.which('fastdds'):
        cmd = [str(shutil.which('fastdds'))]
    else:
        return None
    try:
        out = subprocess.run(
            [*cmd, 'shm', 'clean'], capture_output=True, text=True, timeout=timeout_s
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    cleaned = [line.strip() for line in out.splitlines() if 'zombie' in line]
    return ', '.join(cleaned) or None
