package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

const (
	// serviceCIDR is where Service cluster IPs come from; serviceIP is the
	// first of them, taken by the kubernetes Service.
	serviceCIDR = "10.96.0.0/16"
	serviceIP   = "10.96.0.1"
)

// Component names, in start order. They name pidfiles and logs.
const (
	nameContainerd = "containerd"
	nameRegistry   = "registry"
	nameEtcd       = "etcd"
	nameAPIServer  = "kube-apiserver"
	nameCM         = "kube-controller-manager"
	nameScheduler  = "kube-scheduler"
	nameKubelet    = "kubelet"
)

// stopOrder is the reverse of the start order, except that etcd goes after
// the API server (whose graceful shutdown hangs without etcd) and
// containerd after the pods are gone.
var stopOrder = []string{nameKubelet, nameScheduler, nameCM, nameAPIServer, nameEtcd, nameContainerd, nameRegistry}

func (c *Cluster) etcd(s State) component {
	peer := fmt.Sprintf("http://127.0.0.1:%d", s.Ports.EtcdPeer)
	client := fmt.Sprintf("http://127.0.0.1:%d", s.Ports.EtcdClient)
	return component{
		name: nameEtcd,
		bin:  "/usr/bin/etcd",
		args: []string{
			"--name=" + c.Name,
			"--data-dir=" + c.path("etcd"),
			"--listen-client-urls=" + client,
			"--advertise-client-urls=" + client,
			"--listen-peer-urls=" + peer,
			"--initial-advertise-peer-urls=" + peer,
			"--initial-cluster=" + c.Name + "=" + peer,
			"--initial-cluster-state=new",
			"--logger=zap",
			"--log-level=warn",
		},
		grace: 10 * time.Second,
	}
}

func (c *Cluster) apiServer(s State) component {
	pki := c.path("pki")
	f := func(name string) string { return filepath.Join(pki, name) }
	return component{
		name: nameAPIServer,
		bin:  filepath.Join(s.KubeBinDir, "kube-apiserver"),
		args: append([]string{
			"--bind-address=127.0.0.1",
			// The kubernetes Service's endpoint must not be loopback.
			"--advertise-address=" + s.NodeIP,
			"--secure-port=" + strconv.Itoa(s.Ports.APIServer),
			fmt.Sprintf("--etcd-servers=http://127.0.0.1:%d", s.Ports.EtcdClient),
			"--etcd-prefix=/registry",
			"--service-cluster-ip-range=" + serviceCIDR,
			"--authorization-mode=Node,RBAC",
			"--enable-admission-plugins=NodeRestriction",
			"--allow-privileged=true",
			"--client-ca-file=" + f("ca.crt"),
			"--tls-cert-file=" + f("apiserver.crt"),
			"--tls-private-key-file=" + f("apiserver.key"),
			"--kubelet-client-certificate=" + f("apiserver-kubelet-client.crt"),
			"--kubelet-client-key=" + f("apiserver-kubelet-client.key"),
			"--kubelet-certificate-authority=" + f("ca.crt"),
			// The node name resolves to loopback, where the kubelet listens.
			"--kubelet-preferred-address-types=Hostname,InternalIP",
			"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
			"--service-account-key-file=" + f("sa.pub"),
			"--service-account-signing-key-file=" + f("sa.key"),
			"--cert-dir=" + c.path("pki", "apiserver-generated"),
			"--profiling=false",
			"--v=1",
		}, c.auditArgs()...),
		grace: 20 * time.Second,
	}
}

func (c *Cluster) controllerManager(s State) component {
	kc := c.path("controller-manager.kubeconfig")
	return component{
		name: nameCM,
		bin:  filepath.Join(s.KubeBinDir, "kube-controller-manager"),
		args: []string{
			"--kubeconfig=" + kc,
			"--authentication-kubeconfig=" + kc,
			"--authorization-kubeconfig=" + kc,
			"--bind-address=127.0.0.1",
			"--secure-port=" + strconv.Itoa(s.Ports.ControllerManager),
			"--leader-elect=false",
			// Each controller acts as its own service account, as in a
			// real cluster, so RBAC mistakes show up here too.
			"--use-service-account-credentials=true",
			"--service-account-private-key-file=" + c.path("pki", "sa.key"),
			"--root-ca-file=" + c.path("pki", "ca.crt"),
			"--cluster-signing-cert-file=" + c.path("pki", "ca.crt"),
			"--cluster-signing-key-file=" + c.path("pki", "ca.key"),
			"--service-cluster-ip-range=" + serviceCIDR,
			"--cert-dir=" + c.path("pki", "controller-manager-generated"),
			"--profiling=false",
			"--v=1",
		},
		grace: 10 * time.Second,
	}
}

func (c *Cluster) scheduler(s State) component {
	kc := c.path("scheduler.kubeconfig")
	return component{
		name: nameScheduler,
		bin:  filepath.Join(s.KubeBinDir, "kube-scheduler"),
		args: []string{
			"--kubeconfig=" + kc,
			"--authentication-kubeconfig=" + kc,
			"--authorization-kubeconfig=" + kc,
			"--bind-address=127.0.0.1",
			"--secure-port=" + strconv.Itoa(s.Ports.Scheduler),
			"--leader-elect=false",
			"--cert-dir=" + c.path("pki", "scheduler-generated"),
			"--profiling=false",
			"--v=1",
		},
		grace: 10 * time.Second,
	}
}

