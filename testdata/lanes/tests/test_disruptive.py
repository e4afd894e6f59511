import pytest


@pytest.mark.disruptive
def test_disruptive():
    pass
