"""A module docstring that says def fake(): in prose.

def not_a_function(x):
    return x
"""
import os


def plain(a, b):
    return a + b


def multi_line(
    a,
    b=(1, 2),  # a comment: with a colon
    c="x:y",
) -> int:
    """Docstring.

    def also_not_a_function():
    """
    total = a + b[0]

    # a comment at the left margin
    return total


def one_liner(x): return x


@decorator(arg=":")
def decorated(x):
    return x


def gen(items):
    for i in items:
        yield i


async def fetch(url):
    return await get(url)


class Thing(object):
    '''A class.'''

    def __init__(self, x):
        self.x = x

    def outer(self):
        def inner(y):
            return y * 2
        return inner(self.x)

    @property
    def value(self):
        s = """
def in_a_string():
    pass
"""
        return s


def last(x):
    if x:
        return 1
    return 2
