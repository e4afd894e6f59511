import pytest

no_such_module = pytest.importorskip("no_such_module")


def test_uses_the_module():
    assert no_such_module
