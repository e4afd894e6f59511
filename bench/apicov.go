package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/k8s-testrun/k8s-testrun/internal/apicov"
	"github.com/k8s-testrun/k8s-testrun/internal/app"
)

// The API coverage benchmark (A1) needs no cluster: it parses a synthetic
// audit log as --api-coverage does and measures the parse's peak RSS and
// throughput, in a child process of its own so that neither the
// generation nor the harness counts.
const (
	apicovCommand      = "apicov"
	apicovChildCommand = "apicov-child"
	// A1RSSTarget and A1RateTarget are the issue's: at most 200 MB of
	// peak RSS, at least 50 MB/s.
	A1RSSTarget  = 200 << 20
	A1RateTarget = 50.0
)

// apicovRunPods is how many pods the synthetic run has; as many again
// are other runs' pods, whose events the reader must refuse.
const apicovRunPods = 200

// apicovUniverse is the local cluster's endpoint list, committed as a
// fixture of internal/apicov.
const apicovUniverse = "internal/apicov/testdata/universe-local.jsonl"

// A1Report is what the child prints.
type A1Report struct {
	Bytes   int64         `json:"bytes"`
	Lines   int64         `json:"lines"`
	Decoded int64         `json:"decoded"`
	Counted int64         `json:"counted"`
	Hit     int           `json:"hit"`
	Wall    time.Duration `json:"wall"`
	VmHWM   int64         `json:"vmhwm"`
}

// apicovMain runs `bench apicov`: generate (or reuse) the log, parse it in
// a child, print the figure, exit 1 on a miss.
func apicovMain(ctx context.Context, args []string, env Env) int {
	fs := flag.NewFlagSet(apicovCommand, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	size := fs.Int64("size", 1<<30, "bytes of synthetic audit log")
	file := fs.String("file", "", "the log (default: a file in the temp dir, removed at the end; kept and reused when given)")
	share := fs.Float64("run-share", 0.3, "share of the lines made by the run's pods (decoded and mapped); the rest are other pods' and the control plane's")
	if err := fs.Parse(args); err != nil {
		return ExitError
	}
	err := func() error {
		repo, err := repoRoot()
		if err != nil {
			return err
		}
		path := *file
		if path == "" {
			dir, err := os.MkdirTemp("", "k8s-testrun-bench-apicov-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			path = filepath.Join(dir, "audit.log")
		}
		if st, err := os.Stat(path); err != nil || st.Size() < *size {
			t0 := time.Now()
			n, err := writeSyntheticAudit(path, *size, *share)
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "  generated %s: %d bytes in %s\n", path, n, time.Since(t0).Round(time.Millisecond))
		}
		self, err := os.Executable()
		if err != nil {
			return err
		}
		cmd := exec.CommandContext(ctx, self, apicovChildCommand, filepath.Join(repo, apicovUniverse), path)
		cmd.Stderr = env.Stderr
		out, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("parse child: %w", err)
		}
		var rep A1Report
		if err := json.Unmarshal(out, &rep); err != nil {
			return fmt.Errorf("parse child printed no report: %q", out)
		}
		rate := float64(rep.Bytes) / (1 << 20) / rep.Wall.Seconds()
		cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		fmt.Fprintf(env.Stdout, "  %d lines, %d decoded (the run's pods), %d requests counted, %d endpoints hit; %d bytes in %s\n",
			rep.Lines, rep.Decoded, rep.Counted, rep.Hit, rep.Bytes, rep.Wall.Round(time.Millisecond))
		fmt.Fprintf(env.Stdout, "  the child's CPU time %s (user+sys), %.1f MB/s of CPU; load average %s\n",
			cpu.Round(time.Millisecond), float64(rep.Bytes)/(1<<20)/cpu.Seconds(), loadAverage())
		pass := rep.VmHWM <= A1RSSTarget && rate >= A1RateTarget
		fmt.Fprintf(env.Stdout, "A1 API coverage parse: peak RSS %s (target <= %s), %.1f MB/s (target >= %.0f) %s\n",
			mib(rep.VmHWM), mib(A1RSSTarget), rate, A1RateTarget, map[bool]string{true: "PASS", false: "MISS"}[pass])
		if !pass {
			return errMissed
		}
		return nil
	}()
	switch {
	case errors.Is(err, errMissed):
		return ExitMissed
	case err != nil:
		fmt.Fprintln(env.Stderr, "bench apicov:", err)
		return ExitError
	}
	return ExitOK
}

