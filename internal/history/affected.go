package history

import (
	"path"
	"strings"

	"github.com/k8s-testrun/k8s-testrun/internal/attempt"
	"github.com/k8s-testrun/k8s-testrun/internal/junit"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
	"github.com/k8s-testrun/k8s-testrun/internal/testid"
)

// Candidate is a test a run could leave out: its id and marker lane.
type Candidate struct {
	ID   string
	Lane string
}

// Selection is what --affected-since runs of a suite.
type Selection struct {
	// All, when set, says why every test runs: a change a footprint
	// cannot see, or no usable base.
	All string
	// Skip are the tests left out, each with the commit it last passed
	// at (the base's); every other candidate runs.
	Skip map[string]string
}

// Lanes whose tests always run: their failures are the environment's, not
// a footprint's.
var alwaysRunLanes = map[string]bool{"disruptive": true, "flaky": true}

// configFiles change how pytest collects or runs every test.
var configFiles = map[string]bool{
	"conftest.py": true, "pytest.ini": true, "tox.ini": true, "setup.cfg": true,
	"pyproject.toml": true, "setup.py": true, ".coveragerc": true,
}

// Affected picks the tests a change can affect. changed are the files the
// change touched, relative to the project, slash-separated;
// requirements, the project's requirements files (relative likewise).
// Every test runs when the base has no footprints, or the change touches
// a conftest.py, pytest/tox/setup configuration, a requirements file, or
// a file other than Python under a directory that holds tests (the
// project's root aside). Otherwise
// a test runs when it is new, has no footprint, is in a lane that opts
// out (disruptive, flaky), did not pass on the base, or its footprint
// holds a changed file; the others are skipped.
func Affected(changed []string, base Record, tests []Candidate, requirements []string) Selection {
	if len(base.Footprints) == 0 {
		return Selection{All: "the base " + short(base.Commit) + " has no footprints (record one with --coverage, one pod per test)"}
	}
	testDirs := map[string]bool{}
	for _, t := range tests {
		file, _, _ := strings.Cut(t.ID, "::")
		testDirs[path.Dir(file)] = true
	}
	reqs := map[string]bool{}
	for _, r := range requirements {
		reqs[path.Clean(r)] = true
	}
	changedSet := make(map[string]bool, len(changed))
	for _, f := range changed {
		f = path.Clean(f)
		changedSet[f] = true
		base := path.Base(f)
		switch {
		case configFiles[base]:
			return Selection{All: f + " changed: it configures every test"}
		case reqs[f] || strings.HasPrefix(base, "requirements") && strings.HasSuffix(base, ".txt"):
			return Selection{All: f + " changed: the requirements"}
		case !strings.HasSuffix(f, ".py") && underTests(f, testDirs):
			return Selection{All: f + " changed: a file other than Python under a test directory, which no footprint sees"}
		}
	}
	sel := Selection{Skip: map[string]string{}}
	for _, t := range tests {
		if alwaysRunLanes[t.Lane] {
			continue
		}
		rec, ok := base.Tests[t.ID]
		if !ok || rec.Verdict != VerdictPassed {
			continue
		}
		fp := base.Footprints[t.ID]
		if len(fp) == 0 {
			continue
		}
		touched := false
		for f := range fp {
			if changedSet[f] {
				touched = true
				break
			}
		}
		if !touched {
			sel.Skip[t.ID] = base.Commit
		}
	}
	return sel
}

// underTests reports a file under one of dirs, the project's root aside:
// tests kept at the root would make every file a test directory's.
func underTests(f string, dirs map[string]bool) bool {
	for d := path.Dir(f); d != "." && d != "/"; d = path.Dir(d) {
		if dirs[d] {
			return true
		}
	}
	return false
}

// SkipMessage is the message of a test Affected left out.
func SkipMessage(since, lastPassed string) string {
	return "not affected since " + short(since) + ": last passed at " + short(lastPassed)
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// AlwaysRuns reports a lane whose tests run whatever their footprints
// say (disruptive, flaky).
func AlwaysRuns(lane string) bool { return alwaysRunLanes[lane] }

// NotAffectedResult is the report of a test --affected-since left out:
// skipped, with SkipMessage and the commit it last passed at, in no pod.
// Direct and operator mode report it alike.
func NotAffectedResult(c plan.Case, since, lastPassed string) report.CaseResult {
	file := testid.File(c.TestID)
	tc := junit.Testcase{Classname: file, Name: c.TestID, File: file, Time: "0",
		Skipped: &junit.Result{Message: SkipMessage(since, lastPassed)},
	}
	return report.CaseResult{Case: c, Status: plan.Skipped, Final: true, NotAffected: lastPassed,
		Attempts: []attempt.Attempt{{Outcome: plan.Outcome{Status: plan.Skipped}, Results: attempt.Results{Testcase: &tc, ExitCode: -1}}}}
}
