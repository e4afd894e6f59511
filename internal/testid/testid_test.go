package testid

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
)

// labelValue is the syntax Kubernetes enforces on label values.
var labelValue = regexp.MustCompile(`^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$`)

func TestCaseID(t *testing.T) {
	tests := []struct {
		name   string
		testID string
		want   string
	}{
		// Expected values from `printf %s ID | sha256sum | cut -c1-12`.
		{"plain function", "tests/test_a.py::test_one", "808b0db0fa67"},
		{"class method", "tests/test_a.py::TestX::test_y", "5854ecb5b5ed"},
		{"parameters with spaces and brackets", "tests/test_a.py::test_p[param with spaces-a[1]]", "111a835f116e"},
		{"empty", "", "e3b0c44298fc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := CaseID(tt.testID)
			assert.Equal(t, tt.want, got)
			assert.Len(t, got, caseIDLen)
			assert.Regexp(t, labelValue, got)
			assert.Equal(t, got, CaseID(tt.testID), "same id, same hash")
		})
	}
}

func TestCaseIDDistinguishesIDs(t *testing.T) {
	seen := map[string]string{}
	for _, id := range []string{
		"tests/test_a.py::test_p[1]",
		"tests/test_a.py::test_p[2]",
		"tests/test_a.py::test_p[1 ]",
		"tests/test_b.py::test_p[1]",
	} {
		got := CaseID(id)
		if prev, ok := seen[got]; ok {
			t.Fatalf("ids %q and %q share case id %s", prev, id, got)
		}
		seen[got] = id
	}
	assert.Len(t, seen, 4)
}

func TestFile(t *testing.T) {
	assert.Equal(t, "tests/test_a.py", File("tests/test_a.py::TestX::test_y[a::b]"))
	assert.Equal(t, "tests/test_a.py", File("tests/test_a.py"))
	assert.Empty(t, File(""))
}
