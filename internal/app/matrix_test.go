package app

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/build"
)

func TestFaketimeLibraryOfBases(t *testing.T) {
	lib := "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
	got, err := faketimeLibrary([]*base{{ref: "a"}, {ref: "b", image: build.Result{FaketimeLibrary: lib}}, {ref: "c", image: build.Result{FaketimeLibrary: lib}}})
	require.NoError(t, err)
	assert.Equal(t, lib, got, "the library of the bases that have it")

	_, err = faketimeLibrary([]*base{{ref: "b", image: build.Result{FaketimeLibrary: lib}}, {ref: "c", image: build.Result{FaketimeLibrary: "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1"}}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the base images keep libfaketime at different paths ("+lib+" in b, /usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1 in c)")
}
