package main

import (
	_ "embed"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"

	"sigs.k8s.io/yaml"
)

// The README's API coverage section shows these two files as they are
// (TestAuditConfigIsTheREADMEs compares them): the audit policy, and the
// kind config that makes the API server write its audit log with it. The
// cluster of `hack/kind up` is made with that config, so `--api-coverage
// kind:CLUSTER` is tested against what a kind user is told to write.
var (
	//go:embed audit/audit-policy.yaml
	auditPolicy []byte
	//go:embed audit/kind-config.yaml
	auditKindConfig []byte
)

// auditPolicyFile is the policy's name in the README's extraMounts, which
// kind resolves relative to its working directory.
const auditPolicyFile = "./audit-policy.yaml"

// withAudit adds auditKindConfig's control-plane node settings
// (kubeadmConfigPatches, extraMounts) to the cluster config base, with the
// policy's hostPath made the absolute policyPath.
func withAudit(base []byte, policyPath string) ([]byte, error) {
	var cfg, audit map[string]any
	if err := yaml.Unmarshal(base, &cfg); err != nil {
		return nil, fmt.Errorf("the cluster config: %w", err)
	}
	if err := yaml.Unmarshal(auditKindConfig, &audit); err != nil {
		return nil, fmt.Errorf("audit/kind-config.yaml: %w", err)
	}
	for k, v := range audit {
		if k != "nodes" && !reflect.DeepEqual(cfg[k], v) {
			return nil, fmt.Errorf("audit/kind-config.yaml: %s is %v, the cluster config's %v", k, v, cfg[k])
		}
	}
	auditNode, err := controlPlane(audit)
	if err != nil {
		return nil, fmt.Errorf("audit/kind-config.yaml: %w", err)
	}
	node, err := controlPlane(cfg)
	if err != nil {
		return nil, fmt.Errorf("the cluster config: %w", err)
	}
	for k, v := range auditNode {
		if k == "role" {
			continue
		}
		if _, ok := node[k]; ok {
			return nil, fmt.Errorf("the cluster config's node has %s already", k)
		}
		node[k] = v
	}
	mounts, _ := node["extraMounts"].([]any)
	found := false
	for _, m := range mounts {
		if mm, ok := m.(map[string]any); ok && mm["hostPath"] == auditPolicyFile {
			mm["hostPath"], found = filepath.Clean(policyPath), true
		}
	}
	if !found {
		return nil, fmt.Errorf("audit/kind-config.yaml mounts no %s", auditPolicyFile)
	}
	return yaml.Marshal(cfg)
}

// controlPlane is the config's one control-plane node.
func controlPlane(cfg map[string]any) (map[string]any, error) {
	nodes, _ := cfg["nodes"].([]any)
	if len(nodes) != 1 {
		return nil, errors.New("want exactly one node")
	}
	n, ok := nodes[0].(map[string]any)
	if !ok || n["role"] != "control-plane" {
		return nil, errors.New("want a control-plane node")
	}
	return n, nil
}