var errMissed = errors.New("missed")

// loadAverage is /proc/loadavg's first three figures: the wall-clock rate
// depends on them on a shared machine.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func mib(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/(1<<20)) }

// repoRoot is the checkout the command runs in (the fixture is read from
// it).
func repoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, apicovUniverse)); err == nil {
			return d, nil
		}
		if d == filepath.Dir(d) {
			return "", fmt.Errorf("no %s in %s or above: run inside the repository", apicovUniverse, wd)
		}
	}
}

// apicovPods are the synthetic run's pods, one test each.
func apicovPods() []apicov.Pod {
	pods := make([]apicov.Pod, apicovRunPods)
	for i := range pods {
		id := fmt.Sprintf("tests/test_api_%03d.py::test_%04d", i/10, i)
		pods[i] = apicov.Pod{Namespace: "ktr-run", Name: fmt.Sprintf("ktr-1c302f7c-%04d-1", i), UID: fmt.Sprintf("0000%04d-58ac-400e-8301-8fd8a59a26c2", i), Unit: id, Tests: []string{id}}
	}
	return pods
}

// apicovChild parses the log with the collector of apicovPods and prints
// an A1Report: only this counts in its VmHWM.
func apicovChild(ctx context.Context, args []string, env Env) int {
	if len(args) != 2 {
		fmt.Fprintln(env.Stderr, "usage: bench apicov-child UNIVERSE LOG")
		return ExitError
	}
	err := func() error {
		u, err := loadUniverse(args[0])
		if err != nil {
			return err
		}
		f, err := os.Open(args[1])
		if err != nil {
			return err
		}
		defer f.Close()
		col := apicov.NewCollector(u, time.Time{}, time.Time{}, apicovPods())
		var decoded int64
		t0 := time.Now()
		st, err := apicov.ReadEvents(f, col.Keep, func(e apicov.Event) { decoded++; col.Add(e) })
		if err != nil {
			return err
		}
		wall := time.Since(t0)
		r := col.Report("bench", st)
		hwm, err := app.PeakRSS()
		if err != nil {
			return err
		}
		runtime.KeepAlive(r)
		return json.NewEncoder(env.Stdout).Encode(A1Report{Bytes: st.Bytes, Lines: st.Lines, Decoded: decoded, Counted: col.Counted, Hit: r.Hit, Wall: wall, VmHWM: hwm})
	}()
	if err != nil {
		fmt.Fprintln(env.Stderr, "apicov child:", err)
		return ExitError
	}
	_ = ctx
	return ExitOK
}

func loadUniverse(path string) (*apicov.Universe, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var eps []apicov.Endpoint
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e apicov.Endpoint
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		eps = append(eps, e)
	}
	return apicov.NewUniverse(eps), sc.Err()
}

