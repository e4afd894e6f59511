package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/quarantine"
)

// TestQuarantineFileStaysInTheProject: the project's quarantine file, by
// default or named inside the project, cannot be a link to a file outside
// it, which would be read on the host and partly quoted in its errors.
func TestQuarantineFileStaysInTheProject(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "credentials")
	require.NoError(t, os.WriteFile(outside, []byte("quarantine:\n- {test: 'secret-value-7f3a', until: 2999-01-01, reason: r}\n"), 0o600))
	for name, link := range map[string]string{
		"the file":      quarantine.DefaultPath,
		"its directory": filepath.Dir(quarantine.DefaultPath),
	} {
		t.Run(name, func(t *testing.T) {
			project := t.TempDir()
			target := outside
			if link != quarantine.DefaultPath {
				target = filepath.Dir(outside)
				require.NoError(t, os.Rename(outside, filepath.Join(target, filepath.Base(quarantine.DefaultPath))))
				defer os.Rename(filepath.Join(target, filepath.Base(quarantine.DefaultPath)), outside)
			} else {
				require.NoError(t, os.MkdirAll(filepath.Join(project, filepath.Dir(link)), 0o755))
			}
			require.NoError(t, os.Symlink(target, filepath.Join(project, link)))
			for _, named := range []string{"", filepath.Join(project, quarantine.DefaultPath)} {
				c := &Config{ProjectDir: project, Quarantine: named}
				errs := c.loadQuarantine()
				require.Len(t, errs, 1, "named %q", named)
				assert.Contains(t, errs[0].Error(), "cannot be read")
				assert.NotContains(t, errs[0].Error(), "secret-value")
				assert.Nil(t, c.QuarantineList)
			}
		})
	}

	// A regular file of the project is read.
	project := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(project, filepath.Dir(quarantine.DefaultPath)), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(project, quarantine.DefaultPath), []byte("quarantine:\n- {test: 'tests/a.py::t', until: 2999-01-01, reason: r}\n"), 0o644))
	c := &Config{ProjectDir: project}
	require.Empty(t, c.loadQuarantine())
	require.NotNil(t, c.QuarantineList)
	assert.Len(t, c.QuarantineList.Entries, 1)
}
