"""Tests whose verdicts differ by Python and pytest version: the runtime
matrix's e2e runs them on a bookworm base (Python 3.11, pytest 7) and a
trixie one (Python 3.13, pytest 8)."""

import sys

import pytest


def test_everywhere():
    assert 1 + 1 == 2


def test_before_python_3_13():
    assert sys.version_info < (3, 13), "needs a Python before 3.13"


@pytest.mark.skipif(int(pytest.__version__.split(".")[0]) < 8, reason="needs pytest 8")
def test_pytest_8():
    assert True
