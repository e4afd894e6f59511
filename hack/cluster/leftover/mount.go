package leftover

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// MountPoint is one line of /proc/PID/mountinfo.
type MountPoint struct {
	ID         int
	Parent     int
	MountPoint string
	FSType     string
	Source     string
}

// ReadMountInfo parses a mountinfo file.
func ReadMountInfo(path string) ([]MountPoint, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading mount table: %w", err)
	}
	defer fh.Close()
	return ParseMountInfo(fh)
}

// ParseMountInfo parses mountinfo lines as described in proc(5).
func ParseMountInfo(r io.Reader) ([]MountPoint, error) {
	var out []MountPoint
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		// 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw
		left, right, ok := strings.Cut(line, " - ")
		if !ok {
			return nil, fmt.Errorf("parsing mountinfo line %q: no separator", line)
		}
		lf, rf := strings.Fields(left), strings.Fields(right)
		if len(lf) < 5 || len(rf) < 2 {
			return nil, fmt.Errorf("parsing mountinfo line %q: too few fields", line)
		}
		id, err := strconv.Atoi(lf[0])
		if err != nil {
			return nil, fmt.Errorf("parsing mountinfo id %q: %w", lf[0], err)
		}
		parent, err := strconv.Atoi(lf[1])
		if err != nil {
			return nil, fmt.Errorf("parsing mountinfo parent %q: %w", lf[1], err)
		}
		out = append(out, MountPoint{
			ID:         id,
			Parent:     parent,
			MountPoint: unescapeOctal(lf[4]),
			FSType:     rf[0],
			Source:     unescapeOctal(rf[1]),
		})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading mountinfo: %w", err)
	}
	return out, nil
}

// unescapeOctal undoes the kernel's \ooo escaping of blanks and backslashes.
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// MountsBelow returns the mounts at dir or below it, in the order they can be
// unmounted: children before their parents, later mounts over a path before
// earlier ones.
func MountsBelow(dir string) ([]MountPoint, error) {
	all, err := ReadMountInfo("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	// Walking the table backwards puts a mount stacked over a path (a
	// later line) before the one it covers; the stable sort by depth then
	// puts children before parents.
	var out []MountPoint
	for i := len(all) - 1; i >= 0; i-- {
		if m := all[i]; m.MountPoint == dir || strings.HasPrefix(m.MountPoint, dir+"/") {
			out = append(out, m)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		return strings.Count(out[i].MountPoint, "/") > strings.Count(out[j].MountPoint, "/")
	})
	return out, nil
}

// Mounts reports every mount at or below the cluster directory.
func Mounts(f Footprint) (Report, error) {
	ms, err := MountsBelow(f.Dir)
	if err != nil {
		return nil, err
	}
	var r Report
	for _, m := range ms {
		r = append(r, Item{Kind: KindMount, ID: m.MountPoint, Why: m.FSType + " from " + m.Source})
	}
	return r, nil
}

// UnmountBelow unmounts everything at or below dir, innermost first. A
// mount that is busy is detached, which takes it out of the tree at once.
func UnmountBelow(dir string) error {
	for round := 0; ; round++ {
		ms, err := MountsBelow(dir)
		if err != nil {
			return err
		}
		if len(ms) == 0 {
			return nil
		}
		if round == 5 {
			var left []string
			for _, m := range ms {
				left = append(left, m.MountPoint)
			}
			return fmt.Errorf("mounts below %s survive unmounting: %s", dir, strings.Join(left, ", "))
		}
		for _, m := range ms {
			err := syscall.Unmount(m.MountPoint, 0)
			if errors.Is(err, syscall.EBUSY) {
				err = syscall.Unmount(m.MountPoint, syscall.MNT_DETACH)
			}
			if err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
				return fmt.Errorf("unmounting %s: %w", m.MountPoint, err)
			}
		}
	}
}

// RemoveAllUnmounted removes dir after unmounting everything below it, and
// refuses when a mount survives: removing through a bind mount of /dev or
// a host directory would delete the machine's own files.
func RemoveAllUnmounted(dir string) error {
	if err := UnmountBelow(dir); err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing %s: %w", dir, err)
	}
	return nil
}
