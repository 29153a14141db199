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
