"""
What the Foxglove bridge sends: the pipeline's outputs as Foxglove's own message schemas.

* the debug image as ``foxglove.CompressedImage`` (JPEG: a tenth of the raw image's bytes over
  the network);
* the 3D glasses, from the localizer's ``glass/markers`` (visualization_msgs MarkerArray), as one
  ``foxglove.SceneUpdate``: each CYLINDER marker a cylinder, each TEXT_VIEW_FACING marker a
  billboard text, with the marker's colour, pose, size and lifetime; DELETEALL clears the scene;
* ``/diagnostics`` as JSON (name, level, message, key/values), for Foxglove's Raw Message panel.

The conversions read the ROS messages by attribute only (no rclpy here); the Foxglove SDK is
imported on use (``foxglove-sdk``, optional on a robot).
"""

from __future__ import annotations

import cv2
import numpy as np

#: visualization_msgs/Marker types and actions used here
CUBE, SPHERE, CYLINDER, TEXT_VIEW_FACING = 1, 2, 3, 9
DELETE, DELETEALL = 2, 3
LEVELS = {0: 'OK', 1: 'WARN', 2: 'ERROR', 3: 'STALE'}
#: JSON schema of the diagnostics channel
DIAGNOSTICS_SCHEMA = {
    'type': 'object',
    'properties': {
        'stamp': {'type': 'number'},
        'status': {
            'type': 'array',
            'items': {
                'type': 'object',
                'properties': {
                    'name': {'type': 'string'},
                    'level': {'type': 'string'},
                    'message': {'type': 'string'},
                    'values': {'type': 'object'},
                },
            },
        },
    },
}


def _stamp(ns: int):
    from foxglove.messages import Timestamp

    return Timestamp(sec=int(ns // 1_000_000_000), nsec=int(ns % 1_000_000_000))


def stamp_ns(header) -> int:
    return int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)


def compressed_image(bgr: np.ndarray, stamp: int, frame_id: str, quality: int = 80):
    """Return a BGR image as a foxglove CompressedImage (JPEG)."""
    from foxglove.messages import CompressedImage

    ok, jpg = cv2.imencode('.jpg', bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError('the image does not encode as JPEG')
    return CompressedImage(
        timestamp=_stamp(stamp), frame_id=frame_id, data=jpg.tobytes(), format='jpeg'
    )


def _pose(p):
    from foxglove.messages import Pose, Quaternion, Vector3

    q = p.orientation
    quat = (q.x, q.y, q.z, q.w) if (q.x, q.y, q.z, q.w) != (0, 0, 0, 0) else (0.0, 0.0, 0.0, 1.0)
    return Pose(
        position=Vector3(x=p.position.x, y=p.position.y, z=p.position.z),
        orientation=Quaternion(x=quat[0], y=quat[1], z=quat[2], w=quat[3]),
    )


def _colour(c):
    from foxglove.messages import Color

    return Color(r=float(c.r), g=float(c.g), b=float(c.b), a=float(c.a))


def scene_update(markers) -> tuple[object, int]:
    """
    Return (foxglove SceneUpdate, number of entities) of a visualization_msgs MarkerArray.

    One entity per marker (id ``<ns>/<id>``, the marker's frame, stamp and lifetime);
    DELETE and DELETEALL become deletions. Marker types other than cube, sphere, cylinder and
    view-facing text are left out.
    """
    from foxglove.messages import (
        CubePrimitive,
        CylinderPrimitive,
        Duration,
        SceneEntity,
        SceneEntityDeletion,
        SceneEntityDeletionType,
        SceneUpdate,
        SpherePrimitive,
        TextPrimitive,
        Vector3,
    )

    entities, deletions = [], []
    for mk in markers.markers:
        stamp = stamp_ns(mk.header)
        key = f'{mk.ns}/{mk.id}'
        if mk.action == DELETEALL:
            deletions.append(
                SceneEntityDeletion(timestamp=_stamp(stamp), type=SceneEntityDeletionType.All)
            )
            continue
        if mk.action == DELETE:
            deletions.append(
                SceneEntityDeletion(
                    timestamp=_stamp(stamp), type=SceneEntityDeletionType.MatchingId, id=key
                )
            )
            continue
        size = Vector3(x=mk.scale.x, y=mk.scale.y, z=mk.scale.z)
        parts: dict[str, list] = {}
        if mk.type == CYLINDER:
            parts['cylinders'] = [
                CylinderPrimitive(
                    pose=_pose(mk.pose), size=size, bottom_scale=1.0, top_scale=1.0,
                    color=_colour(mk.color),
                )
            ]  # fmt: skip
        elif mk.type == CUBE:
            parts['cubes'] = [
                CubePrimitive(pose=_pose(mk.pose), size=size, color=_colour(mk.color))
            ]
        elif mk.type == SPHERE:
            parts['spheres'] = [
                SpherePrimitive(pose=_pose(mk.pose), size=size, color=_colour(mk.color))
            ]
        elif mk.type == TEXT_VIEW_FACING:
            parts['texts'] = [
                TextPrimitive(
                    pose=_pose(mk.pose), billboard=True, font_size=max(mk.scale.z, 0.01),
                    scale_invariant=False, color=_colour(mk.color), text=str(mk.text),
                )
            ]  # fmt: skip
        else:
            continue
        life = int(mk.lifetime.sec) * 1_000_000_000 + int(mk.lifetime.nanosec)
        entities.append(
            SceneEntity(
                timestamp=_stamp(stamp), frame_id=mk.header.frame_id, id=key,
                lifetime=Duration(sec=life // 1_000_000_000, nsec=life % 1_000_000_000),
                frame_locked=bool(mk.frame_locked), **parts,
            )
        )  # fmt: skip
    return SceneUpdate(deletions=deletions, entities=entities), len(entities)


def diagnostics(msg) -> dict:
    """Return a diagnostic_msgs DiagnosticArray as a JSON-ready dict."""
    out = []
    for s in msg.status:
        level = s.level[0] if isinstance(s.level, (bytes, bytearray)) else int(s.level)
        out.append(
            {
                'name': s.name,
                'level': LEVELS.get(level, str(level)),
                'message': s.message,
                'values': {kv.key: kv.value for kv in s.values},
            }
        )
    return {'stamp': stamp_ns(msg.header) / 1e9, 'status': out}


def channel_decoder(channel: dict):
    """
    Return bytes -> message for a channel a Foxglove server advertised (a viewer's side).

    Protobuf channels carry their schema as a base64 FileDescriptorSet; JSON ones are parsed.
    """
    import base64
    import json

    if channel.get('encoding') == 'json':
        return json.loads
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    files = descriptor_pb2.FileDescriptorSet.FromString(base64.b64decode(channel['schema']))
    pool = descriptor_pool.DescriptorPool()
    for f in files.file:
        pool.Add(f)
    return message_factory.GetMessageClass(
        pool.FindMessageTypeByName(channel['schemaName'])
    ).FromString
