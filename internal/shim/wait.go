package shim

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"

	"github.com/k8s-testrun/k8s-testrun/internal/layout"
)

// A Service is a check the shim makes before it starts the test, for a
// service of the pod that runs as a regular container (no native sidecars):
// a TCP connect, or an HTTP GET that must answer 2xx or 3xx, as a kubelet's
// tcpSocket and httpGet probes would.
type Service struct {
	Name string
	// Kind is "tcp" (Target is host:port) or "http" (Target is a URL).
	Kind   string
	Target string
}

// ParseService reads NAME=tcp:HOST:PORT or NAME=http://... or
// NAME=https://..., the form the pod spec gives the shim.
func ParseService(s string) (Service, error) {
	name, target, ok := strings.Cut(s, "=")
	if !ok || name == "" || target == "" {
		return Service{}, fmt.Errorf("service check %q: want NAME=tcp:HOST:PORT or NAME=http://HOST:PORT/PATH", s)
	}
	if addr, ok := strings.CutPrefix(target, "tcp:"); ok {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return Service{}, fmt.Errorf("service check %q: %w", s, err)
		}
		return Service{Name: name, Kind: "tcp", Target: addr}, nil
	}
	if strings.HasPrefix(target, "http://") || strings.HasPrefix(target, "https://") {
		return Service{Name: name, Kind: "http", Target: target}, nil
	}
	return Service{}, fmt.Errorf("service check %q: want NAME=tcp:HOST:PORT or NAME=http://HOST:PORT/PATH", s)
}

// NotReadyError names a service whose check did not pass in time.
type NotReadyError struct {
	Service Service
	Timeout time.Duration
	Last    error
}

func (e *NotReadyError) Error() string {
	return fmt.Sprintf("service %q not ready within %s: %s %s: %v", e.Service.Name, e.Timeout, e.Service.Kind, e.Service.Target, e.Last)
}

// waitInterval is how often a check is tried again.
const waitInterval = 250 * time.Millisecond

// WaitForServices tries each service's check until it passes, in turn, and
// returns a *NotReadyError for the first that has not passed once timeout
// has gone by since the call.
func WaitForServices(ctx context.Context, services []Service, timeout time.Duration) error {
	if len(services) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{
		Timeout: 2 * time.Second,
		// As a kubelet's probe: a redirect is an answer.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		// As a kubelet's probe, too: no proxy, and no check of the
		// certificate of a service on the pod's own network.
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, //nolint:gosec // a probe of the pod's own service
	}
	for _, s := range services {
		var last error
		for {
			if last = check(ctx, client, s); last == nil {
				break
			}
			select {
			case <-ctx.Done():
				if errors.Is(ctx.Err(), context.DeadlineExceeded) {
					return &NotReadyError{Service: s, Timeout: timeout, Last: last}
				}
				return ctx.Err()
			case <-time.After(waitInterval):
			}
		}
	}
	return nil
}

func check(ctx context.Context, client *http.Client, s Service) error {
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if s.Kind == "tcp" {
		var d net.Dialer
		conn, err := d.DialContext(cctx, "tcp", s.Target)
		if err != nil {
			return err
		}
		return conn.Close()
	}
	req, err := http.NewRequestWithContext(cctx, http.MethodGet, s.Target, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return fmt.Errorf("HTTP status %d", resp.StatusCode)
	}
	return nil
}

// waitForServices waits for opts.Services before the test starts. It returns
// false, with the exit code to record, when the test must not start: a
// service not ready in time, or a signal to stop.
func waitForServices(ctx context.Context, opts Options, out io.Writer) (int, bool) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopped := make(chan int, 1)
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case sig := <-opts.Signals:
			n := 15
			if s, ok := sig.(syscall.Signal); ok {
				n = int(s)
			}
			stopped <- 128 + n
			cancel()
		case <-done:
		}
	}()
	timeout := opts.ServiceTimeout
	if timeout <= 0 {
		timeout = DefaultServiceTimeout
	}
	err := WaitForServices(ctx, opts.Services, timeout)
	var notReady *NotReadyError
	switch {
	case err == nil:
		return 0, true
	case errors.As(err, &notReady):
		fmt.Fprintln(out, layout.ServiceNotReadyPrefix+err.Error())
		return layout.ExitServiceNotReady, false
	}
	select {
	case code := <-stopped:
		fmt.Fprintln(out, "k8s-testrun shim: stopped while waiting for services")
		return code, false
	default:
		fmt.Fprintln(out, "k8s-testrun shim: waiting for services:", err)
		return ExitStartFailed, false
	}
}

// DefaultServiceTimeout bounds the wait for services when none is given.
const DefaultServiceTimeout = 2 * time.Minute
