// Package faketime knows libfaketime's FAKETIME values and what a process
// needs in its environment to run under Debian's libfaketime.
//
// libfaketime exits every process it is preloaded into when FAKETIME does
// not parse, and reads some malformed values ("+3w", "+abc") silently as
// an offset of a few seconds or none, so a value is checked here, before a
// pod runs, against the forms its documentation names.
package faketime

import (
	"fmt"
	"regexp"
	"time"
)

// Environment variables libfaketime reads.
const (
	EnvPreload = "LD_PRELOAD"
	EnvSpec    = "FAKETIME"
	// EnvDontFakeMonotonic keeps CLOCK_MONOTONIC real. With it faked,
	// Python's threading waits with a timeout (threading.Event.wait,
	// queue.get) never return under libfaketime 0.9.10 (Debian 12);
	// pytest's own durations also come from the monotonic clock.
	EnvDontFakeMonotonic = "FAKETIME_DONT_FAKE_MONOTONIC"
)

// DebianLibrary is where Debian's libfaketime package installs the library,
// for every architecture: the dynamic loader expands $LIB to the
// multiarch directory (lib/x86_64-linux-gnu on amd64).
const DebianLibrary = "/usr/$LIB/faketime/libfaketime.so.1"

// LibraryPattern matches, in an image's file tree (no leading slash), the
// library as Debian and Ubuntu install it.
var LibraryPattern = regexp.MustCompile(`^usr/lib/(?:[a-z0-9_]+-linux-gnu[a-z0-9_]*/)?faketime/libfaketime\.so\.1$`)

// Marker is the pytest marker that sets one test's FAKETIME.
const Marker = "faketime"

var (
	absoluteRe = regexp.MustCompile(`^(@?)(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})(\.\d+)?((?: [xi]\d+(?:\.\d+)?)?)$`)
	offsetRe   = regexp.MustCompile(`^[+-]\d+(?:\.\d+)?[mhdy]?(?: [xi]\d+(?:\.\d+)?)?$`)
)

// Forms is the one-line account of what Validate accepts.
const Forms = `give "YYYY-MM-DD hh:mm:ss" (a stopped clock), "@YYYY-MM-DD hh:mm:ss" (a clock running from then) ` +
	`or an offset such as +3d or -2h (units m, h, d, y; seconds when none), optionally followed by " x2" (clock speed)`

// Validate reports whether spec is a FAKETIME value libfaketime reads as
// meant: an absolute time "YYYY-MM-DD hh:mm:ss" (the clock stopped there),
// a start time "@YYYY-MM-DD hh:mm:ss" (the clock running from there), or an
// offset from now such as "+3d", "-2h", "+1.5y", with an optional speed
// (" x2") or per-call step (" i1") after an offset or a start time.
func Validate(spec string) error {
	if m := absoluteRe.FindStringSubmatch(spec); m != nil {
		if _, err := time.Parse(time.DateTime, m[2]); err != nil {
			return fmt.Errorf("%q is not a valid date and time: %s", m[2], Forms)
		}
		if m[1] == "" && m[4] != "" {
			return fmt.Errorf("a stopped clock takes no speed: put @ before the date for a running clock")
		}
		return nil
	}
	if offsetRe.MatchString(spec) {
		return nil
	}
	return fmt.Errorf("not a libfaketime time: %s", Forms)
}
