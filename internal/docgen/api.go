package docgen

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// API renders the custom resources' types from the Go files of dir (such
// as api/v1alpha1): each struct with its doc comment and every field with
// its JSON name, type, default, validation markers and comment, and each
// string type with its constants. Files named *_types.go come first, the
// TestRun's before the TestCase's, in the order the file declares them.
func API(dir string) ([]byte, error) {
	fset := token.NewFileSet()
	names, err := filepath.Glob(filepath.Join(dir, "*_types.go"))
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: no *_types.go files", dir)
	}
	// testrun before testcase: the run is what people write.
	sort.Slice(names, func(i, j int) bool { return names[i] > names[j] })
	var b bytes.Buffer
	b.WriteString(Generated)
	b.WriteString("\n# The TestRun and TestCase API (k8s-testrun.io/v1alpha1)\n\n")
	b.WriteString("Every type of the custom resources, from the comments of `api/v1alpha1`.\n")
	b.WriteString("How to install the operator and start runs: [operator.md](operator.md).\n")
	for _, name := range names {
		src, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		f, err := parser.ParseFile(fset, filepath.Base(name), src, parser.ParseComments)
		if err != nil {
			return nil, err
		}
		writeAPIFile(&b, f)
	}
	return b.Bytes(), nil
}

func writeAPIFile(b *bytes.Buffer, f *ast.File) {
	consts := constsByType(f)
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.TYPE {
			continue
		}
		for _, s := range gd.Specs {
			ts := s.(*ast.TypeSpec)
			doc := ts.Doc
			if doc == nil {
				doc = gd.Doc
			}
			text, _ := commentText(doc)
			switch t := ts.Type.(type) {
			case *ast.StructType:
				fmt.Fprintf(b, "\n## %s\n\n", ts.Name.Name)
				if text != "" {
					b.WriteString(text + "\n\n")
				}
				writeFields(b, t)
			default:
				fmt.Fprintf(b, "\n## %s\n\n", ts.Name.Name)
				fmt.Fprintf(b, "A `%s`.", exprString(ts.Type))
				if text != "" {
					b.WriteString(" " + text)
				}
				b.WriteString("\n")
				if cs := consts[ts.Name.Name]; len(cs) > 0 {
					b.WriteString("\nValues:\n\n")
					if cs[0] != "" {
						b.WriteString(cs[0] + "\n\n")
					}
					for _, c := range cs[1:] {
						b.WriteString(c + "\n")
					}
				}
			}
		}
	}
}

func writeFields(b *bytes.Buffer, st *ast.StructType) {
	n := 0
	for _, field := range st.Fields.List {
		name := jsonName(field)
		if name == "" {
			continue
		}
		text, markers := commentText(field.Doc)
		line := fmt.Sprintf("- `%s` (%s", name, exprString(field.Type))
		for _, m := range markers {
			line += ", " + m
		}
		line += ")"
		if text != "" {
			line += ": " + strings.Join(strings.Fields(text), " ")
		}
		b.WriteString(line + "\n")
		n++
	}
	if n == 0 {
		b.WriteString("No fields of its own.\n")
	}
}

// jsonName is the field's name in the resource, or "" for a field that
// has none of its own (inline, or left out).
func jsonName(field *ast.Field) string {
	if field.Tag == nil {
		return ""
	}
	tag, err := strconv.Unquote(field.Tag.Value)
	if err != nil {
		return ""
	}
	name, _, _ := strings.Cut(reflect.StructTag(tag).Get("json"), ",")
	if name == "-" {
		return ""
	}
	return name
}

// commentText splits a doc comment into its prose and the kubebuilder
// markers worth a reader's eye: default, required or optional, bounds,
// enums and CEL rules' messages.
func commentText(cg *ast.CommentGroup) (string, []string) {
	if cg == nil {
		return "", nil
	}
	var prose, markers []string
	for _, line := range strings.Split(cg.Text(), "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "+") {
			prose = append(prose, line)
			continue
		}
		if m := marker(line); m != "" {
			markers = append(markers, m)
		}
	}
	return strings.TrimSpace(strings.Join(prose, " ")), markers
}

func marker(line string) string {
	for _, p := range []struct{ prefix, name string }{
		{"+kubebuilder:default=", "default "},
		{"+kubebuilder:validation:Minimum=", "minimum "},
		{"+kubebuilder:validation:Maximum=", "maximum "},
		{"+kubebuilder:validation:MaxItems=", "items at most "},
		{"+kubebuilder:validation:MaxLength=", "length at most "},
		{"+kubebuilder:validation:Enum=", "one of "},
		{"+kubebuilder:validation:Pattern=", "pattern "},
	} {
		if v, ok := strings.CutPrefix(line, p.prefix); ok {
			return p.name + "`" + strings.Trim(v, "\"`") + "`"
		}
	}
	switch {
	case line == "+required":
		return "required"
	case line == "+optional":
		return "optional"
	case strings.HasPrefix(line, "+kubebuilder:validation:XValidation:") && strings.Contains(line, "message="):
		_, msg, _ := strings.Cut(line, "message=")
		return "checked: " + strings.Trim(msg, `"`)
	}
	return ""
}

// constsByType lists, per named type, the doc comment of its first const
// group, then its constants with their values and comments, as markdown
// items.
func constsByType(f *ast.File) map[string][]string {
	out := map[string][]string{}
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, s := range gd.Specs {
			vs := s.(*ast.ValueSpec)
			id, ok := vs.Type.(*ast.Ident)
			if !ok || len(vs.Values) != len(vs.Names) {
				continue
			}
			for i, v := range vs.Values {
				lit, ok := v.(*ast.BasicLit)
				if !ok {
					continue
				}
				item := "- `" + strings.Trim(lit.Value, `"`) + "`"
				if text, _ := commentText(vs.Doc); text != "" {
					item += ": " + text
				} else if text, _ := commentText(vs.Comment); text != "" {
					item += ": " + text
				}
				if _, ok := out[id.Name]; !ok && i == 0 {
					text, _ := commentText(gd.Doc)
					out[id.Name] = []string{text}
				}
				out[id.Name] = append(out[id.Name], item)
			}
		}
	}
	return out
}

func exprString(e ast.Expr) string {
	switch t := e.(type) {
	case *ast.Ident:
		return t.Name
	case *ast.StarExpr:
		return exprString(t.X)
	case *ast.SelectorExpr:
		return exprString(t.X) + "." + t.Sel.Name
	case *ast.ArrayType:
		return "[]" + exprString(t.Elt)
	case *ast.MapType:
		return "map[" + exprString(t.Key) + "]" + exprString(t.Value)
	default:
		return fmt.Sprintf("%T", e)
	}
}
