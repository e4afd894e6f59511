// Package k8s is the only place that talks to the Kubernetes API: it builds
// clients, test pods and one-off pods, observes pods through one informer per
// run, reads logs, and deletes what a run created. It takes image references
// as plain strings and knows nothing of how images are built.
package k8s

import (
	"cmp"
	"errors"
	"fmt"
	"os"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/k8s-testrun/k8s-testrun/internal/defaults"
)

// Client-side rate limits (see package defaults).
const (
	DefaultQPS   = defaults.KubeAPIQPS
	DefaultBurst = defaults.KubeAPIBurst
)

// ClientOptions says where the cluster is.
type ClientOptions struct {
	// Kubeconfig is a kubeconfig file path; empty means the usual loading
	// rules (KUBECONFIG, then ~/.kube/config, then in-cluster).
	Kubeconfig string
	// KubeconfigData is kubeconfig contents; it wins over Kubeconfig.
	KubeconfigData []byte
	// Context selects a kubeconfig context; empty means the current one.
	Context string
	// Namespace overrides the context's namespace.
	Namespace string
	// QPS and Burst are the client's rate limits; zero means DefaultQPS
	// and DefaultBurst.
	QPS   float32
	Burst int
}

// Cluster is a connected client and the namespace to work in.
type Cluster struct {
	Config    *rest.Config
	Client    kubernetes.Interface
	Namespace string
}

// ConfigError is a kubeconfig that cannot be used.
type ConfigError struct {
	Source string
	Err    error
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("kubeconfig %s: %v", e.Source, e.Err)
}

func (e *ConfigError) Unwrap() error { return e.Err }

// Connect loads the kubeconfig and returns a client with raised rate limits.
func Connect(opts ClientOptions) (*Cluster, error) {
	var cc clientcmd.ClientConfig
	source := "from KUBECONFIG or ~/.kube/config"
	overrides := &clientcmd.ConfigOverrides{CurrentContext: opts.Context}
	switch {
	case len(opts.KubeconfigData) > 0:
		source = "(contents)"
		raw, err := clientcmd.Load(opts.KubeconfigData)
		if err != nil {
			return nil, &ConfigError{Source: source, Err: err}
		}
		cc = clientcmd.NewDefaultClientConfig(*raw, overrides)
	default:
		rules := clientcmd.NewDefaultClientConfigLoadingRules()
		if opts.Kubeconfig != "" {
			source = fmt.Sprintf("%q", opts.Kubeconfig)
			if _, err := os.Stat(opts.Kubeconfig); err != nil {
				return nil, &ConfigError{Source: source, Err: err}
			}
			rules.ExplicitPath = opts.Kubeconfig
		}
		cc = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	}
	cfg, err := cc.ClientConfig()
	if err != nil {
		if clientcmd.IsEmptyConfig(err) {
			err = errors.New("no cluster configured")
		}
		return nil, &ConfigError{Source: source, Err: err}
	}
	ns := opts.Namespace
	if ns == "" {
		if ns, _, err = cc.Namespace(); err != nil {
			return nil, &ConfigError{Source: source, Err: err}
		}
	}
	cfg.QPS, cfg.Burst = cmp.Or(opts.QPS, DefaultQPS), cmp.Or(opts.Burst, DefaultBurst)
	cfg.UserAgent = "k8s-testrun"
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, &ConfigError{Source: source, Err: err}
	}
	return &Cluster{Config: cfg, Client: client, Namespace: ns}, nil
}
