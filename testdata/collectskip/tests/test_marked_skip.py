import pytest

# Marked modules are collected: each test is its own skipped item.
pytestmark = pytest.mark.skip(reason="marked for skipping")


def test_marked_one():
    assert False


def test_marked_two():
    assert False
