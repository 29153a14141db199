"""
The ``glass-*`` command-line tools.

Argument parsing and printing around ``core`` and ``workflow``.
"""
