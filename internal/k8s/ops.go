package k8s

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/version"
	apiversion "k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// APIError is a refusal from the API server that a user can act on; its
// message names the resource and what would fix it.
type APIError struct {
	Op   string
	Hint string
	Err  error
}

func (e *APIError) Error() string {
	if e.Hint == "" {
		return fmt.Sprintf("%s: %v", e.Op, e.Err)
	}
	return fmt.Sprintf("%s: %v (%s)", e.Op, e.Err, e.Hint)
}

func (e *APIError) Unwrap() error { return e.Err }

// Explain wraps err with a hint for the refusals users can fix themselves.
func Explain(op, namespace string, err error) error {
	if err == nil {
		return nil
	}
	var hint string
	switch {
	case apierrors.IsForbidden(err):
		hint = fmt.Sprintf("grant a Role in namespace %q with pods: create, get, list, watch, delete and pods/log: get", namespace)
	case apierrors.IsNotFound(err) && isNamespaceNotFound(err, namespace):
		hint = fmt.Sprintf("create namespace %q or pick another with --namespace", namespace)
	case apierrors.IsUnauthorized(err):
		hint = "the kubeconfig's credentials were rejected; refresh them"
	default:
		return fmt.Errorf("%s: %w", op, err)
	}
	return &APIError{Op: op, Hint: hint, Err: err}
}

func isNamespaceNotFound(err error, namespace string) bool {
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return false
	}
	d := status.Status().Details
	return d != nil && d.Kind == "namespaces" && d.Name == namespace
}

// CallTimeout bounds one API call that is not a watch: the client has no
// timeout of its own, which would cut watches and log streams short, so
// each call gets one. A call the API server never answers fails then.
var CallTimeout = time.Minute

// CreatePod creates pod; an existing pod of the same name is not an error,
// because names are deterministic per attempt.
func CreatePod(ctx context.Context, client kubernetes.Interface, pod *corev1.Pod) error {
	ctx, cancel := context.WithTimeout(ctx, CallTimeout)
	defer cancel()
	_, err := client.CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return Explain("creating pod "+pod.Name, pod.Namespace, err)
}

// DeletePod deletes a pod; one already gone is not an error.
func DeletePod(ctx context.Context, client kubernetes.Interface, namespace, name string, grace *int64) error {
	ctx, cancel := context.WithTimeout(ctx, CallTimeout)
	defer cancel()
	err := client.CoreV1().Pods(namespace).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: grace})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return Explain("deleting pod "+name, namespace, err)
}

// Logs reads a container's whole log, capped at limit bytes (zero: no cap).
// The cap holds on this side too, whatever the server sends.
func Logs(ctx context.Context, client kubernetes.Interface, namespace, pod, container string, limit int64) ([]byte, error) {
	b, _, err := readLog(ctx, client, namespace, pod, container, limit)
	return b, err
}

// LogTooLargeError is a log longer than a reader would hold.
type LogTooLargeError struct {
	Pod, Container string
	Limit          int64
}

func (e *LogTooLargeError) Error() string {
	size := fmt.Sprintf("%d bytes", e.Limit)
	if e.Limit >= 1<<20 && e.Limit%(1<<20) == 0 {
		size = fmt.Sprintf("%d MiB", e.Limit>>20)
	}
	return fmt.Sprintf("the log of %s/%s is larger than the %s k8s-testrun reads", e.Pod, e.Container, size)
}

// LogsWithin reads a container's whole log, which must be at most limit
// bytes: a longer one is a *LogTooLargeError, not a log silently cut short,
// for a reader such as discovery that would lose what was cut.
func LogsWithin(ctx context.Context, client kubernetes.Interface, namespace, pod, container string, limit int64) ([]byte, error) {
	b, more, err := readLog(ctx, client, namespace, pod, container, limit)
	if err != nil {
		return nil, err
	}
	if more {
		return nil, &LogTooLargeError{Pod: pod, Container: container, Limit: limit}
	}
	return b, nil
}

// readLog reads at most limit bytes of a log (limit <= 0: all of it) and
// says whether there was more.
func readLog(ctx context.Context, client kubernetes.Interface, namespace, pod, container string, limit int64) ([]byte, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, CallTimeout)
	defer cancel()
	opts := &corev1.PodLogOptions{Container: container}
	if limit > 0 {
		// One byte more tells a log of exactly limit bytes from a longer one.
		opts.LimitBytes = ptr.To(limit + 1)
	}
	rc, err := client.CoreV1().Pods(namespace).GetLogs(pod, opts).Stream(ctx)
	if err != nil {
		return nil, false, Explain(fmt.Sprintf("reading log of %s/%s", pod, container), namespace, err)
	}
	defer rc.Close()
	b, more, err := readAtMost(rc, limit)
	if err != nil {
		return nil, false, fmt.Errorf("reading log of %s/%s: %w", pod, container, err)
	}
	return b, more, nil
}

