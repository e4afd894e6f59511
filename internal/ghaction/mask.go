package ghaction

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"unicode"

	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"k8s.io/client-go/tools/clientcmd"
)

// maxSecretFile bounds what is read of a file a kubeconfig names for its
// secret (tokenFile, client-key): a token or key is small.
const maxSecretFile = 64 << 10

// minMaskedWord is the shortest word of unparsable kubeconfig contents that
// is masked on its own: tokens and keys are longer, most YAML keys shorter.
const minMaskedWord = 12

// KubeconfigSecrets lists what must never show in a log from a kubeconfig:
// tokens, passwords, client keys (decoded and as the file holds them), the
// contents of the files it names for a token or key, auth-provider tokens
// and secrets, and the arguments and environment values of exec plugins
// that are secrets (execSecrets).
// Contents that do not parse are a secret whole: there is no telling what
// in them is one. dir is where relative file names in the kubeconfig are
// resolved from; "" for the working directory.
func KubeconfigSecrets(data []byte, dir string) []string {
	cfg, err := clientcmd.Load(data)
	if err != nil {
		if strings.TrimSpace(string(data)) == "" {
			return nil
		}
		// The whole and, through Mask, each line; a log that quotes a
		// fragment still hides any long word of it, as tokens are.
		out := []string{string(data)}
		for _, w := range strings.FieldsFunc(string(data), func(r rune) bool {
			return unicode.IsSpace(r) || strings.ContainsRune(`:,{}[]"'`, r)
		}) {
			if len(w) >= minMaskedWord {
				out = append(out, w)
			}
		}
		return out
	}
	return authSecrets(cfg, dir)
}

// minSecret is the shortest exec plugin value masked. The runner hides a mask
// wherever it shows, so a short one ("eks", "1", "json") would blot out
// unrelated words all over the log; no real token or key is that short.
const minSecret = 8

// secretName matches the name of a flag or variable whose value is a
// secret: --token, --client-secret, --password, AWS_SECRET_ACCESS_KEY, ...
var secretName = regexp.MustCompile(`(?i)token|secret|passw|pwd|key|credential`)

// looksSecret tells a value that has the shape of a token or key whatever
// names it: long, one word, and either mixed-case letters with digits (as
// base64 and most API tokens) or 32 hex digits and more. Words, cluster
// names, regions, versions, flags, paths and URLs do not.
func looksSecret(v string) bool {
	if len(v) < 16 || strings.HasPrefix(v, "-") || strings.HasPrefix(v, "/") || strings.HasPrefix(v, ".") ||
		strings.HasPrefix(v, "~") || strings.Contains(v, "://") || strings.IndexFunc(v, unicode.IsSpace) >= 0 {
		return false
	}
	var lower, upper, digit bool
	hex := 0
	for _, r := range v {
		switch {
		case r >= 'a' && r <= 'z':
			lower = true
		case r >= 'A' && r <= 'Z':
			upper = true
		case r >= '0' && r <= '9':
			digit = true
		}
		if strings.ContainsRune("0123456789abcdefABCDEF", r) {
			hex++
		}
	}
	return lower && upper && digit || hex >= 32
}

// execSecrets are the secrets among an exec plugin's arguments and
// environment: a value named as one (--token=V, --client-secret V,
// X_SECRET=V) or shaped like one. The plugin's other words (its
// subcommand, a cluster's name, a region, an output format) are not
// masked.
func execSecrets(ex *clientcmdapi.ExecConfig) []string {
	var out []string
	add := func(v ...string) {
		for _, s := range v {
			if len(strings.TrimSpace(s)) >= minSecret {
				out = append(out, s)
			}
		}
	}
	for _, e := range ex.Env {
		if secretName.MatchString(e.Name) || looksSecret(e.Value) {
			add(e.Value)
		}
	}
	for i, a := range ex.Args {
		if name, v, ok := strings.Cut(a, "="); ok && strings.HasPrefix(name, "-") {
			if secretName.MatchString(name) || looksSecret(v) {
				add(a, v)
			}
			continue
		}
		prev := ""
		if i > 0 {
			prev = ex.Args[i-1]
		}
		named := strings.HasPrefix(prev, "-") && !strings.Contains(prev, "=") && secretName.MatchString(prev)
		if (named && !strings.HasPrefix(a, "-")) || looksSecret(a) {
			add(a)
		}
	}
	return out
}

func authSecrets(cfg *clientcmdapi.Config, dir string) []string {
	var out []string
	add := func(s string) {
		if strings.TrimSpace(s) != "" {
			out = append(out, s)
		}
	}
	addFile := func(p string) {
		if p == "" {
			return
		}
		if !filepath.IsAbs(p) && dir != "" {
			p = filepath.Join(dir, p)
		}
		f, err := os.Open(p)
		if err != nil {
			return
		}
		defer f.Close()
		b := make([]byte, maxSecretFile)
		n, _ := f.Read(b)
		add(string(b[:n]))
	}
	for _, ai := range cfg.AuthInfos {
		add(ai.Token)
		addFile(ai.TokenFile)
		add(ai.Password)
		if len(ai.ClientKeyData) > 0 {
			add(string(ai.ClientKeyData))
			add(base64.StdEncoding.EncodeToString(ai.ClientKeyData))
		}
		addFile(ai.ClientKey)
		if ap := ai.AuthProvider; ap != nil {
			for k, v := range ap.Config {
				k = strings.ToLower(k)
				if strings.Contains(k, "token") || strings.Contains(k, "secret") {
					add(v)
				}
			}
		}
		if ex := ai.Exec; ex != nil {
			out = append(out, execSecrets(ex)...)
		}
	}
	return out
}

// KubeconfigFileSecrets is KubeconfigSecrets of every file a KUBECONFIG
// value names, each with its relative names resolved from its own
// directory, as client-go resolves them.
func KubeconfigFileSecrets(kubeconfig string) []string {
	var out []string
	for _, p := range filepath.SplitList(kubeconfig) {
		if b, err := os.ReadFile(p); err == nil {
			out = append(out, KubeconfigSecrets(b, filepath.Dir(p))...)
		}
	}
	return out
}
