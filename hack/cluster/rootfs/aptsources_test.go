package rootfs

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDebianMirror(t *testing.T) {
	oneLine := `# comment
deb-src http://src.example/debian bookworm main
deb [arch=amd64 signed-by=/usr/share/keyrings/x.gpg] http://security.example/debian-security bookworm-security main
deb [ trusted=yes ] http://mirror.example/debian/ bookworm main contrib
`
	deb822 := `Types: deb
URIs: http://disabled.example/debian
Suites: bookworm
Components: main
Enabled: no

Types: deb deb-src
URIs: http://deb822.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
`
	a, err := parseSourcesList(strings.NewReader(oneLine))
	require.NoError(t, err)
	require.Len(t, a, 2)
	m, ok := debianMirror(a, "bookworm")
	require.True(t, ok)
	assert.Equal(t, "http://mirror.example/debian", m, "the security suite is not the release")

	b, err := parseDeb822(strings.NewReader(deb822))
	require.NoError(t, err)
	require.Len(t, b, 1, "the disabled stanza is skipped")
	m, ok = debianMirror(b, "bookworm")
	require.True(t, ok)
	assert.Equal(t, "http://deb822.example/debian", m)

	_, ok = debianMirror(b, "trixie")
	assert.False(t, ok)
}