// readAtMost reads r to its end or to limit bytes (limit <= 0: no limit),
// and says whether r held more.
func readAtMost(r io.Reader, limit int64) ([]byte, bool, error) {
	if limit <= 0 {
		b, err := io.ReadAll(r)
		return b, false, err
	}
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if int64(len(b)) > limit {
		return b[:limit], true, err
	}
	return b, false, err
}

// DeleteSelected deletes every pod matching selector, one by one (a Role
// with "delete" need not grant "deletecollection"), and returns how many it
// asked to delete. grace overrides the pods' grace period when set.
func DeleteSelected(ctx context.Context, client kubernetes.Interface, namespace, selector string, grace *int64) (int, error) {
	list, err := client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return 0, Explain("listing pods", namespace, err)
	}
	var errs []error
	n := 0
	for _, p := range list.Items {
		if err := DeletePod(ctx, client, namespace, p.Name, grace); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// WaitGone waits until no pod matches selector, or ctx ends.
func WaitGone(ctx context.Context, client kubernetes.Interface, namespace, selector string) error {
	return waitGone(ctx, client, namespace, selector, nil)
}

// DeleteUntilGone deletes every pod matching selector and waits until none
// is left, or ctx ends. A matching pod not yet being deleted, such as one
// whose create landed after the first list, is deleted as it appears.
func DeleteUntilGone(ctx context.Context, client kubernetes.Interface, namespace, selector string, grace *int64) (int, error) {
	n := 0
	err := waitGone(ctx, client, namespace, selector, func(p *corev1.Pod) error {
		if err := DeletePod(ctx, client, namespace, p.Name, grace); err != nil {
			return err
		}
		n++
		return nil
	})
	return n, err
}

// waitGone lists the pods matching selector until there is none, handing
// each one not yet being deleted to del, when given.
func waitGone(ctx context.Context, client kubernetes.Interface, namespace, selector string, del func(*corev1.Pod) error) error {
	for {
		list, err := client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return Explain("listing pods", namespace, err)
		}
		if len(list.Items) == 0 {
			return nil
		}
		for i := range list.Items {
			if p := &list.Items[i]; del != nil && p.DeletionTimestamp == nil {
				if err := del(p); err != nil {
					return err
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d pods still present: %w", len(list.Items), ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// GC deletes the pods of runs whose newest pod is older than age, and
// returns the run ids it cleaned.
func GC(ctx context.Context, client kubernetes.Interface, namespace string, age time.Duration, now time.Time) ([]string, error) {
	list, err := client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: LabelManagedBy + "=" + ManagedBy})
	if err != nil {
		return nil, Explain("listing pods", namespace, err)
	}
	newest := map[string]time.Time{}
	for _, p := range list.Items {
		run := p.Labels[LabelRun]
		if t := p.CreationTimestamp.Time; t.After(newest[run]) {
			newest[run] = t
		}
	}
	var runs []string
	var errs []error
	for _, p := range list.Items {
		run := p.Labels[LabelRun]
		if now.Sub(newest[run]) < age {
			continue
		}
		if err := DeletePod(ctx, client, namespace, p.Name, nil); err != nil {
			errs = append(errs, err)
			continue
		}
		if !slices.Contains(runs, run) {
			runs = append(runs, run)
		}
	}
	return runs, errors.Join(errs...)
}

// SupportsNativeSidecars reports whether the server runs init containers
// with restartPolicy Always as sidecars (on by default since 1.29). The
// request honours ctx.
func SupportsNativeSidecars(ctx context.Context, client kubernetes.Interface) (bool, error) {
	info, err := serverVersion(ctx, client)
	if err != nil {
		return false, fmt.Errorf("reading server version: %w", err)
	}
	v, err := version.ParseGeneric(info.GitVersion)
	if err != nil {
		return false, fmt.Errorf("parsing server version %q: %w", info.GitVersion, err)
	}
	return v.AtLeast(version.MajorMinor(1, 29)), nil
}

// serverVersion reads /version under ctx; discovery's ServerVersion takes
// no context. A fake discovery has no REST client and answers itself.
func serverVersion(ctx context.Context, client kubernetes.Interface) (*apiversion.Info, error) {
	rc := client.Discovery().RESTClient()
	if rc == nil || reflect.ValueOf(rc).IsNil() {
		return client.Discovery().ServerVersion()
	}
	body, err := rc.Get().AbsPath("/version").Do(ctx).Raw()
	if err != nil {
		return nil, err
	}
	info := &apiversion.Info{}
	if err := json.Unmarshal(body, info); err != nil {
		return nil, fmt.Errorf("decoding /version: %w", err)
	}
	return info, nil
}
