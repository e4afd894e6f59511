package build

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// directRefNameRe is the name part of "name[extras] @ url".
var directRefNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*\s*(\[[^\]]*\])?$`)

// RequirementsError is a requirements line that would let pip build a
// package from source. A build runs the package's own code (setup.py, a
// PEP 517 backend), so pip is kept to wheels, which install without
// running anything.
type RequirementsError struct {
	// File is the requirements file as the user would find it: relative to
	// the project directory when it is inside it.
	File string
	Line int
	// Text is the offending option or requirement.
	Text string
	// Why says what the line does.
	Why string
}

func (e *RequirementsError) Error() string {
	return fmt.Sprintf("%s:%d: %q %s; pip only installs wheels here: use a base image that has the package "+
		"(the base_image input, --base-image) or point --find-links at a wheel of it", e.File, e.Line, e.Text, e.Why)
}

// maxRequirementsFiles bounds how many files -r and -c may chain.
const maxRequirementsFiles = 64

// Options of a requirements file, as pip spells them, that turn a wheels-only
// install into one that builds from source or runs a build's options.
var sourceBuildOptions = map[string]string{
	"--no-binary":          "allows building packages from source",
	"-e":                   "installs an editable project, which pip builds from source",
	"--editable":           "installs an editable project, which pip builds from source",
	"--no-build-isolation": "configures building from source",
	"--use-pep517":         "configures building from source",
	"--no-use-pep517":      "configures building from source",
	"--global-option":      "passes options to a source build",
	"--install-option":     "passes options to a source build",
	"--build-option":       "passes options to a source build",
	"--config-settings":    "passes options to a source build",
	"-C":                   "passes options to a source build",
}

// Options that name another file pip reads as requirements.
var nestedFileOptions = map[string]bool{
	"-r": true, "--requirement": true, "-c": true, "--constraint": true,
}

// Options of a requirements file that take a value, so that the value is
// not mistaken for a requirement.
var valueOptions = map[string]bool{
	"-i": true, "--index-url": true, "--extra-index-url": true, "-f": true, "--find-links": true,
	"--only-binary": true, "--trusted-host": true, "--use-feature": true, "--hash": true,
}

// checkRequirements reads the requirements file at path and every file it
// names with -r or -c, and returns a *RequirementsError for the first line
// that would let pip build from source. It returns the contents of the
// nested files, in the order they were read, so that they can be part of
// the dependencies' cache key. projectDir is where paths are shown from.
func checkRequirements(path, projectDir string) ([]byte, error) {
	c := reqChecker{projectDir: projectDir, seen: map[string]bool{}}
	if err := c.file(path, true); err != nil {
		return nil, err
	}
	return c.nested.Bytes(), nil
}

type reqChecker struct {
	projectDir string
	seen       map[string]bool
	nested     bytes.Buffer
}

func (c *reqChecker) show(path string) string {
	if rel, err := filepath.Rel(c.projectDir, path); err == nil && !strings.HasPrefix(rel, "..") {
		return filepath.ToSlash(rel)
	}
	return path
}

func (c *reqChecker) file(path string, top bool) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	if c.seen[abs] {
		return nil
	}
	if len(c.seen) >= maxRequirementsFiles {
		return fmt.Errorf("requirements file %s: more than %d files chained with -r or -c", c.show(abs), maxRequirementsFiles)
	}
	c.seen[abs] = true
	data, err := os.ReadFile(abs)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("requirements file %s does not exist", c.show(abs))
		}
		return fmt.Errorf("requirements file %s: %w", c.show(abs), err)
	}
	if !top {
		fmt.Fprintf(&c.nested, "file %s %d\n", c.show(abs), len(data))
		c.nested.Write(data)
	}
	for _, l := range logicalLines(data) {
		if err := c.line(abs, l); err != nil {
			return err
		}
	}
	return nil
}

// reqLine is one logical line: continuations joined, comment removed.
type reqLine struct {
	n    int // the number of its first physical line
	text string
}

// logicalLines splits a requirements file as pip does: a backslash at the
// end of a line joins the next, and "#" at the start or after whitespace
// begins a comment.
func logicalLines(data []byte) []reqLine {
	var out []reqLine
	var cur strings.Builder
	start := 0
	phys := strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n")
	for i, l := range phys {
		if cur.Len() == 0 {
			start = i + 1
		}
		if strings.HasSuffix(l, `\`) {
			cur.WriteString(strings.TrimSuffix(l, `\`))
			if i < len(phys)-1 {
				continue
			}
		} else {
			cur.WriteString(l)
		}
		text := stripComment(cur.String())
		cur.Reset()
		if text = strings.TrimSpace(text); text != "" {
			out = append(out, reqLine{n: start, text: text})
		}
	}
	return out
}

func stripComment(s string) string {
	if strings.HasPrefix(s, "#") {
		return ""
	}
	for i := 1; i < len(s); i++ {
		if s[i] == '#' && (s[i-1] == ' ' || s[i-1] == '\t') {
			return s[:i]
		}
	}
	return s
}

func (c *reqChecker) line(file string, l reqLine) error {
	bad := func(text, why string) error {
		return &RequirementsError{File: c.show(file), Line: l.n, Text: text, Why: why}
	}
	fields := strings.Fields(l.text)
	if !strings.HasPrefix(fields[0], "-") {
		// A requirement, maybe followed by per-requirement options.
		req, opts := splitRequirement(fields)
		if why := sourceRequirement(req); why != "" {
			return bad(req, why)
		}
		return c.options(opts, file, bad)
	}
	return c.options(fields, file, bad)
}

// splitRequirement separates a requirement from the options after it
// (--hash, --config-settings and the like).
func splitRequirement(fields []string) (string, []string) {
	for i, f := range fields {
		if strings.HasPrefix(f, "-") && i > 0 {
			return strings.Join(fields[:i], " "), fields[i:]
		}
	}
	return strings.Join(fields, " "), nil
}

func (c *reqChecker) options(fields []string, file string, bad func(text, why string) error) error {
	for i := 0; i < len(fields); i++ {
		name, value, hasValue := splitOption(fields[i])
		if why, ok := sourceBuildOptions[name]; ok {
			return bad(fields[i], why)
		}
		takesValue := nestedFileOptions[name] || valueOptions[name]
		if takesValue && !hasValue && i+1 < len(fields) {
			i++
			value, hasValue = fields[i], true
		}
		if name == "--only-binary" && strings.Contains(value, ":none:") {
			return bad("--only-binary "+value, "allows building packages from source")
		}
		if nestedFileOptions[name] && hasValue {
			if isURL(value) {
				return bad(name+" "+value, "names a requirements file on the network, which cannot be checked before pip reads it; copy it into the project")
			}
			nested := value
			if !filepath.IsAbs(nested) {
				nested = filepath.Join(filepath.Dir(file), nested)
			}
			if err := c.file(nested, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// splitOption splits "--name=value", "-rfile" and "--name" forms.
func splitOption(f string) (name, value string, hasValue bool) {
	if strings.HasPrefix(f, "--") {
		if n, v, ok := strings.Cut(f, "="); ok {
			return n, v, true
		}
		return f, "", false
	}
	if len(f) > 2 {
		// Short options take their value attached: -rfile, -efoo.
		return f[:2], strings.TrimPrefix(f[2:], "="), true
	}
	return f, "", false
}

// sourceRequirement says why a requirement would be built from source, or
// "" for a name (with extras, versions and markers) or a wheel.
func sourceRequirement(req string) string {
	spec := req
	if i := strings.Index(spec, ";"); i >= 0 {
		spec = spec[:i]
	}
	spec = strings.TrimSpace(spec)
	ref := spec
	if name, after, ok := strings.Cut(spec, "@"); ok && directRefNameRe.MatchString(strings.TrimSpace(name)) {
		// "name @ url": a direct reference.
		ref = strings.TrimSpace(after)
	} else if !isURL(spec) && !looksLikePath(spec) {
		return ""
	}
	scheme, _, _ := strings.Cut(ref, ":")
	switch scheme = strings.ToLower(scheme); {
	case strings.Contains(scheme, "+"), scheme == "git", scheme == "hg", scheme == "svn", scheme == "bzr":
		return "is a version control checkout, which pip builds from source"
	}
	p := ref
	if u, err := url.Parse(ref); err == nil && u.Scheme != "" && len(u.Scheme) > 1 {
		p = u.Path
	}
	p, _, _ = strings.Cut(p, "#")
	if strings.HasSuffix(strings.ToLower(p), ".whl") {
		return ""
	}
	for _, ext := range []string{".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tar", ".zip"} {
		if strings.HasSuffix(strings.ToLower(p), ext) {
			return "is a source archive, which pip builds from source"
		}
	}
	return "is a path or URL that is not a wheel, which pip builds from source"
}

func isURL(s string) bool {
	scheme, _, ok := strings.Cut(s, "://")
	if !ok {
		return strings.HasPrefix(s, "file:")
	}
	for _, r := range scheme {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '+' || r == '.' || r == '-') {
			return false
		}
	}
	return scheme != ""
}

// looksLikePath tells a local path (a project directory or an archive)
// from a requirement name: pip takes a requirement for a path when it has
// a path separator or starts with a dot, or names an archive.
func looksLikePath(s string) bool {
	if strings.ContainsAny(s, `/\`) || strings.HasPrefix(s, ".") || strings.HasPrefix(s, "~") {
		return true
	}
	lower := strings.ToLower(s)
	for _, ext := range []string{".whl", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".zip", ".tar"} {
		if strings.HasSuffix(lower, ext) {
			return true
		}
	}
	return false
}
