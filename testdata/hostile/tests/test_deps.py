# The requirements (requirements.txt, a wheel in wheels/) are installed.
import ktr_greeting


def test_the_dependency_is_installed():
    assert ktr_greeting
