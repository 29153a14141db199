"""Exceptions shared by the core and the nodes (kept free of heavy imports)."""


class ModelLoadError(RuntimeError):
    """A model file that cannot be used; the message names the file and what to do."""
