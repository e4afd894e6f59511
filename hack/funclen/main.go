// Command funclen prints the longest functions of the Go sources under the
// given directories (test files left out) and fails when one is longer
// than the limit.
//
//	go run ./hack/funclen [-top 10] [DIR...]   (default DIR: ./internal)
//
// A function's length is its lines from `func` to the closing brace; a
// function literal counts toward the function that holds it.
package main

import (
	"cmp"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Limit is the longest a function of internal/ may be. The target is 80
// lines; until every function is split down to it, Limit is the longest one
// left, so none grows longer and no new one comes in over it. Lower it as
// functions are split; never raise it.
const Limit = 80

func main() {
	top := flag.Int("top", 10, "how many of the longest functions to print")
	flag.Parse()
	dirs := flag.Args()
	if len(dirs) == 0 {
		dirs = []string{"./internal"}
	}
	if err := run(os.Stdout, dirs, *top, Limit); err != nil {
		fmt.Fprintln(os.Stderr, "funclen:", err)
		os.Exit(1)
	}
}

// Func is one function declaration and its length in lines.
type Func struct {
	Pos   token.Position
	Name  string
	Lines int
}

// run prints the top longest functions under dirs to w and returns an
// error naming those over limit.
func run(w io.Writer, dirs []string, top, limit int) error {
	var funcs []Func
	for _, dir := range dirs {
		found, err := Measure(dir)
		if err != nil {
			return err
		}
		funcs = append(funcs, found...)
	}
	slices.SortStableFunc(funcs, func(a, b Func) int {
		return cmp.Or(b.Lines-a.Lines, strings.Compare(a.Pos.Filename, b.Pos.Filename), a.Pos.Line-b.Pos.Line)
	})
	fmt.Fprintf(w, "the %d longest functions (limit %d lines, target 80):\n", min(top, len(funcs)), limit)
	for _, f := range funcs[:min(top, len(funcs))] {
		fmt.Fprintf(w, "%5d  %s:%d  %s\n", f.Lines, f.Pos.Filename, f.Pos.Line, f.Name)
	}
	var over []string
	for _, f := range funcs {
		if f.Lines > limit {
			over = append(over, fmt.Sprintf("%s (%s:%d, %d lines)", f.Name, f.Pos.Filename, f.Pos.Line, f.Lines))
		}
	}
	if len(over) > 0 {
		return fmt.Errorf("longer than %d lines: %s; split them", limit, strings.Join(over, ", "))
	}
	return nil
}

// Measure returns every function declared in the non-test Go files under
// dir.
func Measure(dir string) ([]Func, error) {
	fset := token.NewFileSet()
	var funcs []Func
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != dir && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		file, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		for _, decl := range file.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			start, end := fset.Position(fn.Pos()), fset.Position(fn.End())
			funcs = append(funcs, Func{Pos: start, Name: funcName(fn), Lines: end.Line - start.Line + 1})
		}
		return nil
	})
	return funcs, err
}

// funcName is fn's name, with its receiver's type for a method:
// "(*run).collect".
func funcName(fn *ast.FuncDecl) string {
	if fn.Recv == nil || len(fn.Recv.List) == 0 {
		return fn.Name.Name
	}
	recv := fn.Recv.List[0].Type
	if idx, ok := recv.(*ast.IndexExpr); ok { // generic receiver
		recv = idx.X
	}
	if idx, ok := recv.(*ast.IndexListExpr); ok {
		recv = idx.X
	}
	switch t := recv.(type) {
	case *ast.StarExpr:
		x := t.X
		if idx, ok := x.(*ast.IndexExpr); ok {
			x = idx.X
		}
		if idx, ok := x.(*ast.IndexListExpr); ok {
			x = idx.X
		}
		if id, ok := x.(*ast.Ident); ok {
			return "(*" + id.Name + ")." + fn.Name.Name
		}
	case *ast.Ident:
		return t.Name + "." + fn.Name.Name
	}
	return fn.Name.Name
}
