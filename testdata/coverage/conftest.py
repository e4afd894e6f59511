# Puts the project directory on sys.path, so that the tests import calc.
