package config

import (
	"regexp"
	"strings"
)

// configMapName is what a ConfigMap's name may be: a DNS subdomain.
var configMapName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`)

// checkHistoryConfigMap checks --history-configmap: operator mode only,
// and a name the API server takes.
func checkHistoryConfigMap(c *Config, bad func(input, value, fix string)) {
	v := c.HistoryConfigMap
	switch {
	case c.Mode != ModeOperator:
		bad("history configmap", v, "is the operator's history store: give --mode operator, or --history DIR in direct mode")
	case len(v) > 253 || !configMapName.MatchString(v) || strings.Contains(v, ".."):
		bad("history configmap", v, "must be a ConfigMap name: lowercase letters, digits, '-' and '.', at most 253 characters")
	}
}
