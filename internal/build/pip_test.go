package build

import (
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWheelPlatforms(t *testing.T) {
	tests := []struct {
		name      string
		platform  v1.Platform
		info      baseInfo
		wantFirst string
		wantLast  string
		wantHas   []string
		wantErr   string
	}{
		{
			name:      "debian amd64 names every glibc up to its own",
			platform:  v1.Platform{OS: "linux", Architecture: "amd64"},
			info:      baseInfo{glibc: "2.36"},
			wantFirst: "manylinux_2_36_x86_64",
			wantLast:  "manylinux_2_5_x86_64",
			wantHas:   []string{"manylinux_2_28_x86_64", "manylinux2014_x86_64", "manylinux_2_17_x86_64"},
		},
		{
			name:      "unknown glibc assumes manylinux2014",
			platform:  v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"},
			wantFirst: "manylinux_2_17_aarch64",
			wantLast:  "manylinux2014_aarch64",
		},
		{
			name:      "alpine",
			platform:  v1.Platform{OS: "linux", Architecture: "arm64"},
			info:      baseInfo{musl: true, glibc: "2.36"},
			wantFirst: "musllinux_1_2_aarch64",
			wantLast:  "musllinux_1_1_aarch64",
		},
		{
			name:      "arm v7",
			platform:  v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"},
			info:      baseInfo{glibc: "2.31"},
			wantFirst: "manylinux_2_31_armv7l",
			wantLast:  "manylinux2014_armv7l",
		},
		{name: "arm v6", platform: v1.Platform{OS: "linux", Architecture: "arm", Variant: "v6"}, wantErr: "linux/arm/v6 has no Python wheel tag"},
		{name: "mips", platform: v1.Platform{OS: "linux", Architecture: "mips64le"}, wantErr: "linux/mips64le has no Python wheel tag"},
		{name: "windows", platform: v1.Platform{OS: "windows", Architecture: "amd64"}, wantErr: "only linux"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := wheelPlatforms(tt.platform, tt.info)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantFirst, got[0])
			assert.Equal(t, tt.wantLast, got[len(got)-1])
			for _, want := range tt.wantHas {
				assert.Contains(t, got, want)
			}
		})
	}
}

func TestPipArgs(t *testing.T) {
	p := pipInstall{
		ws:           &workspace{target: "/tmp/t"},
		python:       "3.12",
		platforms:    []string{"manylinux_2_17_x86_64", "manylinux2014_x86_64"},
		requirements: "requirements.txt",
		addPytest:    true,
	}
	assert.Equal(t, "install --target /tmp/t --only-binary=:all: --python-version 3.12 --implementation cp "+
		"--platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 "+
		"--no-compile --no-input --disable-pip-version-check --no-warn-script-location --progress-bar off "+
		"-r requirements.txt pytest", strings.Join(p.args(), " "))
}

func TestRequiresPytest(t *testing.T) {
	tests := []struct {
		requirements string
		want         bool
	}{
		{"pytest\n", true},
		{"pytest==8.2.0\n", true},
		{"  PyTest >= 7 ; python_version >= '3.8'\n", true},
		{"pytest[testing]\n", true},
		{"py_test\n", false},
		{"requests\npytest-cov\npytest_mock\n", false},
		{"# pytest\n--find-links ./wheels\n-r pytest.txt\n", false},
		{"requests # needs pytest\n", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.requirements, func(t *testing.T) {
			assert.Equal(t, tt.want, requiresPytest([]byte(tt.requirements)))
		})
	}
}

func TestLastLines(t *testing.T) {
	out := []byte("a\n\nb\r\n  \nc\nd\n")
	assert.Equal(t, "b\nc\nd", lastLines(out, 3))
	assert.Equal(t, "a\nb\nc\nd", lastLines(out, 10))
}
