"""
Point the ROS wheels' exported CMake targets at this interpreter's include folders.

The wheels were built in a manylinux image, and their *Export.cmake files name that image's
Python and numpy include folders (/opt/python/cp311-cp311/...). Generating an interface package
against them fails while those folders do not exist. Rewriting the paths inside the virtual
environment fixes it without touching anything outside it. Idempotent.
"""

from pathlib import Path
import re
import sys
import sysconfig

import numpy

prefix = Path(sys.prefix)
py_include = sysconfig.get_paths()['include']
np_include = numpy.get_include()
pattern = re.compile(
    r'/opt/python/cp\d+-cp\d+/'
    r'(include/python3\.\d+|lib/python3\.\d+/site-packages/numpy/_core/include)'
)


def repl(m):
    return py_include if m.group(1).startswith('include') else np_include


changed = 0
for f in (prefix / 'share').glob('*/cmake/*.cmake'):
    text = f.read_text()
    new = pattern.sub(repl, text)
    if new != text:
        f.write_text(new)
        changed += 1
print(f'fix_cmake_paths: {changed} file(s) rewritten')
