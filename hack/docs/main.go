// Command docs writes the generated reference pages under docs/ (the
// command line, the action's inputs and outputs, the TestRun/TestCase API)
// from the code: `make docs`, from the module's root. `-check` writes
// nothing and exits 1 when a page differs from what the code generates.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/k8s-testrun/k8s-testrun/internal/app"
	"github.com/k8s-testrun/k8s-testrun/internal/docgen"
)

func main() {
	root := flag.String("root", ".", "the module's root directory")
	check := flag.Bool("check", false, "only check that the pages are up to date")
	flag.Parse()
	stale, err := run(*root, *check)
	if err != nil {
		fmt.Fprintln(os.Stderr, "docs:", err)
		os.Exit(2)
	}
	for _, p := range stale {
		fmt.Fprintf(os.Stderr, "docs: %s is out of date: run make docs\n", p)
	}
	if len(stale) > 0 {
		os.Exit(1)
	}
}

// pages returns each generated page by its path under root.
func pages(root string) (map[string][]byte, error) {
	action, err := os.ReadFile(filepath.Join(root, "action.yml"))
	if err != nil {
		return nil, err
	}
	actionPage, err := docgen.Action(action)
	if err != nil {
		return nil, err
	}
	apiPage, err := docgen.API(filepath.Join(root, "api", "v1alpha1"))
	if err != nil {
		return nil, err
	}
	return map[string][]byte{
		"docs/cli.md":    docgen.CLI(app.CommandTree()),
		"docs/action.md": actionPage,
		"docs/api.md":    apiPage,
	}, nil
}

// run writes the pages, or with check lists those that differ.
func run(root string, check bool) ([]string, error) {
	ps, err := pages(root)
	if err != nil {
		return nil, err
	}
	var stale []string
	for _, p := range []string{"docs/action.md", "docs/api.md", "docs/cli.md"} {
		path := filepath.Join(root, p)
		if check {
			have, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(have, ps[p]) {
				stale = append(stale, p)
			}
			continue
		}
		if err := os.WriteFile(path, ps[p], 0o644); err != nil {
			return nil, err
		}
	}
	return stale, nil
}