// kubeletConfig is the kubelet's configuration file. The settings beyond
// the certificates are what this kind of machine needs: cgroup v1 (hybrid)
// with the cgroupfs driver, no node allocatable enforcement, swap allowed.
func (c *Cluster) kubeletConfig(s State) map[string]any {
	pki := c.path("pki")
	return map[string]any{
		"apiVersion":         "kubelet.config.k8s.io/v1beta1",
		"kind":               "KubeletConfiguration",
		"address":            "127.0.0.1",
		"port":               s.Ports.Kubelet,
		"readOnlyPort":       0,
		"healthzBindAddress": "127.0.0.1",
		"healthzPort":        s.Ports.KubeletHealthz,
		"tlsCertFile":        filepath.Join(pki, "kubelet.crt"),
		"tlsPrivateKeyFile":  filepath.Join(pki, "kubelet.key"),
		"authentication": map[string]any{
			"anonymous": map[string]any{"enabled": false},
			"webhook":   map[string]any{"enabled": true},
			"x509":      map[string]any{"clientCAFile": filepath.Join(pki, "ca.crt")},
		},
		"authorization":            map[string]any{"mode": "Webhook"},
		"containerRuntimeEndpoint": "unix://" + c.containerdSocket(),
		"failCgroupV1":             false,
		"cgroupDriver":             "cgroupfs",
		// QoS cgroups put every pod below cgroupRoot, one subtree that is
		// this cluster's alone. Without them the kubelet names no cgroup
		// parent and containerd puts pods below /k8s.io, shared with any
		// other containerd on the machine.
		"cgroupsPerQOS":          true,
		"cgroupRoot":             c.footprint().CgroupRoot,
		"enforceNodeAllocatable": []string{},
		"failSwapOn":             false,
		"clusterDomain":          "cluster.local",
		"resolvConf":             "/etc/resolv.conf",
		"serializeImagePulls":    false,
		"rotateCertificates":     false,
		// A test machine's disk is often fuller than a node's; evicting the
		// test pods for it would only hide the real failure.
		"evictionHard": map[string]string{
			"memory.available":  "100Mi",
			"nodefs.available":  "2%",
			"imagefs.available": "2%",
			"nodefs.inodesFree": "2%",
		},
		"imageGCHighThresholdPercent": 98,
		"imageGCLowThresholdPercent":  95,
		"shutdownGracePeriod":         "0s",
		// No kube-proxy runs here, so the kubelet's iptables chains (a
		// DROP rule for localnet among them) would protect nothing and
		// outlive the cluster in the machine's firewall.
		"makeIPTablesUtilChains": false,
	}
}

func (c *Cluster) kubelet(s State) (component, error) {
	cfgPath := c.path("kubelet-config.json")
	b, err := json.MarshalIndent(c.kubeletConfig(s), "", "  ")
	if err != nil {
		return component{}, fmt.Errorf("encoding kubelet config: %w", err)
	}
	if err := writeFileAtomic(cfgPath, b, 0o644); err != nil {
		return component{}, err
	}
	return component{
		name: nameKubelet,
		bin:  filepath.Join(s.KubeBinDir, "kubelet"),
		args: []string{
			"--config=" + cfgPath,
			"--kubeconfig=" + c.path("kubelet.kubeconfig"),
			"--root-dir=" + c.path("kubelet"),
			"--cert-dir=" + c.path("pki", "kubelet-generated"),
			"--hostname-override=" + s.NodeName,
			"--node-ip=" + s.NodeIP,
			"--v=1",
		},
		grace: 15 * time.Second,
	}, nil
}

// prepareCgroupRoot creates the pods' parent cgroup in every hierarchy
// before the kubelet starts, which refuses a cgroupRoot that does not
// exist; cpuset needs its CPUs and memory nodes copied from the parent or
// nothing may run below it.
func (c *Cluster) prepareCgroupRoot() error {
	root := c.footprint().CgroupRoot
	hier, err := filepath.Glob("/sys/fs/cgroup/*")
	if err != nil {
		return fmt.Errorf("listing cgroup hierarchies: %w", err)
	}
	for _, h := range hier {
		if st, err := os.Stat(h); err != nil || !st.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(h, "cgroup.procs")); err != nil {
			continue
		}
		d := filepath.Join(h, root)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("creating cgroup %s: %w", d, err)
		}
		if filepath.Base(h) == "cpuset" {
			for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
				v, err := os.ReadFile(filepath.Join(h, f))
				if err != nil {
					return fmt.Errorf("reading %s: %w", f, err)
				}
				if err := os.WriteFile(filepath.Join(d, f), v, 0o644); err != nil {
					return fmt.Errorf("writing %s: %w", filepath.Join(d, f), err)
				}
			}
		}
	}
	return nil
}
