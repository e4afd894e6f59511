package history

import (
	"context"
	"crypto/sha1"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func sha(i int) string { return fmt.Sprintf("%x", sha1.Sum([]byte{byte(i), byte(i >> 8)})) }

func rec(i int, branch string, tests ...Test) Record {
	return NewRecord(sha(i), branch, t0.Add(time.Duration(i)*time.Minute), tests)
}

func pass(id string, d time.Duration) Test {
	return Test{ID: id, Verdict: VerdictPassed, Duration: d, Attempts: 1}
}

func fail(id string) Test { return Test{ID: id, Verdict: VerdictFailed, Attempts: 1} }

func TestStoreSavesAndReadsARecord(t *testing.T) {
	s := Store{Dir: filepath.Join(t.TempDir(), "history")}
	long := strings.Repeat("x", 1000)
	r := rec(0, "main", pass("t::a", 1500*time.Millisecond),
		Test{ID: "t::b", Verdict: VerdictError, Attempts: 3, Flaky: false, Reasons: []string{"Evicted", long}})
	r.Footprints = map[string]map[string]string{"t::a": {"pkg/mod.py": "abc"}}
	require.NoError(t, s.Save(r))

	got, ok, err := s.Load(sha(0))
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, StoreFormat, got.Format)
	assert.Equal(t, "main", got.Branch)
	assert.Equal(t, TestRecord{Verdict: VerdictPassed, DurationSeconds: 1.5, Attempts: 1}, got.Tests["t::a"])
	assert.Equal(t, 3, got.Tests["t::b"].Attempts)
	assert.Len(t, got.Tests["t::b"].Reasons[1], maxReasonBytes, "a reason is bounded")
	assert.Equal(t, "abc", got.Footprints["t::a"]["pkg/mod.py"])

	_, ok, err = s.Load(sha(1))
	require.NoError(t, err)
	assert.False(t, ok, "a commit not recorded")
	_, _, err = s.Load("../escape")
	require.Error(t, err, "a commit's name never leaves the directory")
}

func TestStorePrunesTheOldestCommits(t *testing.T) {
	s := Store{Dir: t.TempDir(), Max: 3}
	// Saved out of order: the record's time decides, not the file's.
	for _, i := range []int{4, 0, 2, 1, 3} {
		require.NoError(t, s.Save(rec(i, "main", pass("a", time.Second))))
	}
	idx, err := s.Index()
	require.NoError(t, err)
	var commits []string
	for _, e := range idx {
		commits = append(commits, e.Commit)
	}
	assert.Equal(t, []string{sha(4), sha(3), sha(2)}, commits, "newest first, the two oldest pruned")
	names, err := filepath.Glob(filepath.Join(s.Dir, "*"))
	require.NoError(t, err)
	assert.Len(t, names, 3, "no temporary file left: %v", names)
}

func TestStoreDefaultCap(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	for i := range MaxCommits + 2 {
		require.NoError(t, s.Save(rec(i, "main", pass("a", time.Second))))
	}
	idx, err := s.Index()
	require.NoError(t, err)
	assert.Len(t, idx, MaxCommits)
	assert.Equal(t, sha(MaxCommits+1), idx[0].Commit)
}

