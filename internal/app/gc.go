package app

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/k8s-testrun/k8s-testrun/internal/config"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
)

// gcCommand deletes the pods of runs older than o.olderThan.
func gcCommand(ctx context.Context, o gcOptions, env Env) error {
	if o.olderThan < 0 {
		return &config.Error{Input: "older-than", Value: o.olderThan.String(), Fix: "must be zero or positive, e.g. 1h"}
	}
	cluster, err := k8s.Connect(k8s.ClientOptions{Kubeconfig: o.kubeconfig, Context: o.context, Namespace: o.namespace})
	if err != nil {
		return fmt.Errorf("%w; give a valid --kubeconfig or set KUBECONFIG", err)
	}
	runs, err := k8s.GC(ctx, cluster.Client, cluster.Namespace, o.olderThan, time.Now())
	if len(runs) > 0 {
		fmt.Fprintf(env.Stdout, "deleted the pods of %d runs in %s: %s\n", len(runs), cluster.Namespace, strings.Join(runs, ", "))
	} else if err == nil {
		fmt.Fprintf(env.Stdout, "no run in %s older than %s\n", cluster.Namespace, o.olderThan)
	}
	return err
}
