package build

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// RequirementsError is a requirements line that k8s-testrun does not let
// pip act on: one that would let pip build a package from source (a build
// runs the package's own code: setup.py, a PEP 517 backend), read a file
// outside the project, or use an option outside a short allowlist. It never
// carries a line's or a file's content, only where the line is and which
// option it gives.
type RequirementsError struct {
	// File is the requirements file relative to the project directory.
	File string
	// Line is pip's line number in File (pip also ends a line at the
	// characters str.splitlines() takes for line breaks), 0 for the
	// whole file.
	Line int
	// Text is the option the line gives, as pip names it, or "".
	Text string
	// Why says what the line does.
	Why string
	// Fix says what to do instead; the default is about wheels.
	Fix string
}

const wheelsFix = "pip only installs wheels here: use a base image that has the package " +
	"(the base_image input, --base-image) or point --find-links at a wheel of it"

func (e *RequirementsError) Error() string {
	where := quoteName(e.File)
	if e.Line > 0 {
		where += ":" + strconv.Itoa(e.Line)
	}
	what := e.Why
	if e.Text != "" {
		what = strconv.Quote(e.Text) + " " + e.Why
	}
	fix := e.Fix
	if fix == "" {
		fix = wheelsFix
	}
	return fmt.Sprintf("%s: %s; %s", where, what, fix)
}

// quoteName shows a file name of the project as it is when it is plain,
// quoted when it has anything that could break a line or read as markup.
func quoteName(s string) string {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-/+@", r)) {
			return strconv.Quote(s)
		}
	}
	return s
}

// maxRequirementsFiles bounds how many files -r and -c may chain; it is
// also the parser script's MAX_FILES.
const maxRequirementsFiles = 64

// maxRequirementsErrors bounds how many errors one check reports.
const maxRequirementsErrors = 20

// maxParserOutput bounds what the parser script may print.
const maxParserOutput = 8 << 20

//go:embed reqparse.py
var reqParseScript string

// Options of a requirements line that pip may act on here, by the long
// name pip gives them. -r and -c are checked by the parser script (inside
// the project), --find-links and --only-binary below.
var allowedOptions = map[string]bool{
	"--index-url": true, "--extra-index-url": true, "--no-index": true, "--find-links": true,
	"--hash": true, "--pre": true, "--prefer-binary": true, "--require-hashes": true,
	"--requirement": true, "--constraint": true, "--only-binary": true,
}

// sourceBuildOptions say why an option outside the allowlist is refused
// when it is about building from source.
var sourceBuildOptions = map[string]string{
	"--no-binary":       "allows building packages from source",
	"--only-binary":     "allows building packages from source",
	"--editable":        "installs an editable project, which pip builds from source",
	"--global-option":   "passes options to a source build",
	"--install-option":  "passes options to a source build",
	"--build-option":    "passes options to a source build",
	"--config-settings": "passes options to a source build",
}

// parsedLine is one line as the parser script reports it.
type parsedLine struct {
	File          string   `json:"file"`
	Line          int      `json:"line"`
	Kind          string   `json:"kind"`
	Option        string   `json:"option"`
	Options       []string `json:"options"`
	Requirement   bool     `json:"requirement"`
	Editable      bool     `json:"editable"`
	Link          string   `json:"link"`
	LinkPath      string   `json:"link_path"`
	FindLinks     []string `json:"find_links"`
	IndexURLs     []string `json:"index_urls"`
	FormatControl *struct {
		NoBinary   []string `json:"no_binary"`
		OnlyBinary []string `json:"only_binary"`
	} `json:"format_control"`
}

type parserOutput struct {
	Unsupported string       `json:"unsupported"`
	Lines       []parsedLine `json:"lines"`
	Need        *struct {
		Path   string `json:"path"`
		File   string `json:"file"`
		Line   int    `json:"line"`
		Option string `json:"option"`
	} `json:"need"`
}

