package app

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/k8s-testrun/k8s-testrun/internal/config"
	"github.com/k8s-testrun/k8s-testrun/manifests"
)

// newRunCommand is `k8s-testrun run`: its flags are config.Config's.
func newRunCommand(env Env) *cobra.Command {
	var cfg config.Config
	cmd := &cobra.Command{
		Use:     "run [flags] [PROJECT_DIR] [-- PYTEST_SELECTION...]",
		GroupID: groupTests,
		Short:   "Build the test image and run every pytest test in its own pod",
		Long: `Runs every pytest test of PROJECT_DIR (default .) in its own pod.

The image is built from the project and pushed to --repository; pytest
collects the tests in it, with the selection given after "--" (paths, -k,
-m); each test then runs in a pod of its own, at most --parallelism at once.
The merged JUnit report goes to --junit.

Exit codes: 0 every test passed or was skipped; 1 a test failed or had an
error; 2 the run could not be carried out as asked (bad input, the cluster or
registry refused) or a test ended for an infrastructure reason.`,
		Example: `  # the sample project on the local cluster (K8S_TESTRUN_REGISTRY names its registry)
  k8s-testrun run testdata/sample

  # any cluster and a registry it can pull from; two retries, a 5 minute timeout
  k8s-testrun run --repository localhost:5001/myproject -p 8 --timeout 5m --retries 2 ./myproject

  # only the tests under tests/unit that are not marked slow
  k8s-testrun run . -- tests/unit -m "not slow"

  # one pod per test file, events for a tool
  k8s-testrun run --pod-per file -o json . > events.jsonl`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			positional, selection := config.SplitAtDash(args, cmd.ArgsLenAtDash())
			if err := cfg.Complete(positional, selection, env.Getenv); err != nil {
				return exit(ExitInfra, err)
			}
			return exit(runCommand(cmd.Context(), cfg, env))
		},
	}
	cmd.Flags().SortFlags = false
	config.BindRunFlags(cmd.Flags(), &cfg)
	cmd.SetUsageFunc(groupedUsage)
	return cmd
}

// groupedUsage is the usage of a command whose flags carry a group: the
// flags are listed group by group, in the order they were defined.
func groupedUsage(cmd *cobra.Command) error {
	w := cmd.OutOrStderr()
	fmt.Fprintf(w, "Usage:\n  %s\n", cmd.UseLine())
	if cmd.Example != "" {
		fmt.Fprintf(w, "\nExamples:\n%s\n", cmd.Example)
	}
	sets := map[string]*pflag.FlagSet{}
	other := pflag.NewFlagSet("other", pflag.ContinueOnError)
	other.SortFlags = false
	cmd.LocalFlags().VisitAll(func(f *pflag.Flag) {
		g := config.FlagGroup(f)
		if g == "" {
			other.AddFlag(f)
			return
		}
		if sets[g] == nil {
			sets[g] = pflag.NewFlagSet(g, pflag.ContinueOnError)
			sets[g].SortFlags = false
		}
		sets[g].AddFlag(f)
	})
	for _, g := range config.FlagGroups {
		if fs := sets[g]; fs != nil {
			fmt.Fprintf(w, "\n%s flags:\n%s", g, fs.FlagUsagesWrapped(100))
		}
	}
	if other.HasFlags() {
		fmt.Fprintf(w, "\nOther flags:\n%s", other.FlagUsagesWrapped(100))
	}
	return nil
}

