"""
What runs on the robot: the pure logic the nodes call (codecs, geometry, models, messages).

No rclpy and nothing from ``workflow``, ``nodes`` or ``tools``; checked by the import contracts in
setup.cfg.
"""