// checkedRequirements is what checkRequirements found and staged.
type checkedRequirements struct {
	// top is the requirements file, slash-separated, relative to the
	// project and to the workspace's mirror.
	top string
	// key is the top file's content followed by each file it chains in
	// ("file <name> <size>\n" and the content), in the order pip reads
	// them, for the dependencies' cache key.
	key []byte
}

// checkRequirements copies the requirements file into the workspace, lets
// pip's own parser read it and every file it chains in (each copied in
// once checked to be a regular file inside the project), and refuses what
// pip must not act on. Wheels the requirements name inside the project
// (paths, --find-links directories) are copied too, so that pip, run in
// the workspace, reads only what was checked.
func (b *builder) checkRequirements(ctx context.Context, ws *workspace) (checkedRequirements, error) {
	top, err := b.requirementsRel()
	if err != nil {
		return checkedRequirements{}, err
	}
	if importable(top) {
		return checkedRequirements{}, fmt.Errorf("requirements file %s has the name of a Python module; rename it", quoteName(top))
	}
	real, err := projectFile(b.projectDir, top)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return checkedRequirements{}, fmt.Errorf("requirements file %s does not exist", quoteName(top))
	case errors.Is(err, errOutsideProject):
		return checkedRequirements{}, fmt.Errorf("requirements file %s is outside the project directory; copy it into the project", quoteName(top))
	case err != nil:
		return checkedRequirements{}, fmt.Errorf("requirements file %s: %w", quoteName(top), err)
	}
	data, _, err := ws.stage(top, real, maxStagedFileSize, true)
	if err != nil {
		return checkedRequirements{}, fmt.Errorf("requirements file %s: %w", quoteName(top), err)
	}
	res := checkedRequirements{top: top, key: data}
	// What the parser reads, for parserMemo: the parser and, in order, the
	// files in the workspace.
	memo := sha256.New()
	uid := -1
	if ws.cred != nil {
		uid = int(ws.cred.Uid)
	}
	for _, part := range append(b.parserCommand(), strconv.Itoa(uid), reqParseScript, top, string(data)) {
		fmt.Fprintf(memo, "%d:%s\n", len(part), part)
	}
	for range maxRequirementsFiles + 1 {
		out, err := b.parseRequirementsMemo(ctx, ws, top, memo.Sum(nil))
		if err != nil {
			return checkedRequirements{}, err
		}
		if out.Need == nil {
			return res, b.judge(ws, out.Lines)
		}
		// A file the requirements chain in, copied in after its checks.
		need := out.Need
		bad := &RequirementsError{File: need.File, Line: need.Line, Text: need.Option, Fix: "copy it into the project"}
		real, err := projectFile(b.projectDir, need.Path)
		switch {
		case importable(need.Path):
			bad.Why, bad.Fix = "names a file with the name of a Python module", "rename it"
			return checkedRequirements{}, bad
		case errors.Is(err, fs.ErrNotExist):
			bad.Why, bad.Fix = "names a file that does not exist in the project", "fix the name"
			return checkedRequirements{}, bad
		case errors.Is(err, errOutsideProject):
			bad.Why = "names a file outside the project"
			return checkedRequirements{}, bad
		case err != nil:
			bad.Why, bad.Fix = "names a file that cannot be read", "fix the name"
			return checkedRequirements{}, bad
		}
		data, _, err := ws.stage(need.Path, real, maxStagedFileSize, true)
		if err != nil {
			bad.Why, bad.Fix = fmt.Sprintf("names a file that is not a regular file of at most %d bytes", maxStagedFileSize), "fix the name"
			return checkedRequirements{}, bad
		}
		res.key = fmt.Appendf(res.key, "file %s %d\n", need.Path, len(data))
		res.key = append(res.key, data...)
		fmt.Fprintf(memo, "%d:%s\n%d:%s\n", len(need.Path), need.Path, len(data), data)
	}
	return checkedRequirements{}, fmt.Errorf("requirements file %s: more than %d files chained with -r or -c", quoteName(top), maxRequirementsFiles)
}

