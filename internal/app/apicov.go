package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/k8s-testrun/k8s-testrun/internal/apicov"
	"github.com/k8s-testrun/k8s-testrun/internal/config"
	"github.com/k8s-testrun/k8s-testrun/internal/kind"
	"github.com/k8s-testrun/k8s-testrun/internal/logtext"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
	"github.com/k8s-testrun/k8s-testrun/internal/testid"
)

// auditLogEnv names the local cluster's audit log in its env file.
const auditLogEnv = "K8S_TESTRUN_AUDIT_LOG"

// apiCoverageSlack widens the run's window on each side by a clock skew
// between this machine and the API server; the pods' names and UIDs keep
// other runs' events out anyway.
const apiCoverageSlack = 5 * time.Second

// apiCoveragePath is where api-coverage.json goes: beside the JUnit report.
func apiCoveragePath(junitPath string) string {
	return filepath.Join(filepath.Dir(junitPath), apicov.ReportFile)
}

// auditSource is where the audit events of --api-coverage are read.
type auditSource struct {
	// files are read in order: rotated ones first, the live log last.
	file string
	// kindCluster, for kind:CLUSTER, is read through the Docker engine.
	kindCluster string
}

func (s auditSource) String() string {
	if s.kindCluster != "" {
		return config.APICoverageKindPrefix + s.kindCluster + " (" + kind.AuditLogPath + " in " + kind.ControlPlane(s.kindCluster) + ")"
	}
	return s.file
}

// apiCoverageSource resolves --api-coverage before anything is built, so
// that a source that cannot be read stops the run at once; the zero
// source means off.
func (p *pipeline) apiCoverageSource() (auditSource, error) {
	v := p.cfg.APICoverage
	if v == "" {
		return auditSource{}, nil
	}
	if name, ok := strings.CutPrefix(v, config.APICoverageKindPrefix); ok {
		return auditSource{kindCluster: name}, nil
	}
	path := v
	if v == config.APICoverageLocal {
		path = envValue(p.environ, auditLogEnv)
		if path == "" {
			return auditSource{}, &config.Error{Input: "api coverage", Value: v, Fix: auditLogEnv + " is not set: source the local cluster's env file (set -a; . <cluster dir>/env; set +a), or give the audit log's path"}
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return auditSource{}, &config.Error{Input: "api coverage", Value: v, Fix: fmt.Sprintf("cannot read the audit log %s: %v; give a file of JSON-lines audit events, local or kind:CLUSTER", path, errors.Unwrap(err))}
	}
	f.Close()
	return auditSource{file: path}, nil
}

func envValue(environ []string, key string) string {
	for i := len(environ) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(environ[i], key+"="); ok {
			return v
		}
	}
	return ""
}

// measureAPICoverage reads the audit events of the run's pods, maps them
// onto the cluster's OpenAPI endpoints, writes api-coverage.json and puts
// the result in the report, for the JUnit properties and the summaries.
func (p *pipeline) measureAPICoverage(ctx context.Context, src auditSource, rep *report.Report) error {
	if src == (auditSource{}) {
		return nil
	}
	start := time.Now()
	u, spec, err := apicov.FetchUniverse(ctx, p.cluster.Client.Discovery())
	if err != nil {
		return fmt.Errorf("API coverage: %w", err)
	}
	from := rep.Started.Add(-apiCoverageSlack)
	to := rep.Started.Add(rep.Wall).Add(apiCoverageSlack)
	col := apicov.NewCollector(u, from, to, apiCoveragePods(p.cluster.Namespace, rep))
	st, err := readAudit(ctx, src, from, p.environ, col)
	if err != nil {
		return fmt.Errorf("API coverage: %w", err)
	}
	r := col.Report(src.String(), st)
	path, err := filepath.Abs(apiCoveragePath(p.cfg.JUnitPath))
	if err != nil {
		return err
	}
	if err := r.Write(path); err != nil {
		return err
	}
	rep.APICoverage = r
	if r.Counted == 0 && r.Denied == 0 {
		p.log.Warn("no request of the run's pods is in the audit log: either no test called the API, or the log is not this cluster's, "+
			"or the tests' tokens are not bound to their pods (a projected service-account token names its pod in user.extra)", "source", src.String(), "lines", st.Lines)
	}
	p.log.Info("wrote API coverage", "path", path, "endpoints", u.Size(), "openapi", spec, "hit", r.Hit,
		"events", r.Counted, "lines", st.Lines, "bytes", st.Bytes, "duration", time.Since(start).Round(time.Millisecond))
	return nil
}

// apiCoveragePods are the run's pods, each with the tests it ran: a pod
// of one test counts for that test (its retries with it), a pod of several
// for its unit.
func apiCoveragePods(namespace string, rep *report.Report) []apicov.Pod {
	type podInfo struct {
		uid   string
		tests []string
	}
	pods := map[string]*podInfo{}
	var order []string
	for _, cr := range rep.Cases {
		for _, at := range cr.Attempts {
			if at.Pod == "" {
				continue
			}
			pi := pods[at.Pod]
			if pi == nil {
				pi = &podInfo{uid: at.PodUID}
				pods[at.Pod] = pi
				order = append(order, at.Pod)
			}
			if !slices.Contains(pi.tests, cr.Case.TestID) {
				pi.tests = append(pi.tests, cr.Case.TestID)
			}
		}
	}
	out := make([]apicov.Pod, 0, len(order))
	for _, name := range order {
		pi := pods[name]
		unit := groupName(pi.tests)
		if unit == "" {
			unit = name
		}
		out = append(out, apicov.Pod{Namespace: namespace, Name: name, UID: pi.uid, Unit: unit, Tests: pi.tests})
	}
	return out
}

