"""
What makes and checks the models.

Renderers, datasets, training, evaluation, benchmarks, fuzz cases. May use ``core``; the robot's
nodes never import it (checked by the import contracts in setup.cfg).
"""
