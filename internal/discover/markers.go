package discover

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/k8s-testrun/k8s-testrun/internal/faketime"
)

// markerPrefix starts each line the markers plugin (layout.MarkersPlugin)
// prints in discovery, one per test with a faketime marker.
const markerPrefix = "k8s-testrun-marker "

// MarkerError is a faketime marker that cannot be used, with the test it
// is on.
type MarkerError struct {
	TestID string
	Reason string
}

func (e *MarkerError) Error() string {
	return fmt.Sprintf("test %s: @pytest.mark.faketime: %s", e.TestID, e.Reason)
}

// SplitMarkers takes the markers plugin's lines out of the output of
// discovery and returns each test's faketime marker, by test id, and the
// output without those lines, for Parse. A marker that is not one valid
// FAKETIME value is a *MarkerError naming the test and the fix. Lines that
// do not decode are left in the output; Parse reads them as pytest's.
func SplitMarkers(output string) (map[string]string, string, error) {
	if !strings.Contains(output, markerPrefix) {
		return nil, output, nil
	}
	lines := strings.SplitAfter(output, "\n")
	kept := lines[:0]
	markers := map[string]string{}
	var first error
	for _, line := range lines {
		rest, ok := strings.CutPrefix(ansi.ReplaceAllString(line, ""), markerPrefix)
		var m struct {
			NodeID   string  `json:"nodeid"`
			Faketime *string `json:"faketime"`
			Error    string  `json:"error"`
		}
		if !ok || json.Unmarshal([]byte(strings.TrimRight(rest, "\r\n")), &m) != nil || m.NodeID == "" {
			kept = append(kept, line)
			continue
		}
		switch {
		case m.Faketime == nil:
			reason := m.Error
			if reason == "" {
				reason = "no value"
			}
			first = firstErr(first, &MarkerError{TestID: m.NodeID, Reason: reason + `; write @pytest.mark.faketime("2031-06-01 12:00:00")`})
		default:
			if err := faketime.Validate(*m.Faketime); err != nil {
				first = firstErr(first, &MarkerError{TestID: m.NodeID, Reason: fmt.Sprintf("%q: %v", *m.Faketime, err)})
				continue
			}
			markers[m.NodeID] = *m.Faketime
		}
	}
	return markers, strings.Join(kept, ""), first
}

func firstErr(have, err error) error {
	if have != nil {
		return have
	}
	return err
}

// marksPrefix starts each line the markers plugin prints in discovery for
// a test with markers other than pytest's own: their names.
const marksPrefix = "k8s-testrun-marks "

// Bounds on what SplitMarks keeps of one test's line, as the plugin
// prints it; a line of a test's own making may claim more.
const (
	maxMarks   = 32
	maxMarkLen = 100
)

// SplitMarks takes the markers plugin's lines of marker names out of the
// output of discovery and returns each test's marker names, by test id,
// and the output without those lines. Lines that do not decode are left
// in the output.
func SplitMarks(output string) (map[string][]string, string) {
	if !strings.Contains(output, marksPrefix) {
		return nil, output
	}
	lines := strings.SplitAfter(output, "\n")
	kept := lines[:0]
	marks := map[string][]string{}
	for _, line := range lines {
		rest, ok := strings.CutPrefix(ansi.ReplaceAllString(line, ""), marksPrefix)
		var m struct {
			NodeID  string   `json:"nodeid"`
			Markers []string `json:"markers"`
		}
		if !ok || json.Unmarshal([]byte(strings.TrimRight(rest, "\r\n")), &m) != nil || m.NodeID == "" {
			kept = append(kept, line)
			continue
		}
		var names []string
		for _, n := range m.Markers {
			if n != "" && len(n) <= maxMarkLen && len(names) < maxMarks {
				names = append(names, n)
			}
		}
		if len(names) > 0 {
			marks[m.NodeID] = names
		}
	}
	return marks, strings.Join(kept, "")
}

// versionsPrefix starts the markers plugin's last line in discovery: the
// versions of Python and pytest that collected the tests.
const versionsPrefix = "k8s-testrun-versions "

// maxVersionLen bounds a version as SplitVersions keeps it; a test's own
// output may print such a line too.
const maxVersionLen = 32

// Versions are the versions of Python and pytest in the test image.
type Versions struct {
	Python, Pytest string
}

// SplitVersions takes the markers plugin's versions line out of the
// output of discovery and returns it, and the output without it. A version
// that is not a short run of digits, letters, dots, dashes and pluses is
// left empty; lines that do not decode are left in the output.
func SplitVersions(output string) (Versions, string) {
	if !strings.Contains(output, versionsPrefix) {
		return Versions{}, output
	}
	lines := strings.SplitAfter(output, "\n")
	kept := lines[:0]
	var v Versions
	for _, line := range lines {
		rest, ok := strings.CutPrefix(ansi.ReplaceAllString(line, ""), versionsPrefix)
		var m struct {
			Python *string `json:"python"`
			Pytest *string `json:"pytest"`
		}
		if !ok || json.Unmarshal([]byte(strings.TrimRight(rest, "\r\n")), &m) != nil || m.Python == nil {
			kept = append(kept, line)
			continue
		}
		v = Versions{Python: cleanVersion(*m.Python)}
		if m.Pytest != nil {
			v.Pytest = cleanVersion(*m.Pytest)
		}
	}
	return v, strings.Join(kept, "")
}

func cleanVersion(s string) string {
	if s == "" || len(s) > maxVersionLen {
		return ""
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '.' || r == '-' || r == '+') {
			return ""
		}
	}
	return s
}

// Minor is the Python version without its patch level: 3.11 of 3.11.2.
func (v Versions) Minor() string {
	parts := strings.SplitN(v.Python, ".", 3)
	if len(parts) < 2 {
		return v.Python
	}
	return parts[0] + "." + parts[1]
}