// syntheticRequests are what the synthetic pods ask, as the local
// cluster's audit log records them (verb, URI).
var syntheticRequests = [][2]string{
	{"list", "/api/v1/namespaces/ktr-run/pods?limit=500"},
	{"get", "/api/v1/namespaces/ktr-run"},
	{"create", "/api/v1/namespaces/ktr-run/configmaps"},
	{"delete", "/api/v1/namespaces/ktr-run/configmaps/apicov-3f2a9c1d0b7e"},
	{"watch", "/api/v1/namespaces/ktr-run/pods?allowWatchBookmarks=true&resourceVersion=4242&timeoutSeconds=300&watch=true"},
	{"get", "/apis/apps/v1/namespaces/ktr-run/deployments/web"},
	{"patch", "/apis/apps/v1/namespaces/ktr-run/deployments/web/scale"},
	{"create", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"},
	{"get", "/version"},
	{"list", "/apis/example.com/v1/namespaces/ktr-run/widgets"},
}

// writeSyntheticAudit writes about size bytes of Metadata-level audit
// events, shaped as the local cluster writes them (about a kilobyte each):
// share of them made by the run's pods, a third of the rest by other pods
// and the rest by the kubelet and the controllers.
func writeSyntheticAudit(path string, size int64, share float64) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	pods := apicovPods()
	ts := time.Date(2026, 12, 7, 0, 20, 0, 0, time.UTC)
	var n int64
	for i := 0; n < size; i++ {
		req := syntheticRequests[i%len(syntheticRequests)]
		at := ts.Add(time.Duration(i) * time.Millisecond).Format("2006-01-02T15:04:05.000000Z")
		var user string
		switch r := float64((i*7919)%1000) / 1000; {
		case r < share:
			p := pods[i%len(pods)]
			user = fmt.Sprintf(`{"username":"system:serviceaccount:ktr-run:apicov","uid":"6f1c2d3e-4b5a-4c6d-8e7f-901a2b3c4d5e","groups":["system:serviceaccounts","system:serviceaccounts:ktr-run","system:authenticated"],"extra":{"authentication.kubernetes.io/credential-id":["JTI=0b8c7a6e-5d4c-4b3a-9f8e-7d6c5b4a3f2e"],"authentication.kubernetes.io/node-name":["vm"],"authentication.kubernetes.io/node-uid":["a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"],"authentication.kubernetes.io/pod-name":[%q],"authentication.kubernetes.io/pod-uid":[%q]}}`, p.Name, p.UID)
		case r < share+(1-share)/3:
			user = fmt.Sprintf(`{"username":"system:serviceaccount:other:apicov","uid":"7f1c2d3e-4b5a-4c6d-8e7f-901a2b3c4d5e","groups":["system:serviceaccounts","system:serviceaccounts:other","system:authenticated"],"extra":{"authentication.kubernetes.io/credential-id":["JTI=1b8c7a6e-5d4c-4b3a-9f8e-7d6c5b4a3f2e"],"authentication.kubernetes.io/node-name":["vm"],"authentication.kubernetes.io/node-uid":["a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"],"authentication.kubernetes.io/pod-name":["other-%04d"],"authentication.kubernetes.io/pod-uid":["1111%04d-58ac-400e-8301-8fd8a59a26c2"]}}`, i%500, i%500)
		default:
			user = `{"username":"system:node:vm","groups":["system:nodes","system:authenticated"],"extra":{"authentication.kubernetes.io/credential-id":["X509SHA256=918385bf1d71f89ecb10af9e9bc3863b44c7c79a2502145a5ce5374b448651fe"]}}`
		}
		resource := strings.SplitN(strings.TrimPrefix(req[1], "/"), "?", 2)[0]
		m, err := fmt.Fprintf(w, `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"%08x-151a-4225-953b-79affdc6c427","stage":"ResponseComplete","requestURI":%q,"verb":%q,"user":%s,"sourceIPs":["10.88.0.12"],"userAgent":"OpenAPI-Generator/22.6.0/python","objectRef":{"resource":%q,"namespace":"ktr-run","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":200},"requestReceivedTimestamp":%q,"stageTimestamp":%q,"annotations":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":"RBAC: allowed by RoleBinding \"apicov/ktr-run\" of Role \"apicov\" to ServiceAccount \"apicov/ktr-run\""}}`+"\n",
			i, req[1], req[0], user, resource, at, at)
		if err != nil {
			f.Close()
			return n, err
		}
		n += int64(m)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return n, err
	}
	return n, f.Close()
}
