"""The ``glass-*`` command-line tools: argument parsing and printing around ``core`` and ``workflow``."""