// TestStoreConcurrentWritersLoseNoCommit: runs of different commits that
// write to one directory at once each keep their record, and a reader in
// the middle never sees half a record.
func TestStoreConcurrentWritersLoseNoCommit(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	const writers = 16
	var tests []Test
	for i := range 2000 {
		tests = append(tests, pass(fmt.Sprintf("tests/test_x.py::test_%d", i), time.Second))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*writers)
	for i := range writers {
		wg.Add(2)
		go func() {
			defer wg.Done()
			errs <- s.Save(rec(i, "main", tests...))
		}()
		go func() {
			defer wg.Done()
			_, err := s.Index()
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	idx, err := s.Index()
	require.NoError(t, err)
	assert.Len(t, idx, writers, "every commit kept")
	for _, e := range idx {
		r, ok, err := s.Read(e)
		require.NoError(t, err)
		require.True(t, ok)
		assert.Len(t, r.Tests, len(tests))
	}
}

func TestStoreRefusesOtherFormats(t *testing.T) {
	for _, tt := range []struct {
		name, content, want string
	}{
		{"future", `{"format": 2, "commit": "%s", "time": "2026-12-01T10:00:00Z", "tests": {}}`, "has history format 2, newer than this k8s-testrun reads (1): upgrade k8s-testrun"},
		{"zero", `{"format": 0, "commit": "%s", "tests": {}}`, "has history format 0, which this k8s-testrun does not read"},
		{"none", `{"commit": "%s", "tests": {}}`, "no format field"},
		{"garbage", `not json %s`, "not a JSON object"},
		{"renamed", `{"format": 1, "commit": "%s", "tests": {}}`, "does not match its file's name"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := Store{Dir: t.TempDir()}
			require.NoError(t, s.Save(rec(0, "main", pass("a", time.Second))))
			commit := sha(1)
			if tt.name == "renamed" {
				commit = sha(7)
			}
			require.NoError(t, os.WriteFile(filepath.Join(s.Dir, sha(1)+".json"), fmt.Appendf(nil, tt.content, commit), 0o644))
			_, err := s.Index()
			require.ErrorContains(t, err, tt.want)
			assert.NotContains(t, err.Error(), "\n", "one line")
			if tt.name == "future" {
				var fe *FormatError
				require.ErrorAs(t, err, &fe)
				assert.Equal(t, 2, fe.Format)
				_, _, err = s.Load(sha(1))
				require.ErrorAs(t, err, &fe)
			}
			require.Error(t, s.Save(rec(2, "main")))
			assert.NoFileExists(t, filepath.Join(s.Dir, sha(2)+".json"), "no record written beside one it cannot read")
		})
	}
}

func TestStoreResolve(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	require.NoError(t, s.Save(rec(0, "main")))
	require.NoError(t, s.Save(rec(1, "main")))
	require.NoError(t, s.Save(rec(2, "feature/x")))
	for _, tt := range []struct {
		ref, except, want string
	}{
		{sha(0), "", sha(0)},
		{sha(0)[:10], "", sha(0)},
		{"main", "", sha(1)},
		{"main", sha(1), sha(0)},
		{"feature/x", "", sha(2)},
	} {
		e, ok, err := s.Resolve(tt.ref, tt.except)
		require.NoError(t, err)
		require.True(t, ok, tt.ref)
		assert.Equal(t, tt.want, e.Commit, tt.ref)
	}
	_, ok, err := s.Resolve(sha(0)[:6], "")
	require.NoError(t, err)
	assert.False(t, ok, "a prefix under 7 characters names no commit")
	_, ok, err = s.Resolve("develop", "")
	require.NoError(t, err)
	assert.False(t, ok)
	_, ok, err = s.Previous("feature/x", sha(2))
	require.NoError(t, err)
	assert.False(t, ok, "no earlier run of the branch")
}

func TestStoreDurationsTakeTheNewest(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	require.NoError(t, s.Save(rec(0, "main", pass("a", time.Second), pass("old", 2*time.Second))))
	require.NoError(t, s.Save(rec(1, "main", pass("a", 3*time.Second), Test{ID: "b", Verdict: VerdictNotRun})))
	d, err := s.Durations()
	require.NoError(t, err)
	assert.Equal(t, map[string]time.Duration{"a": 3 * time.Second, "old": 2 * time.Second}, d)
	d, err = Store{Dir: filepath.Join(t.TempDir(), "none")}.Durations()
	require.NoError(t, err)
	assert.Empty(t, d, "a store not yet written is empty")
}

func TestPassedInLast(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	flaky := pass("flaky", time.Second)
	flaky.Flaky = true
	// Six runs: "steady" passed in all, "recovered" failed in the oldest
	// only, "broke" failed in the newest but one, "young" ran in four,
	// "flaky" passed on a retry once.
	for i := range 6 {
		tests := []Test{pass("steady", time.Second), pass("recovered", time.Second), pass("broke", time.Second), pass("flaky", time.Second)}
		if i == 0 {
			tests[1] = fail("recovered")
		}
		if i == 4 {
			tests[2] = fail("broke")
		}
		if i == 3 {
			tests[3] = flaky
		}
		if i >= 2 {
			tests = append(tests, pass("young", time.Second))
		}
		require.NoError(t, s.Save(rec(i, "main", tests...)))
	}
	got, err := s.PassedInLast([]string{"steady", "recovered", "broke", "young", "flaky", "absent"}, 5)
	require.NoError(t, err)
	assert.Equal(t, []string{"recovered", "steady"}, got)
}

func TestHeadReadsTheCommitWithGit(t *testing.T) {
	git, err := exec.LookPath("git")
	if err != nil {
		t.Skip("no git")
	}
	dir := t.TempDir()
	run := func(args ...string) {
		cmd := exec.Command(git, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
	}
	run("init", "-q", "-b", "trunk")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644))
	run("add", "f")
	run("commit", "-q", "-m", "one")
	// A hook and an fsmonitor command the repository configures never run.
	marker := filepath.Join(t.TempDir(), "ran")
	hook := "#!/bin/sh\ntouch " + marker + "\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, ".git", "hooks", "post-checkout"), []byte(hook), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "monitor.sh"), []byte(hook), 0o755))
	run("config", "core.fsmonitor", filepath.Join(dir, "monitor.sh"))

	commit, branch, err := Head(context.Background(), git, dir)
	require.NoError(t, err)
	assert.Regexp(t, `^[0-9a-f]{40}$`, commit)
	assert.Equal(t, "trunk", branch)
	assert.NoFileExists(t, marker)

	_, _, err = Head(context.Background(), git, t.TempDir())
	require.Error(t, err, "not a repository")
}

func TestStoreOverheadTakesTheNewestFigure(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	d, err := s.Overhead()
	require.NoError(t, err)
	assert.Zero(t, d, "an empty store holds no overhead")
	withOverhead := func(i int, secs float64) Record {
		r := rec(i, "main", pass("a", time.Second))
		r.PodOverheadSeconds = secs
		return r
	}
	require.NoError(t, s.Save(withOverhead(0, 5)))
	require.NoError(t, s.Save(withOverhead(1, 2.5)))
	require.NoError(t, s.Save(withOverhead(2, 0)))
	d, err = s.Overhead()
	require.NoError(t, err)
	assert.Equal(t, 2500*time.Millisecond, d, "the newest record that holds a figure, past one that holds none")

	s = Store{Dir: t.TempDir()}
	require.NoError(t, s.Save(withOverhead(0, 5)))
	for i := 1; i <= durationRecords; i++ {
		require.NoError(t, s.Save(withOverhead(i, 0)))
	}
	d, err = s.Overhead()
	require.NoError(t, err)
	assert.Zero(t, d, "a figure older than the newest few is not read")
}