// groupName names what a pod ran: its test, the class or file all its
// tests share, or "" for tests of several files (a shard).
func groupName(tests []string) string {
	if len(tests) == 1 {
		return tests[0]
	}
	file := testid.File(tests[0])
	class, _, _ := strings.Cut(strings.TrimPrefix(tests[0], file+"::"), "::")
	sameClass := strings.Contains(strings.TrimPrefix(tests[0], file+"::"), "::")
	for _, t := range tests[1:] {
		if testid.File(t) != file {
			return ""
		}
		if !strings.HasPrefix(t, file+"::"+class+"::") {
			sameClass = false
		}
	}
	if sameClass {
		return file + "::" + class
	}
	return file
}

// readAudit streams the source's events into col.
func readAudit(ctx context.Context, src auditSource, from time.Time, environ []string, col *apicov.Collector) (apicov.ReadStats, error) {
	if src.kindCluster != "" {
		d := kind.NewDocker(kind.SocketPath(func(k string) string { return envValue(environ, k) }))
		rc, err := d.ReadFile(ctx, kind.ControlPlane(src.kindCluster), kind.AuditLogPath)
		if err != nil {
			return apicov.ReadStats{}, fmt.Errorf("%w; the kind cluster must write its audit log there (see docs/environments.md, API coverage per test)", err)
		}
		defer rc.Close()
		return apicov.ReadEvents(ctxReader{ctx, rc}, col.Keep, col.Add)
	}
	var total apicov.ReadStats
	for _, f := range auditFiles(src.file, from) {
		st, err := readAuditFile(ctx, f, col)
		if err != nil {
			return total, err
		}
		total.Lines += st.Lines
		total.Bytes += st.Bytes
		total.Ignored += st.Ignored
		total.TooLong += st.TooLong
		total.Malformed += st.Malformed
	}
	return total, nil
}

func readAuditFile(ctx context.Context, path string, col *apicov.Collector) (apicov.ReadStats, error) {
	f, err := os.Open(path)
	if err != nil {
		return apicov.ReadStats{}, fmt.Errorf("reading the audit log: %w", err)
	}
	defer f.Close()
	return apicov.ReadEvents(ctxReader{ctx, f}, col.Keep, col.Add)
}

// auditFiles are the log and, before it, the backups the API server
// rotated it into (NAME-TIMESTAMP.EXT, oldest first) since from: a run
// that outlasts a rotation has its first events in them.
func auditFiles(path string, from time.Time) []string {
	ext := filepath.Ext(path)
	rotated, _ := filepath.Glob(strings.TrimSuffix(path, ext) + "-*" + ext)
	slices.Sort(rotated)
	var out []string
	for _, f := range rotated {
		if st, err := os.Stat(f); err == nil && st.Mode().IsRegular() && !st.ModTime().Before(from) {
			out = append(out, f)
		}
	}
	return append(out, path)
}

// ctxReader stops a long read when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(b []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(b)
}

// apiCoverageTop is how many of the most-hit and of the stable endpoints
// no test hit the terminal summary lists.
const apiCoverageTop = 10

// printAPICoverage is the terminal summary's API coverage section.
func printAPICoverage(w io.Writer, rep *report.Report) {
	if rep == nil || rep.APICoverage == nil {
		return
	}
	r := rep.APICoverage
	fmt.Fprintf(w, "API coverage: %d of %d endpoints (%s), from %s\n", r.Hit, r.Universe, r.Percent(), logtext.Line(r.Source))
	var gvs []string
	for _, g := range r.HitGroupVersions() {
		gvs = append(gvs, fmt.Sprintf("%s %d/%d", logtext.Line(g.Name), g.Hit, g.Endpoints))
	}
	if len(gvs) > 0 {
		fmt.Fprintf(w, "  by group/version: %s\n", strings.Join(gvs, ", "))
	}
	if top := r.MostHit(apiCoverageTop); len(top) > 0 {
		fmt.Fprintln(w, "  most hit:")
		for _, e := range top {
			fmt.Fprintf(w, "    %6d  %s  (%d tests)\n", e.Hits, logtext.Line(e.Key), len(e.Tests))
		}
	}
	if miss := r.StableNotHit(); len(miss) > 0 {
		fmt.Fprintf(w, "  stable endpoints no test hit: %d", len(miss))
		if len(miss) > apiCoverageTop {
			fmt.Fprintf(w, " (the first %d; all in %s)", apiCoverageTop, apicov.ReportFile)
			miss = miss[:apiCoverageTop]
		}
		fmt.Fprintln(w)
		for _, e := range miss {
			fmt.Fprintf(w, "    %s\n", logtext.Line(e.Key))
		}
	}
	for _, t := range r.Tests {
		if t.Grouped {
			fmt.Fprintln(w, "  tests in grouped pods share their pod's endpoints: api-coverage.json names each test's units")
			break
		}
	}
}
