# For a pip or a tool that would build with setuptools rather than the
# backend pyproject.toml names.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile_marker  # noqa: E402

hostile_marker.mark("setup.py")
raise SystemExit("hostile setup.py: this project must never be built")
