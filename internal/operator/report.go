package operator

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/attempt"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
)

// maxLog bounds a stored collector log once decompressed; the collector
// caps its block at 1 MiB.
const maxLog = 64 << 20

// Cases reads the TestCases of run, in the order discovery listed them;
// opts add to the list's options.
func Cases(ctx context.Context, r client.Reader, run *v1alpha1.TestRun, opts ...client.ListOption) ([]*v1alpha1.TestCase, error) {
	list := &v1alpha1.TestCaseList{}
	opts = append([]client.ListOption{client.InNamespace(run.Namespace), client.MatchingLabels{k8s.LabelRun: run.Name}}, opts...)
	if err := r.List(ctx, list, opts...); err != nil {
		return nil, fmt.Errorf("listing testcases of run %s: %w", run.Name, err)
	}
	out := make([]*v1alpha1.TestCase, 0, len(list.Items))
	for i := range list.Items {
		if controlledBy(&list.Items[i], run.UID) {
			out = append(out, &list.Items[i])
		}
	}
	sortCases(out)
	return out, nil
}

// LoadReport gathers a run's results into the report direct mode writes:
// the attempts come from the TestCases' status, the last attempt's results
// from the collector's log stored beside each TestCase, so both modes give
// the same JUnit for the same tests.
func LoadReport(ctx context.Context, r client.Reader, run *v1alpha1.TestRun) (*report.Report, error) {
	cases, err := Cases(ctx, r, run)
	if err != nil {
		return nil, err
	}
	stored := map[string]*corev1.ConfigMap{}
	for _, role := range []string{RoleResults, RoleCollection} {
		cms := &corev1.ConfigMapList{}
		if err := r.List(ctx, cms, client.InNamespace(run.Namespace),
			client.MatchingLabels{k8s.LabelRun: run.Name, k8s.LabelRole: role}); err != nil {
			return nil, fmt.Errorf("listing results of run %s: %w", run.Name, err)
		}
		for i := range cms.Items {
			stored[cms.Items[i].Name] = &cms.Items[i]
		}
	}
	results := make([]report.CaseResult, 0, len(cases))
	bases := basesOf(run)
	for b := range bases {
		cm := stored[CollectionNameOf(run.Name, b)]
		if cm == nil || !controlledBy(cm, run.UID) {
			continue
		}
		skipped, err := skippedAtCollection(cm)
		if err != nil {
			return nil, err
		}
		results = append(results, report.SkippedAtCollection(skipped, b)...)
	}
	for _, tc := range cases {
		if tc.Spec.NotAffected != "" {
			results = append(results, notAffectedResult(run, tc))
			continue
		}
		cr := report.CaseResult{Case: CaseOf(tc), Final: tc.Status.Phase.Final(), Flaky: tc.Status.Flaky}
		for _, a := range tc.Status.History {
			cr.Attempts = append(cr.Attempts, AttemptOf(a))
		}
		cr.Stopped = len(cr.Attempts) == 0 && (tc.Status.Phase == v1alpha1.CaseNotRun || stopped(run))
		if n := len(cr.Attempts); n > 0 {
			last := &cr.Attempts[n-1]
			cr.Status = last.Outcome.Status
			if cm := stored[ResultsName(tc.Name)]; cm != nil && controlledBy(cm, tc.UID) && cm.Annotations[AnnotationAttempt] == strconv.Itoa(last.Number) {
				res, err := decodeResults(cm)
				if one, ok := attempt.CaseResults(res, tc.Spec.TestID); ok && err == nil {
					// A test's share of a unit pod's block.
					res = one
				}
				if err != nil {
					last.ResultErr = err
				} else {
					last.Results = res
				}
			}
		}
		results = append(results, cr)
	}
	var started time.Time
	var wall time.Duration
	if st := run.Status.StartTime; st != nil {
		started = st.Time
		if ct := run.Status.CompletionTime; ct != nil {
			wall = ct.Sub(st.Time)
		}
	}
	rep := report.NewReport(run.Name, run.Spec.Image, imageDigest(run.Spec.Image), started, wall, results)
	// The run failed at its start if its quarantine could not be read.
	rep.Quarantine, _ = RunQuarantine(ctx, r, run)
	rep.Bases = ReportBases(run)
	return rep, nil
}

// ReportBases are the bases of run's runtime matrix as a report names
// them, with the versions its discovery found so far; none for a run of
// one base.
func ReportBases(run *v1alpha1.TestRun) []report.Base {
	if len(run.Spec.Bases) < 2 {
		return nil
	}
	out := make([]report.Base, len(run.Spec.Bases))
	for i, b := range run.Spec.Bases {
		out[i] = report.Base{Ref: b.Name, Image: b.Image, Digest: imageDigest(b.Image)}
		if i < len(run.Status.Bases) && run.Status.Bases[i].Name == b.Name {
			out[i].Python, out[i].Pytest = run.Status.Bases[i].Python, run.Status.Bases[i].Pytest
		}
	}
	return out
}

func decodeResults(cm *corev1.ConfigMap) (attempt.Results, error) {
	log, err := gunzipBytes(cm.BinaryData[ResultsKey], maxLog)
	if err != nil {
		return attempt.Results{ExitCode: -1}, fmt.Errorf("configmap %s: %w", cm.Name, err)
	}
	return attempt.ParseResults(log)
}

// imageDigest is the digest of a reference pinned by digest, else "".
func imageDigest(ref string) string {
	if _, d, ok := strings.Cut(ref, "@"); ok {
		return d
	}
	return ""
}

// reportConfigMap holds the merged JUnit of a run: as text, where kubectl
// shows it, when it fits, else gzipped.
func reportConfigMap(run *v1alpha1.TestRun, rep *report.Report) (*corev1.ConfigMap, *v1alpha1.ReportRef, error) {
	var buf bytes.Buffer
	if err := rep.WriteJUnit(&buf); err != nil {
		return nil, nil, fmt.Errorf("writing the report: %w", err)
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name:      ReportName(run.Name),
			Namespace: run.Namespace,
			Labels: map[string]string{
				k8s.LabelManagedBy: k8s.ManagedBy,
				k8s.LabelRun:       run.Name,
				k8s.LabelRole:      RoleReport,
			},
			OwnerReferences: []metav1.OwnerReference{controllerRef(run, v1alpha1.GroupVersion.WithKind("TestRun"))},
		},
	}
	ref := &v1alpha1.ReportRef{ConfigMap: cm.Name, Key: ReportKey}
	if buf.Len() <= maxStored {
		cm.Data = map[string]string{ReportKey: buf.String()}
		return cm, ref, nil
	}
	gz, err := gzipBytes(buf.Bytes())
	if err != nil {
		return nil, nil, err
	}
	if len(gz) > maxStored {
		return nil, nil, &TooLargeError{What: "the JUnit report", Size: len(gz)}
	}
	cm.BinaryData = map[string][]byte{ReportKeyGzip: gz}
	ref.Key = ReportKeyGzip
	return cm, ref, nil
}
