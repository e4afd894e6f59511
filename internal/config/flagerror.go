package config

import (
	"errors"
	"fmt"

	"github.com/spf13/pflag"
)

// ValueFix words a flag value that did not parse (pflag's
// *InvalidValueError) as the rest of the input errors are worded: what is
// wrong and what would be valid. The command line and the action's inputs,
// which set the same flags, both say it; ok is false for another error.
func ValueFix(err error) (fix string, ok bool) {
	var invalid *pflag.InvalidValueError
	if !errors.As(err, &invalid) {
		return "", false
	}
	f := invalid.GetFlag()
	switch f.Value.Type() {
	case "int":
		return "not a whole number, e.g. " + exampleValue(f), true
	case "float32", "float64":
		return "not a number, e.g. " + exampleValue(f), true
	case "duration":
		return "not a duration, e.g. 90s, 10m or 1h30m", true
	case "bool":
		return "give true or false", true
	}
	return fmt.Sprint(errors.Unwrap(err)), true
}

// exampleValue is a value a numeric flag takes: its default, or 3.
func exampleValue(f *pflag.Flag) string {
	if f.DefValue != "" && f.DefValue != "0" {
		return f.DefValue
	}
	return "3"
}
