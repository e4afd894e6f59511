package mutate

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

func sample(t *testing.T) map[string][]byte {
	t.Helper()
	src, err := os.ReadFile("testdata/sample.py")
	if err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{"pkg/sample.py": src}
}

// TestFuncs finds every function whose body has lines of its own, nested
// and async ones included, and none in strings or one-line defs.
func TestFuncs(t *testing.T) {
	files := sample(t)
	var got []string
	for _, f := range Funcs("pkg/sample.py", files["pkg/sample.py"]) {
		got = append(got, f.Name)
	}
	want := []string{"plain", "multi_line", "decorated", "gen", "fetch", "__init__", "outer", "inner", "value", "last"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("functions %v, want %v", got, want)
	}
}

// TestGenerateIsSeeded: the same seed gives the same mutations, another
// seed another choice.
func TestGenerateIsSeeded(t *testing.T) {
	files := sample(t)
	a, err := Generate(files, 6, 7)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Generate(files, 6, 7)
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("seed 7 twice:\n%v\n%v", a, b)
	}
	differs := false
	for seed := uint64(8); seed < 12 && !differs; seed++ {
		c, _ := Generate(files, 6, seed)
		differs = !reflect.DeepEqual(a, c)
	}
	if !differs {
		t.Fatal("seeds 7 to 11 all gave the same mutations")
	}
	if _, err := Generate(files, 11, 7); err == nil {
		t.Fatal("11 mutations of 10 functions: no error")
	}
}

// TestEachMutationChangesOneFunction applies every mutation the sample
// allows: the result has one line more, inserted at the top of the named
// function's body at its indentation, and every other function's text is
// unchanged but for the functions that enclose it.
func TestEachMutationChangesOneFunction(t *testing.T) {
	files := sample(t)
	src := files["pkg/sample.py"]
	before := Funcs("pkg/sample.py", src)
	kinds := map[Kind]int{}
	for seed := uint64(1); seed <= 20; seed++ {
		ms, err := Generate(files, len(before), seed)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, m := range ms {
			if seen[m.Name] {
				t.Fatalf("seed %d: %s mutated twice", seed, m.Name)
			}
			seen[m.Name] = true
			kinds[m.Kind]++
			if m.Name == "gen" && m.Kind != Raise {
				t.Fatalf("generator mutated by %s: a return at its top only ends it", m.Kind)
			}
			out := m.Apply(src)
			oldLines, newLines := strings.Split(string(src), "\n"), strings.Split(string(out), "\n")
			if len(newLines) != len(oldLines)+1 {
				t.Fatalf("%s: %d lines, want %d", m, len(newLines), len(oldLines)+1)
			}
			if got := newLines[m.Body]; got != m.Indent+m.Line || strings.TrimSpace(got) == "" {
				t.Fatalf("%s: line %d is %q", m, m.Body+1, got)
			}
			if !reflect.DeepEqual(append(append([]string{}, newLines[:m.Body]...), newLines[m.Body+1:]...), oldLines) {
				t.Fatalf("%s: more than one line changed", m)
			}
			after := Funcs("pkg/sample.py", out)
			if len(after) != len(before) {
				t.Fatalf("%s: %d functions after, %d before", m, len(after), len(before))
			}
			for k, f := range before {
				g := after[k]
				if g.Name != f.Name {
					t.Fatalf("%s: function %d is %s, was %s", m, k, g.Name, f.Name)
				}
				oldText := strings.Join(oldLines[f.Def:f.End], "\n")
				newText := strings.Join(newLines[g.Def:g.End], "\n")
				encloses := f.Def < m.Def && m.Def < f.End
				switch {
				case f.Def == m.Def:
					if g.End-g.Def != f.End-f.Def+1 || newLines[g.Body] != m.Indent+m.Line {
						t.Fatalf("%s: the mutated function spans %d-%d, was %d-%d", m, g.Def, g.End, f.Def, f.End)
					}
				case encloses:
				case oldText != newText:
					t.Fatalf("%s: %s changed too:\n%s", m, f.Name, newText)
				}
			}
		}
	}
	if kinds[Raise] == 0 || kinds[ReturnNone] == 0 {
		t.Fatalf("kinds %v: want both", kinds)
	}
}
