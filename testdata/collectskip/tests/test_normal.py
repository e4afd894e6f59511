import pytest


def test_passes():
    assert 1 + 1 == 2


def test_fails():
    value = 1
    assert value == 3, "expected three"


@pytest.mark.skip(reason="not today")
def test_skipped():
    pass


class TestGroup:
    def test_in_class(self):
        assert True
