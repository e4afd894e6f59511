package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func write(t *testing.T, dir, name, src string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644))
}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "a.go", `package a

type T struct{}

func (*T) five() {
	_ = 1
	_ = 2
	_ = 3
}

func three() {
	_ = func() { _ = 1 }
}
`)
	write(t, dir, "a_test.go", "package a\n\nfunc long() {\n\n\n\n\n\n\n\n}\n")
	write(t, dir, "testdata/b.go", "package b\n\nfunc long() {\n\n\n\n\n\n\n\n}\n")
	write(t, dir, "sub/c.go", "package c\n\nfunc (v V[K]) four() {\n\t_ = 1\n\t_ = 2\n}\n")

	var out bytes.Buffer
	require.NoError(t, run(&out, []string{dir}, 10, 5))
	assert.Equal(t, "the 3 longest functions (limit 5 lines, target 80):\n"+
		"    5  "+filepath.Join(dir, "a.go")+":5  (*T).five\n"+
		"    4  "+filepath.Join(dir, "sub/c.go")+":3  V.four\n"+
		"    3  "+filepath.Join(dir, "a.go")+":11  three\n", out.String(),
		"test files and testdata are left out; a function literal counts toward its function")

	out.Reset()
	err := run(&out, []string{dir}, 1, 4)
	require.Error(t, err)
	assert.Equal(t, "longer than 4 lines: (*T).five ("+filepath.Join(dir, "a.go")+":5, 5 lines); split them", err.Error())
	assert.Contains(t, out.String(), "(*T).five")
	assert.NotContains(t, out.String(), "V.four", "only the top one printed")
}

func TestRunBadSource(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "a.go", "package a\n\nfunc {\n")
	require.Error(t, run(&bytes.Buffer{}, []string{dir}, 10, 80))
}

// TestInternalWithinLimit is the check itself, so that go test fails too
// when a function of internal/ grows past Limit.
func TestInternalWithinLimit(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(&out, []string{"../../internal"}, 10, Limit), out.String())
}
