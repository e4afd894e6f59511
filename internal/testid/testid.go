// Package testid turns pytest node ids into names Kubernetes accepts.
//
// A node id such as "tests/test_a.py::TestX::test_y[param with spaces-1]"
// cannot be a label value (63 characters at most, a restricted alphabet),
// yet pods must be selectable per test case. CaseID gives every id a short,
// stable stand-in; the full id travels in an annotation.
package testid

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// caseIDLen is 12 hex digits (48 bits): a collision among 10,000 test ids has
// a probability below one in a million, and the value stays readable.
const caseIDLen = 12

// CaseID returns a short hash of testID that is a valid Kubernetes label value
// and depends on nothing but testID, so every runner, retry and operator
// computes the same one.
func CaseID(testID string) string {
	sum := sha256.Sum256([]byte(testID))
	return hex.EncodeToString(sum[:])[:caseIDLen]
}

// BaseCaseID is CaseID for the test on the base-th base image of a runtime
// matrix: the first base keeps CaseID, so a run of one base names its
// cases as ever, and the others differ by base.
func BaseCaseID(testID string, base int) string {
	if base == 0 {
		return CaseID(testID)
	}
	return CaseID(fmt.Sprintf("%s\x00base %d", testID, base))
}

// File is the file part of a node id: "tests/test_a.py" of
// "tests/test_a.py::TestX::test_y[1]".
func File(testID string) string {
	file, _, _ := strings.Cut(testID, "::")
	return file
}
