package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// The host side runs Python twice per build that has requirements: pip's
// own requirements parser (reqparse.py) and pip itself. Neither may run
// anything of the project's, nor reach this process's secrets, so both run
//   - isolated (python3 -I: the working directory is not on sys.path, no
//     PYTHON* variable, no user site), so a pip.py of the project's is
//     never imported;
//   - from a workspace outside the project that holds only copies of the
//     files they need, made after the checks (so pip reads what was
//     checked), never from the project directory;
//   - with the allowlisted environment of PipEnv;
//   - when this process is root, as an unprivileged user (unprivilegedID),
//     which cannot read /proc/PID/environ of this process or its parents.

// unprivilegedID is the uid and gid of host-side Python when k8s-testrun
// runs as root: nobody and nogroup on Debian and most distributions.
const unprivilegedID = 65534

// Bounds of what the workspace copies from the project.
const (
	maxStagedFileSize  = 1 << 20 // a requirements file
	maxStagedWheels    = 1000
	maxStagedWheelSize = 2 << 30 // all wheels of --find-links directories and paths
)

// hostCredential is who host-side Python runs as: nil (this process's
// user) unless this process is root.
func hostCredential() *syscall.Credential {
	if os.Geteuid() != 0 {
		return nil
	}
	return &syscall.Credential{Uid: unprivilegedID, Gid: unprivilegedID, Groups: []uint32{}}
}

// workspace is where host-side Python runs. Its root is ours and only
// traversable; src mirrors, at the same relative paths, the project's
// requirements files and wheels once checked, and is Python's working
// directory, so relative paths in the requirements mean what they mean in
// the project; home and target belong to the user Python runs as.
type workspace struct {
	root, src, home, target string
	cred                    *syscall.Credential
	wheels                  int
	wheelBytes              int64
}

// newWorkspace makes a workspace in the system's temporary directory (not
// in the build's, which only this process's user can enter).
func newWorkspace(cred *syscall.Credential) (*workspace, error) {
	if cred != nil {
		for dir := os.TempDir(); ; dir = filepath.Dir(dir) {
			if !permits(dir, cred, 0o1) {
				return nil, fmt.Errorf("pip runs as the unprivileged user (uid %d) when k8s-testrun runs as root, and it cannot enter "+
					"the temporary directory %s: set TMPDIR to a directory every user can enter, such as /tmp", cred.Uid, os.TempDir())
			}
			if dir == filepath.Dir(dir) {
				break
			}
		}
	}
	root, err := os.MkdirTemp("", "k8s-testrun-pip-")
	if err != nil {
		return nil, err
	}
	w := &workspace{root: root, src: filepath.Join(root, "src"), home: filepath.Join(root, "home"),
		target: filepath.Join(root, "target"), cred: cred}
	err = os.Chmod(root, 0o711)
	for _, d := range []string{w.src, w.home, w.target} {
		if err == nil {
			err = os.Mkdir(d, 0o755)
		}
	}
	if err == nil && cred != nil {
		for _, d := range []string{w.home, w.target} {
			if err == nil {
				err = os.Chown(d, int(cred.Uid), int(cred.Gid))
			}
		}
	}
	if err != nil {
		w.remove()
		return nil, fmt.Errorf("making pip's workspace: %w", err)
	}
	return w, nil
}

func (w *workspace) remove() { os.RemoveAll(w.root) }

// errOutsideProject is a staged path whose real location is outside the
// project, through ".." or a symbolic link.
var errOutsideProject = errors.New("outside the project")

// projectFile resolves rel, a slash-separated path relative to projectDir,
// to its real location, which must be inside projectDir.
func projectFile(projectDir, rel string) (string, error) {
	root, err := filepath.EvalSymlinks(projectDir)
	if err != nil {
		return "", err
	}
	p, err := filepath.EvalSymlinks(filepath.Join(projectDir, filepath.FromSlash(rel)))
	if err != nil {
		return "", err
	}
	if r, err := filepath.Rel(root, p); err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) || filepath.IsAbs(r) {
		return "", errOutsideProject
	}
	return p, nil
}

