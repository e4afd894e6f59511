import os


def test_writes_100000_artifact_files():
    # Empty files: as many as the results block can name.
    d = os.environ["K8S_TESTRUN_ARTIFACTS"]
    for i in range(100_000):
        open(os.path.join(d, "f%06d" % i), "wb").close()
