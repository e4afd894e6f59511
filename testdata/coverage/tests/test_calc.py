import calc


def test_add():
    assert calc.add(2, 3) == 5


def test_scale():
    assert calc.scale(4, 0) == 0
    assert calc.scale(4, 2) == 8