// importable tells a name Python could import from its working directory
// (when a pip command the user set runs without -I): such a file is never
// copied into the workspace.
func importable(name string) bool {
	ext := strings.ToLower(path.Ext(name))
	return ext == ".py" || ext == ".pyc" || ext == ".pth" || ext == ".so"
}

// requirementsRel is the requirements file relative to the project.
func (b *builder) requirementsRel() (string, error) {
	p := b.requirementsPath()
	rel, err := filepath.Rel(b.projectDir, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("requirements file %s is outside the project directory; copy it into the project", quoteName(b.requirements))
	}
	return filepath.ToSlash(rel), nil
}

// parserCommand is the interpreter of the pip command, isolated: the
// parser must import pip's modules from the same installation as pip.
func (b *builder) parserCommand() []string {
	for i := 1; i+1 < len(b.pip); i++ {
		if b.pip[i] == "-m" && b.pip[i+1] == "pip" {
			cmd := []string{b.pip[0], "-I"}
			for _, a := range b.pip[1:i] {
				if a != "-I" {
					cmd = append(cmd, a)
				}
			}
			return cmd
		}
	}
	return []string{DefaultPip[0], "-I"}
}

// parserMemo keeps, for this process, the parser's last reports by what it
// read: the builds of a matrix share one requirements file, and each run
// of the parser costs a Python start and pip's imports.
var parserMemo struct {
	sync.Mutex
	reports map[string]parserOutput
}

const parserMemoSize = 64

// parseRequirementsMemo is parseRequirements, remembered by key.
func (b *builder) parseRequirementsMemo(ctx context.Context, ws *workspace, top string, key []byte) (parserOutput, error) {
	parserMemo.Lock()
	out, ok := parserMemo.reports[string(key)]
	parserMemo.Unlock()
	if ok {
		return out, nil
	}
	out, err := b.parseRequirements(ctx, ws, top)
	if err != nil {
		return out, err
	}
	parserMemo.Lock()
	if len(parserMemo.reports) >= parserMemoSize || parserMemo.reports == nil {
		parserMemo.reports = map[string]parserOutput{}
	}
	parserMemo.reports[string(key)] = out
	parserMemo.Unlock()
	return out, nil
}

// parseRequirements runs the parser script in the workspace.
func (b *builder) parseRequirements(ctx context.Context, ws *workspace, top string) (parserOutput, error) {
	root, err := filepath.EvalSymlinks(ws.src)
	if err != nil {
		return parserOutput{}, err
	}
	argv := append(b.parserCommand(), "-c", reqParseScript, root, top)
	cmd, err := ws.hostCommand(ctx, argv, b.pythonEnv(ws))
	if err != nil {
		return parserOutput{}, fmt.Errorf("checking requirements file %s with pip's parser: %w", quoteName(top), err)
	}
	var stdout, stderr limitedBuffer
	stdout.limit, stderr.limit = maxParserOutput, 64<<10
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return parserOutput{}, ctx.Err()
		}
		// stderr is not shown: pip's messages quote the lines they read.
		hint := "pip must be installed for " + argv[0]
		if !bytes.Contains(stderr.Bytes(), []byte("No module named")) {
			hint = "pip's parser failed on it; run pip install -r on it to see pip's message"
		}
		return parserOutput{}, fmt.Errorf("checking requirements file %s with pip's parser (%s -I): %v; %s",
			quoteName(top), argv[0], err, hint)
	}
	if stdout.over {
		return parserOutput{}, fmt.Errorf("requirements file %s: too many lines to check (more than %d bytes of report)", quoteName(top), maxParserOutput)
	}
	var out parserOutput
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		// Not even the JSON error: it quotes what was printed.
		return parserOutput{}, fmt.Errorf("checking requirements file %s: pip's parser (%s -I) printed no report", quoteName(top), argv[0])
	}
	if out.Unsupported != "" {
		return parserOutput{}, fmt.Errorf("checking requirements file %s: the pip of %s (%s) has a requirements parser that k8s-testrun does not know; "+
			"use a pip from 23.0 on (Debian 12's python3-pip has one)", quoteName(top), argv[0], strconv.Quote(out.Unsupported))
	}
	return out, nil
}

