import os

TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"


def test_no_service_account_token():
    assert not os.path.exists(TOKEN), "the pod mounts a ServiceAccount token"
