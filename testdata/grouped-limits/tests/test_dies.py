def test_first():
    assert True


def test_allocates_past_memory_limit():
    blocks = []
    for _ in range(64):
        blocks.append(bytearray(32 * 1024 * 1024))
    assert len(blocks) == 64


def test_third():
    assert True
