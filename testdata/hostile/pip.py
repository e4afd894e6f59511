"""An impostor of pip: `python -m pip` started in this directory
imports this file, not the real pip. See evilpkg/hostile_marker.py."""

import importlib.util
import os

_spec = importlib.util.spec_from_file_location(
    "hostile_marker", os.path.join(os.path.dirname(os.path.realpath(__file__)), "evilpkg", "hostile_marker.py"))
_marker = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_marker)
_marker.impostor("pip", __name__, __file__)
