"""Four tests that call the Kubernetes API as their pod's ServiceAccount,
with Debian's python3-kubernetes, each a known set of endpoints: the e2e
test of --api-coverage expects exactly these."""

import uuid

from kubernetes import client, config

NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"


def namespace():
    with open(NAMESPACE_FILE) as f:
        return f.read().strip()


def core():
    config.load_incluster_config()
    return client.CoreV1Api()


def test_list_pods():
    # GET /api/v1/namespaces/{namespace}/pods
    pods = core().list_namespaced_pod(namespace())
    assert pods.items is not None


def test_create_and_delete_configmap():
    # POST /api/v1/namespaces/{namespace}/configmaps
    # DELETE /api/v1/namespaces/{namespace}/configmaps/{name}
    api, ns = core(), namespace()
    name = "apicov-" + uuid.uuid4().hex[:12]
    body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name), data={"k": "v"})
    created = api.create_namespaced_config_map(ns, body)
    assert created.data == {"k": "v"}
    api.delete_namespaced_config_map(name, ns)


def test_read_own_namespace():
    # GET /api/v1/namespaces/{name}
    ns = namespace()
    assert core().read_namespace(ns).metadata.name == ns


def test_calls_nothing():
    assert namespace()
