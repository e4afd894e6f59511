package faketime

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidateAcceptsLibfaketimeForms(t *testing.T) {
	for _, spec := range []string{
		"2031-06-01 12:00:00",
		"@2031-06-01 12:00:00",
		"@2031-06-01 12:00:00 x2",
		"2031-06-01 12:00:00.5",
		"+3d", "-2h", "+120", "-10m", "+1y", "+1.5h", "+1y x2", "+0 x0.5", "+5 i2",
	} {
		assert.NoError(t, Validate(spec), spec)
	}
}

func TestValidateRejectsWhatLibfaketimeMisreads(t *testing.T) {
	for _, spec := range []string{
		"",
		"garbage",
		"2031-06-01",          // libfaketime exits: no time of day
		"2031-13-01 12:00:00", // no 13th month
		"2031-02-30 12:00:00",
		"3d",                     // an offset needs its sign
		"+3w",                    // read as +3 seconds
		"+abc",                   // read as no offset
		"+1,5h",                  // locale-dependent: +1h in the C locale
		"@+3d",                   // libfaketime exits: @ takes a date
		"x2",                     // a speed alone
		"+1d x",                  // a speed without a number
		"2031-06-01 12:00:00 x2", // a stopped clock runs at no speed
		" +3d",
		"+3d\n",
	} {
		err := Validate(spec)
		require.Error(t, err, "%q", spec)
		assert.NotContains(t, err.Error(), "\n", "one line for %q", spec)
	}
}

func TestLibraryPatternFindsDebianPaths(t *testing.T) {
	for _, p := range []string{
		"usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
		"usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
		"usr/lib/arm-linux-gnueabihf/faketime/libfaketime.so.1",
		"usr/lib/faketime/libfaketime.so.1",
	} {
		assert.True(t, LibraryPattern.MatchString(p), p)
	}
	for _, p := range []string{
		"usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
		"usr/share/doc/libfaketime/README.gz",
		"usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1.bak",
	} {
		assert.False(t, LibraryPattern.MatchString(p), p)
	}
}
