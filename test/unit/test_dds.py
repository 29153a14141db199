"""
The Fast DDS transport choice for camera-sized images.

Covers core/dds.py and config/fastdds_large_images.xml.
"""

from __future__ import annotations

from pathlib import Path
import xml.etree.ElementTree as ET

from glass_perception.core.dds import default_transports, describe, image_transport_env, PROFILE
import pytest

CONFIG = Path(__file__).resolve().parents[2] / 'config'


def test_the_profile_is_set_when_fast_dds_would_use_its_defaults():
    assert default_transports({})
    assert image_transport_env({}, CONFIG) == {
        'FASTDDS_DEFAULT_PROFILES_FILE': str(CONFIG / PROFILE)
    }
    assert 'default transports' in describe({})


@pytest.mark.parametrize(
    'env',
    [
        {'FASTDDS_BUILTIN_TRANSPORTS': 'LARGE_DATA'},
        {'FASTDDS_DEFAULT_PROFILES_FILE': '/etc/mine.xml'},
        {'FASTRTPS_DEFAULT_PROFILES_FILE': '/etc/old.xml'},
        {'RMW_IMPLEMENTATION': 'rmw_cyclonedds_cpp'},
        {'RMW_IMPLEMENTATION': 'rmw_zenoh_cpp'},
    ],
)
def test_a_choice_of_the_users_or_another_middleware_is_left_alone(env):
    assert not default_transports(env) and image_transport_env(env, CONFIG) == {}


def test_the_shipped_profile_carries_an_image_in_shared_memory():
    root = ET.parse(CONFIG / PROFILE).getroot()
    ns = {'p': 'http://www.eprosima.com'}
    shm = next(
        t
        for t in root.iterfind('p:transport_descriptors/p:transport_descriptor', ns)
        if t.findtext('p:type', namespaces=ns) == 'SHM'
    )
    image = 640 * 480 * 3
    assert int(shm.findtext('p:maxMessageSize', namespaces=ns)) > image
    assert (
        int(shm.findtext('p:segment_size', namespaces=ns)) >= 4 * image
    )  # a few images in flight
    participant = root.find('p:participant', ns)
    assert participant.get('is_default_profile') == 'true'
    used = [t.text for t in participant.iterfind('p:rtps/p:userTransports/p:transport_id', ns)]
    assert shm.findtext('p:transport_id', namespaces=ns) in used
    assert participant.findtext('p:rtps/p:useBuiltinTransports', namespaces=ns) == 'false'