func newActionCommand(env Env) *cobra.Command {
	return &cobra.Command{
		Use:     "action",
		GroupID: groupTests,
		Short:   "Run as a GitHub Action step: inputs from INPUT_*, results as a check run, job summary and outputs",
		Long: `Runs as a GitHub Action step: the inputs come from the INPUT_* variables
the runner sets (see action.yml), the results go to a check run with
annotations, the job summary and the step's outputs. It is what the action's
container runs when started with no arguments and GITHUB_ACTIONS=true.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return exit(actionCommand(cmd.Context(), args, env))
		},
	}
}

// gcOptions are the flags of gc.
type gcOptions struct {
	kubeconfig, context, namespace string
	olderThan                      time.Duration
}

func newGCCommand(env Env) *cobra.Command {
	var o gcOptions
	cmd := &cobra.Command{
		Use:     "gc [flags]",
		GroupID: groupCluster,
		Short:   "Delete the pods of runs older than an age",
		Long: `Deletes, by label, the pods of k8s-testrun runs whose newest pod is older
than --older-than, should a run's process have been killed before its own
cleanup.`,
		Example: `  k8s-testrun gc --older-than 1h
  k8s-testrun gc -n ci --older-than 30m`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.kubeconfig == "" {
				o.kubeconfig = env.Getenv("KUBECONFIG")
			}
			return gcCommand(cmd.Context(), o, env)
		},
	}
	cmd.Flags().StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file (default $KUBECONFIG, then ~/.kube/config)")
	cmd.Flags().StringVar(&o.context, "context", "", "kubeconfig context (default: the current context)")
	cmd.Flags().StringVarP(&o.namespace, "namespace", "n", "", "namespace (default: the context's)")
	cmd.Flags().DurationVar(&o.olderThan, "older-than", time.Hour, "delete the pods of runs whose newest pod is older than this")
	return cmd
}

// installOptions are the flags of install.
type installOptions struct {
	image, overlay, kubeconfig, context string
	repository, pullRegistry            string
	wait                                time.Duration
	print                               bool
	watchNamespaces                     []string
	clusterWide                         bool
}

func newInstallCommand(env Env) *cobra.Command {
	var o installOptions
	cmd := &cobra.Command{
		Use:     "install --image IMAGE [flags]",
		GroupID: groupCluster,
		Short:   "Install the operator (CRDs, RBAC, Deployment) for run --mode operator",
		Long: `Applies the operator's manifests, the same kustomizations as
kubectl apply -k manifests/default, built into the binary. The operator runs
from an image that carries k8s-testrun at /opt/k8s-testrun/bin/k8s-testrun:
--repository pushes one there, made of this k8s-testrun alone, and installs
it (test images carry only k8s-testrun-pod, which has no operator).

The operator watches, and may create pods in, its own namespace
(k8s-testrun-system) and the namespaces of --watch-namespace, each granted
by a RoleBinding; --cluster-wide binds it in every namespace instead.`,
		Example: `  k8s-testrun install --repository localhost:5001/k8s-testrun/operator
  k8s-testrun install --image localhost:5001/k8s-testrun/operator@sha256:...
  k8s-testrun install --image IMAGE --watch-namespace ci --watch-namespace nightly
  k8s-testrun install --image IMAGE --cluster-wide
  k8s-testrun install --image IMAGE --print | kubectl apply -f -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return installCommand(cmd.Context(), o, env)
		},
	}
	cmd.Flags().StringVar(&o.image, "image", "", "image of the operator, one that carries k8s-testrun at /opt/k8s-testrun/bin/k8s-testrun, as --repository pushes it (this or --repository is required)")
	cmd.Flags().StringVar(&o.repository, "repository", "", "push the operator's image, this k8s-testrun alone, to this registry repository and install it, e.g. localhost:5001/k8s-testrun/operator")
	cmd.Flags().StringVar(&o.pullRegistry, "pull-registry", "", "with --repository: registry host the nodes pull from, when they reach the registry under another name")
	cmd.Flags().StringVar(&o.overlay, "overlay", manifests.Default, "default, or local for the local cluster of hack/cluster (host network, API server on 127.0.0.1)")
	cmd.Flags().StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file (default $KUBECONFIG, then ~/.kube/config)")
	cmd.Flags().StringVar(&o.context, "context", "", "kubeconfig context (default: the current context)")
	cmd.Flags().DurationVar(&o.wait, "wait", 2*time.Minute, "how long to wait for the operator to be available; 0 does not wait")
	cmd.Flags().BoolVar(&o.print, "print", false, "print the manifests instead of applying them")
	cmd.Flags().StringSliceVar(&o.watchNamespaces, "watch-namespace", nil, "a namespace the operator watches and may create pods in, besides its own; repeat it or separate by commas")
	cmd.Flags().BoolVar(&o.clusterWide, "cluster-wide", false, "let the operator watch, and create pods in, every namespace (a ClusterRoleBinding); default: its own namespace and those of --watch-namespace only")
	return cmd
}

func newVersionCommand(env Env) *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		GroupID: groupOther,
		Short:   "Print the version of k8s-testrun, Go and the Kubernetes client",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := io.WriteString(cmd.OutOrStdout(), versionInfo().String())
			return err
		},
	}
}

// The operator's role is not for people to type: its command line is
// written into the operator's Deployment, possibly by another version of
// k8s-testrun, whose flags Go's flag package read as -flag or --flag. So
// it takes both: execute rewrites -flag into --flag for the flags of a
// command annotated singleDash (doubleDash). The roles of the test pods are
// k8s-testrun-pod's (internal/podcmd).

func newOperatorCommand(env Env) *cobra.Command {
	return operatorCommand(env, runOperator)
}

// operatorCommand is the operator's command, which parses its flags and
// hands them to run.
func operatorCommand(env Env, run func(context.Context, operatorFlags, Env) error) *cobra.Command {
	var o operatorFlags
	cmd := &cobra.Command{
		Use:         "operator",
		Short:       "Reconcile TestRun and TestCase resources (the operator's Deployment runs it)",
		Hidden:      true,
		Args:        cobra.NoArgs,
		Annotations: map[string]string{annotationSingleDash: "true"},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return exit(ExitOK, run(cmd.Context(), o, env))
		},
	}
	bindOperatorFlags(cmd.Flags(), &o)
	return cmd
}
