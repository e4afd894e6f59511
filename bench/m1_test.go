package bench

import (
	"strings"
	"testing"
	"time"

	"github.com/k8s-testrun/k8s-testrun/bench/mutate"
	"github.com/k8s-testrun/k8s-testrun/internal/junit"
)

func m1Case(id string, failed, notAffected bool) junit.Testcase {
	tc := junit.NewTestcase(id)
	tc.AddProperty(junit.PropertyTestID, id)
	if failed {
		tc.Failure = &junit.Result{Message: "boom"}
	}
	if notAffected {
		tc.Skipped = &junit.Result{Message: "not affected"}
		tc.AddProperty(junit.PropertyNotAffected, "abc")
	}
	return tc
}

// TestM1MissFailsTheFigure: a test that fails in the full run and is
// reported not affected is a miss, and the figure misses its target; with
// it selected, the figure passes.
func TestM1MissFailsTheFigure(t *testing.T) {
	full := junit.Testsuites{Suites: []junit.Testsuite{{Testcases: []junit.Testcase{
		m1Case("tests/a.py::test_a", true, false),
		m1Case("tests/a.py::test_b", true, false),
		m1Case("tests/a.py::test_c", false, false),
		m1Case("tests/a.py::test_d", false, false),
	}}}}
	run := func(bSelected bool) Figure {
		aff := junit.Testsuites{Suites: []junit.Testsuite{{Testcases: []junit.Testcase{
			m1Case("tests/a.py::test_a", true, false),
			m1Case("tests/a.py::test_b", bSelected, !bSelected),
			m1Case("tests/a.py::test_c", false, false),
			m1Case("tests/a.py::test_d", false, true),
		}}}}
		fv, err := m1Verdicts(full)
		if err != nil {
			t.Fatal(err)
		}
		av, err := m1Verdicts(aff)
		if err != nil {
			t.Fatal(err)
		}
		r := m1Run{mutation: mutate.Mutation{Func: mutate.Func{File: "pyflakes/checker.py", Name: "f"}, Kind: mutate.Raise},
			full: 10 * time.Second, affected: 5 * time.Second}
		r.compare(fv, av, map[string]bool{"tests/a.py::test_a": true, "tests/a.py::test_b": true})
		return m1Figure(Figure{}, []m1Run{r}, Options{M1N: 1, B6P: 4})
	}
	f := run(false)
	if f.Pass || !strings.HasPrefix(f.Value, "1 misses in 1 mutations") || !strings.Contains(strings.Join(f.Notes, "\n"), "MISS mutation 1") {
		t.Fatalf("a miss: pass %v, %s\n%s", f.Pass, f.Value, strings.Join(f.Notes, "\n"))
	}
	f = run(true)
	if !f.Pass || f.Value != "0 misses in 1 mutations (1 with failures), mean selected 75.0%, wall affected/full 0.50" {
		t.Fatalf("no miss: pass %v, %s", f.Pass, f.Value)
	}
}
