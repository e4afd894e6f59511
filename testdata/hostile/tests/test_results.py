# Tests that write into the results volume of their pod, which the
# collector ships as it finds it.
import atexit
import os
import xml.etree.ElementTree as ET

import pytest

# A file attribute that, unescaped in a link of the job summary, adds a
# heading, an image and HTML to it.
HOSTILE_FILE = "t.py)\n\n## Injected\n![p](https://example.invalid/p.png)<img src=x>"


def _results_dir():
    return os.path.dirname(os.environ["K8S_TESTRUN_ARTIFACTS"])


def _rewrite_file_attribute(path):
    tree = ET.parse(path)
    for case in tree.iter("testcase"):
        case.set("file", HOSTILE_FILE)
    tree.write(path, encoding="unicode")


def test_rewrites_its_own_file_attribute():
    # pytest writes junit.xml when its session ends; this runs after that,
    # before the process exits and the collector ships the file.
    atexit.register(_rewrite_file_attribute, os.path.join(_results_dir(), "junit.xml"))
    assert False, "this test's report names a hostile file"


def test_writes_a_coverage_file_with_a_command_in_its_name():
    data_file = os.environ.get("COVERAGE_FILE")
    if not data_file:
        pytest.skip("not run under coverage.py")
    name = os.path.join(os.path.dirname(data_file), ".coverage.##[warning title=x]injected")
    with open(name, "w") as f:
        f.write("not coverage.py data\n")