// stage copies the regular file at real into the mirror at rel, readable by
// anyone who can enter the workspace, and returns its contents when keep.
func (w *workspace) stage(rel, real string, limit int64, keep bool) ([]byte, int64, error) {
	in, err := os.Open(real)
	if err != nil {
		return nil, 0, err
	}
	defer in.Close()
	info, err := in.Stat()
	if err != nil {
		return nil, 0, err
	}
	if !info.Mode().IsRegular() {
		return nil, 0, errors.New("not a regular file")
	}
	dst := filepath.Join(w.src, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return nil, 0, err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return nil, 0, err
	}
	var kept strings.Builder
	var dstW io.Writer = out
	if keep {
		dstW = io.MultiWriter(out, &kept)
	}
	n, err := io.Copy(dstW, io.LimitReader(in, limit+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > limit {
		err = fmt.Errorf("larger than %d bytes", limit)
	}
	if err != nil {
		os.Remove(dst)
		return nil, 0, err
	}
	return []byte(kept.String()), n, nil
}

// stageWheel copies one wheel of the project into the mirror.
func (w *workspace) stageWheel(projectDir, rel string) error {
	real, err := projectFile(projectDir, rel)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(w.src, filepath.FromSlash(rel))); err == nil {
		return nil
	}
	if w.wheels >= maxStagedWheels {
		return fmt.Errorf("more than %d wheels", maxStagedWheels)
	}
	_, n, err := w.stage(rel, real, maxStagedWheelSize-w.wheelBytes, false)
	if err != nil {
		return err
	}
	w.wheels++
	w.wheelBytes += n
	return nil
}

// stageWheelDir copies the wheels directly in a --find-links directory of
// the project (pip does not look deeper) into the mirror.
func (w *workspace) stageWheelDir(projectDir, rel string) error {
	real, err := projectFile(projectDir, rel)
	if err != nil {
		return err
	}
	ents, err := os.ReadDir(real)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(w.src, filepath.FromSlash(rel)), 0o755); err != nil {
		return err
	}
	for _, e := range ents {
		if !strings.HasSuffix(strings.ToLower(e.Name()), ".whl") || e.IsDir() {
			continue
		}
		if err := w.stageWheel(projectDir, pathJoin(rel, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s: %w", e.Name(), err)
		}
	}
	return nil
}

func pathJoin(dir, name string) string {
	if dir == "." || dir == "" {
		return name
	}
	return dir + "/" + name
}

// hostCommand prepares argv to run in the workspace as w.cred, with env
// and nothing else of this process's environment.
func (w *workspace) hostCommand(ctx context.Context, argv, env []string) (*exec.Cmd, error) {
	path, err := lookPathFor(argv[0], envValue(env, "PATH"), w.cred)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, path, argv[1:]...)
	cmd.Dir = w.src
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: w.cred}
	return cmd, nil
}

func envValue(env []string, key string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, key+"="); ok {
			return v
		}
	}
	return ""
}

// systemPath is where lookPathFor looks when the environment has no PATH
// and this process's PATH offers nothing the unprivileged user can run.
const systemPath = "/usr/local/bin:/usr/bin:/bin"

// lookPathFor finds file as exec.LookPath would, in path (this process's
// PATH, then systemPath, when empty), but when cred is set skips what that
// user could not run: as root, a python3 under /root (pyenv, for one) is
// out of the unprivileged user's reach, and the system's python3 further
// down PATH is the one it can use.
func lookPathFor(file, path string, cred *syscall.Credential) (string, error) {
	if strings.Contains(file, "/") {
		if cred != nil && !canExec(file, cred) {
			return "", fmt.Errorf("%s cannot be run by the unprivileged user (uid %d) that runs host-side Python when k8s-testrun runs as root: "+
				"make it and its directories readable and searchable by every user", file, cred.Uid)
		}
		return file, nil
	}
	if path == "" {
		if p, err := exec.LookPath(file); err == nil && filepath.IsAbs(p) && (cred == nil || canExec(p, cred)) {
			return p, nil
		}
		path = systemPath
	}
	var found string
	for _, dir := range filepath.SplitList(path) {
		if dir == "" || !filepath.IsAbs(dir) {
			continue // never the working directory
		}
		p := filepath.Join(dir, file)
		info, err := os.Stat(p)
		if err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
			continue
		}
		if found == "" {
			found = p
		}
		if cred == nil || canExec(p, cred) {
			return p, nil
		}
	}
	if found != "" {
		return "", fmt.Errorf("%s (%s) cannot be run by the unprivileged user (uid %d) that runs host-side Python when k8s-testrun runs as root, "+
			"and no other %s on PATH can: install Python where every user can run it (such as the system's /usr/bin/python3)", file, found, cred.Uid, file)
	}
	return "", fmt.Errorf("%s: %w", file, exec.ErrNotFound)
}

// canExec tells, from permission bits, whether cred can run the file at p:
// search permission on every directory on the way, after symbolic links,
// and read and execute permission on the file.
func canExec(p string, cred *syscall.Credential) bool {
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return false
	}
	real, err = filepath.Abs(real)
	if err != nil {
		return false
	}
	for dir := filepath.Dir(real); ; dir = filepath.Dir(dir) {
		if !permits(dir, cred, 0o1) {
			return false
		}
		if dir == filepath.Dir(dir) {
			break
		}
	}
	return permits(real, cred, 0o5)
}

// permits tells whether the mode bits of p grant cred every bit of want
// (4 read, 2 write, 1 execute or search), as owner, group or other.
func permits(p string, cred *syscall.Credential, want os.FileMode) bool {
	info, err := os.Stat(p)
	if err != nil {
		return false
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return false
	}
	mode := info.Mode().Perm()
	switch {
	case st.Uid == cred.Uid:
		mode >>= 6
	case st.Gid == cred.Gid:
		mode >>= 3
	}
	return mode&want == want
}
