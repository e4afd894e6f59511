package ghaction

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/tools/clientcmd"
)

// FuzzSplitArgs: splitArgs never panics, and words it returns, quoted
// again, split back to the same words.
func FuzzSplitArgs(f *testing.F) {
	for _, s := range []string{"", "tests", `-k 'a or b'`, `-m "not \"slow\""`, `a\ b ''`, "a\nb\tc", `'open`, `end\`, `"$(rm -rf /)" '$HOME'`, "é \"日本\""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		words, err := splitArgs(s)
		if err != nil {
			return
		}
		quoted := make([]string, len(words))
		for i, w := range words {
			quoted[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
		}
		again, err := splitArgs(strings.Join(quoted, " "))
		require.NoError(t, err)
		if len(words) == 0 {
			assert.Empty(t, again)
			return
		}
		assert.Equal(t, words, again)
	})
}

// FuzzKubeconfigSecrets: KubeconfigSecrets never panics; contents that do
// not parse are masked whole, and a token in contents that do is masked.
func FuzzKubeconfigSecrets(f *testing.F) {
	f.Add([]byte(validKubeconfig), "")
	f.Add([]byte("not: [yaml"), "")
	f.Add([]byte("users: [{name: u, user: {token: tok-abcdef123456}}"), "")
	f.Add([]byte("users:\n- name: u\n  user:\n    exec: {command: x, args: [--token=abc123456789]}\n"), "")
	f.Add([]byte("users:\n- name: u\n  user: {tokenFile: /etc/hostname}\n"), "")
	f.Add([]byte(""), "")
	f.Fuzz(func(t *testing.T, data []byte, dir string) {
		got := KubeconfigSecrets(data, dir)
		if strings.TrimSpace(string(data)) == "" {
			assert.Empty(t, got)
			return
		}
		for _, s := range got {
			assert.NotEmpty(t, strings.TrimSpace(s), "no blank masks")
		}
		cfg, err := clientcmd.Load(data)
		if err != nil {
			require.NotEmpty(t, got)
			assert.Equal(t, string(data), got[0], "unparsable contents are masked whole")
			return
		}
		for _, ai := range cfg.AuthInfos {
			if strings.TrimSpace(ai.Token) != "" {
				assert.Contains(t, got, ai.Token)
			}
			if ex := ai.Exec; ex != nil {
				for _, a := range ex.Args {
					if strings.TrimSpace(a) != "" {
						assert.Contains(t, got, a)
					}
				}
			}
		}
	})
}