// judge turns the parsed lines into errors, one per line at most, and
// copies the wheels the lines name into the workspace.
func (b *builder) judge(ws *workspace, lines []parsedLine) error {
	var errs []error
	for _, l := range lines {
		if err := b.judgeLine(ws, l); err != nil {
			if len(errs) == maxRequirementsErrors {
				errs = append(errs, fmt.Errorf("and more lines of the requirements that are refused"))
				break
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (b *builder) judgeLine(ws *workspace, l parsedLine) error {
	bad := func(text, why, fix string) error {
		return &RequirementsError{File: l.File, Line: l.Line, Text: text, Why: why, Fix: fix}
	}
	nestedFix := "copy it into the project and name it relative to the requirements file"
	switch l.Kind {
	case "line":
	case "env":
		return bad("", "names an environment variable (${...}), which pip would fill in from this machine's environment", "write the value itself")
	case "parse":
		return bad("", "is a line pip's parser cannot read", "run pip install -r on the file to see pip's message")
	case "badreq":
		return bad("", "is not a requirement pip can install from a wheel (a directory, or not a requirement at all)", "")
	case "nested-url":
		return bad(nestedOption(l), "names a requirements file on the network, which cannot be checked before pip reads it", nestedFix)
	case "nested-out":
		return bad(nestedOption(l), "names a file outside the project", nestedFix)
	case "too-many":
		return bad("-r/-c", fmt.Sprintf("chains in more than %d files", maxRequirementsFiles), "merge some of them")
	case "unreadable":
		return bad("", "cannot be read as text", "fix the file")
	default:
		return bad("", "is not understood", "")
	}
	if l.Editable {
		return bad("--editable", sourceBuildOptions["--editable"], "")
	}
	for _, opt := range l.Options {
		if !allowedOptions[opt] {
			if why, ok := sourceBuildOptions[opt]; ok {
				return bad(opt, why, "")
			}
			return bad(opt, "is not an option k8s-testrun lets pip take from a requirements file",
				"remove it (allowed: --index-url, --extra-index-url, --no-index, --find-links, --hash, --pre, --prefer-binary, --require-hashes, --only-binary=:all:, -r, -c)")
		}
		if opt == "--only-binary" && !onlyBinaryAll(l) {
			return bad(opt, sourceBuildOptions[opt], "")
		}
	}
	for _, u := range l.IndexURLs {
		if !isHTTPURL(u) {
			// A file: index would have pip read, and maybe show, files
			// of this machine.
			return bad("--index-url/--extra-index-url", "names an index that is not an http(s) URL", "give an http(s) URL, or put wheels in the project and use --find-links")
		}
	}
	for _, fl := range l.FindLinks {
		if err := b.judgeFindLinks(ws, l, fl); err != nil {
			return err
		}
	}
	if l.Requirement && l.Link != "" {
		return b.judgeLink(ws, l)
	}
	return nil
}

func nestedOption(l parsedLine) string {
	if l.Option == "--requirement" || l.Option == "--constraint" {
		return l.Option
	}
	return "-r/-c"
}

// onlyBinaryAll tells whether the line's --only-binary left pip where the
// command line puts it: wheels only for every package.
func onlyBinaryAll(l parsedLine) bool {
	fc := l.FormatControl
	return fc != nil && len(fc.NoBinary) == 0 && len(fc.OnlyBinary) == 1 && fc.OnlyBinary[0] == ":all:"
}

// judgeFindLinks accepts an http(s) URL, or a directory of the project
// named relative to the requirements file or the project, as pip resolves
// it, and copies that directory's wheels into the workspace.
func (b *builder) judgeFindLinks(ws *workspace, l parsedLine, value string) error {
	bad := &RequirementsError{File: l.File, Line: l.Line, Text: "--find-links",
		Fix: "put the wheels in a directory of the project and name it relative to the requirements file, or give an http(s) URL"}
	if isHTTPURL(value) {
		return nil
	}
	// pip expands a leading "~" to the home directory of this machine.
	if isURLLike(value) || filepath.IsAbs(value) || strings.HasPrefix(value, "~") {
		bad.Why = "names a location that is neither an http(s) URL nor a directory of the project"
		return bad
	}
	// pip takes the path relative to the requirements file when it exists
	// there, else relative to its working directory, the project's mirror.
	rel := path.Join(path.Dir(l.File), filepath.ToSlash(value))
	if _, err := projectFile(b.projectDir, rel); err != nil {
		rel = path.Clean(filepath.ToSlash(value))
	}
	real, err := projectFile(b.projectDir, rel)
	if errors.Is(err, fs.ErrNotExist) && rel != ".." && !strings.HasPrefix(rel, "../") {
		// pip passes over a directory that is not there; so does the
		// workspace, which has nothing at that path.
		return nil
	}
	if err == nil {
		var info os.FileInfo
		if info, err = os.Stat(real); err == nil && !info.IsDir() {
			err = errors.New("not a directory")
		}
	}
	if err != nil {
		bad.Why = "names a path that is not a directory of the project"
		return bad
	}
	if err := ws.stageWheelDir(b.projectDir, rel); err != nil {
		bad.Why = fmt.Sprintf("names a directory whose wheels cannot be copied (at most %d wheels, %d MiB in all)", maxStagedWheels, maxStagedWheelSize>>20)
		return bad
	}
	return nil
}

// judgeLink accepts a requirement that is a wheel: an http(s) URL of one,
// or one inside the project, which it copies into the workspace.
func (b *builder) judgeLink(ws *workspace, l parsedLine) error {
	bad := func(why, fix string) error {
		return &RequirementsError{File: l.File, Line: l.Line, Why: why, Fix: fix}
	}
	u, err := url.Parse(l.Link)
	if err != nil {
		return bad("names a link pip cannot use", "")
	}
	scheme := strings.ToLower(u.Scheme)
	file := strings.ToLower(u.Path)
	switch {
	case strings.Contains(scheme, "+") || scheme == "git" || scheme == "hg" || scheme == "svn" || scheme == "bzr":
		return bad("names a version control checkout, which pip builds from source", "")
	case !strings.HasSuffix(file, ".whl") && isArchive(file):
		return bad("names a source archive, which pip builds from source", "")
	case !strings.HasSuffix(file, ".whl"):
		return bad("names a path or URL that is not a wheel, which pip would build from source", "")
	case scheme == "https" || scheme == "http":
		return nil
	case scheme != "file" || l.LinkPath == "":
		return bad("names a wheel by a link that is neither an http(s) URL nor a path in the project", "")
	}
	rel := path.Clean(l.LinkPath)
	if path.IsAbs(rel) || rel == ".." || strings.HasPrefix(rel, "../") {
		return bad("names a wheel outside the project", "copy it into the project and name it relative to the project directory")
	}
	switch err := ws.stageWheel(b.projectDir, rel); {
	case errors.Is(err, fs.ErrNotExist):
		return bad("names a wheel that does not exist in the project", "fix the path: pip takes it relative to the project directory")
	case errors.Is(err, errOutsideProject):
		return bad("names a wheel outside the project", "copy it into the project")
	case err != nil:
		return bad(fmt.Sprintf("names a wheel that cannot be copied (at most %d wheels, %d MiB in all)", maxStagedWheels, maxStagedWheelSize>>20), "")
	}
	return nil
}

func isArchive(p string) bool {
	for _, ext := range []string{".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tar", ".zip"} {
		if strings.HasSuffix(p, ext) {
			return true
		}
	}
	return false
}

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

func isURLLike(s string) bool {
	scheme, _, ok := strings.Cut(s, ":")
	return ok && len(scheme) > 1 && !strings.ContainsAny(scheme, `/\`)
}

// limitedBuffer keeps the first limit bytes written to it and notes that
// more came.
type limitedBuffer struct {
	bytes.Buffer
	limit int
	over  bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.limit - b.Len(); len(p) > room {
		b.over = true
		b.Buffer.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return b.Buffer.Write(p)
}
