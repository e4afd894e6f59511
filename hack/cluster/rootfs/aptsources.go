package rootfs

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// aptSource is one "deb" entry of the machine's APT configuration.
type aptSource struct {
	URIs       []string
	Suites     []string
	Components []string
}

// parseSourcesList reads the one-line format of sources.list(5):
// "deb [options] uri suite component...".
func parseSourcesList(r io.Reader) ([]aptSource, error) {
	var out []aptSource
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "deb" {
			continue
		}
		f = f[1:]
		if len(f) > 0 && strings.HasPrefix(f[0], "[") {
			// Options run to the closing bracket, possibly over fields.
			for len(f) > 0 {
				done := strings.HasSuffix(f[0], "]")
				f = f[1:]
				if done {
					break
				}
			}
		}
		if len(f) < 2 {
			continue
		}
		out = append(out, aptSource{URIs: f[:1], Suites: f[1:2], Components: f[2:]})
	}
	return out, sc.Err()
}

// parseDeb822 reads the deb822 format of sources.list(5) (.sources files):
// stanzas of "Field: value" lines separated by blank lines.
func parseDeb822(r io.Reader) ([]aptSource, error) {
	var out []aptSource
	fields := map[string]string{}
	last := ""
	flush := func() {
		if len(fields) > 0 && slices.Contains(strings.Fields(fields["types"]), "deb") &&
			!strings.EqualFold(strings.TrimSpace(fields["enabled"]), "no") {
			out = append(out, aptSource{
				URIs:       strings.Fields(fields["uris"]),
				Suites:     strings.Fields(fields["suites"]),
				Components: strings.Fields(fields["components"]),
			})
		}
		fields = map[string]string{}
		last = ""
	}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.TrimSpace(line) == "":
			flush()
		case strings.HasPrefix(line, "#"):
		case line[0] == ' ' || line[0] == '\t':
			if last != "" {
				fields[last] += " " + strings.TrimSpace(line)
			}
		default:
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			last = strings.ToLower(strings.TrimSpace(k))
			fields[last] = strings.TrimSpace(v)
		}
	}
	flush()
	return out, sc.Err()
}

// debianMirror picks the first source that serves the main component of
// the given release: that is the mirror this machine's own packages came
// from, so debootstrap can reach it too.
func debianMirror(sources []aptSource, codename string) (string, bool) {
	for _, s := range sources {
		if slices.Contains(s.Suites, codename) && slices.Contains(s.Components, "main") && len(s.URIs) > 0 {
			return strings.TrimRight(s.URIs[0], "/"), true
		}
	}
	return "", false
}

// MachineMirror reads /etc/apt/sources.list and sources.list.d in APT's
// order and returns the Debian mirror for codename.
func MachineMirror(codename string) (string, error) {
	files := []string{"/etc/apt/sources.list"}
	more, err := filepath.Glob("/etc/apt/sources.list.d/*")
	if err != nil {
		return "", fmt.Errorf("listing apt sources: %w", err)
	}
	sort.Strings(more)
	files = append(files, more...)
	var all []aptSource
	for _, f := range files {
		var parse func(io.Reader) ([]aptSource, error)
		switch {
		case strings.HasSuffix(f, ".list"):
			parse = parseSourcesList
		case strings.HasSuffix(f, ".sources"):
			parse = parseDeb822
		default:
			continue
		}
		fh, err := os.Open(f)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("reading apt sources: %w", err)
		}
		got, err := parse(fh)
		fh.Close()
		if err != nil {
			return "", fmt.Errorf("parsing %s: %w", f, err)
		}
		all = append(all, got...)
	}
	m, ok := debianMirror(all, codename)
	if !ok {
		return "", fmt.Errorf("no apt source serves %s main in %v", codename, files)
	}
	return m, nil
}

// OSCodename is the release codename of this machine, e.g. bookworm.
func OSCodename() (string, error) {
	b, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return "", fmt.Errorf("reading os-release: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VERSION_CODENAME="); ok {
			if v = strings.Trim(v, `"'`); v != "" {
				return v, nil
			}
		}
	}
	return "", fmt.Errorf("no VERSION_CODENAME in /etc/os-release")
}

// MirrorFor is the Debian mirror to debootstrap codename from: the one
// this machine's sources name for it, else the one they name for the
// machine's own release, since a Debian mirror serves every release.
func MirrorFor(codename string) (string, error) {
	m, err := MachineMirror(codename)
	if err == nil {
		return m, nil
	}
	own, ownErr := OSCodename()
	if ownErr != nil || own == codename {
		return "", err
	}
	if m, ownErr := MachineMirror(own); ownErr == nil {
		return m, nil
	}
	return "", err
}
