package coverage

import (
	"encoding/xml"
	"fmt"
	"io"
	"sort"
)

// cobertura is the part of coverage.py's XML report that is read back.
type cobertura struct {
	XMLName  xml.Name `xml:"coverage"`
	Packages []struct {
		Classes []struct {
			Filename string `xml:"filename,attr"`
			Lines    []struct {
				Number int `xml:"number,attr"`
				Hits   int `xml:"hits,attr"`
			} `xml:"lines>line"`
		} `xml:"classes>class"`
	} `xml:"packages>package"`
}

// maxReport bounds what ParseReport reads of a report.
const maxReport = 256 << 20

// ParseReport reads a Cobertura report as coverage.py writes it: per file,
// the lines measured and those that ran.
func ParseReport(r io.Reader) (Summary, error) {
	var doc cobertura
	if err := xml.NewDecoder(io.LimitReader(r, maxReport)).Decode(&doc); err != nil {
		return Summary{}, fmt.Errorf("reading the Cobertura report: %w", err)
	}
	byName := map[string]*File{}
	var s Summary
	for _, p := range doc.Packages {
		for _, c := range p.Classes {
			f := byName[c.Filename]
			if f == nil {
				f = &File{Name: c.Filename}
				byName[c.Filename] = f
			}
			for _, l := range c.Lines {
				f.Lines++
				if l.Hits > 0 {
					f.Covered++
					f.Executed = append(f.Executed, l.Number)
				}
			}
		}
	}
	for _, f := range byName {
		sort.Ints(f.Executed)
		s.Lines += f.Lines
		s.Covered += f.Covered
		s.Files = append(s.Files, *f)
	}
	sort.Slice(s.Files, func(i, j int) bool { return s.Files[i].Name < s.Files[j].Name })
	return s, nil
}
