// Package junit reads the JUnit XML that pytest writes for one test and
// writes the merged report of a whole run.
//
// pytest, run with -o junit_family=xunit1, puts file and line attributes on
// every testcase; the merged report keeps them, and adds testcase-level
// properties (pod, node, attempt, image digest, flaky). go-junit-report's
// junit.Testcase has neither, so this package defines its own Testsuites,
// Testsuite and Testcase. It reuses junit.Property as is. It does not reuse
// junit.Result and junit.Output: they carry their text as ",cdata", which
// encoding/xml neither fills when reading nor cleans when writing, and
// captured output routinely holds bytes XML forbids (terminal colour codes).
// Result and Output here use ",chardata", which reads pytest's text and
// writes such bytes as U+FFFD, so the report stays well-formed.
//
// The package is a leaf: standard library and go-junit-report only.
package junit

import (
	"encoding/xml"
	"fmt"
	"strconv"
	"time"

	gojunit "github.com/jstemmer/go-junit-report/v2/junit"
)

// Property is a name/value pair under <properties>.
type Property = gojunit.Property

// Names of the testcase properties in the merged report.
const (
	PropertyPod         = "k8s-testrun.pod"
	PropertyNode        = "k8s-testrun.node"
	PropertyAttempt     = "k8s-testrun.attempt"
	PropertyImageDigest = "k8s-testrun.image-digest"
	PropertyFlaky       = "k8s-testrun.flaky"
	// PropertyLane is the test's marker lane (serial, slow, flaky,
	// disruptive, or default), on every testcase of a run with lanes.
	PropertyLane = "k8s-testrun.lane"
)

// Testsuites is the document root. Parse accepts pytest's files with or
// without it; Write always writes it.
type Testsuites struct {
	XMLName  xml.Name    `xml:"testsuites"`
	Name     string      `xml:"name,attr,omitempty"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr,omitempty"`
	Suites   []Testsuite `xml:"testsuite"`
}

// Testsuite is one pytest session, or, in the merged report, one run.
type Testsuite struct {
	Name       string     `xml:"name,attr"`
	Tests      int        `xml:"tests,attr"`
	Failures   int        `xml:"failures,attr"`
	Errors     int        `xml:"errors,attr"`
	Skipped    int        `xml:"skipped,attr"`
	Time       string     `xml:"time,attr,omitempty"`      // seconds
	Timestamp  string     `xml:"timestamp,attr,omitempty"` // ISO 8601
	Hostname   string     `xml:"hostname,attr,omitempty"`
	Properties Properties `xml:"properties,omitempty"`
	Testcases  []Testcase `xml:"testcase"`
	SystemOut  *Output    `xml:"system-out,omitempty"`
	SystemErr  *Output    `xml:"system-err,omitempty"`
}

// Testcase is one test. Line is 1-based, as editors and annotations count;
// 0 means unknown.
type Testcase struct {
	Classname  string     `xml:"classname,attr"`
	Name       string     `xml:"name,attr"`
	File       string     `xml:"file,attr,omitempty"`
	Line       int        `xml:"line,attr,omitempty"`
	Time       string     `xml:"time,attr,omitempty"` // seconds
	Properties Properties `xml:"properties,omitempty"`
	Failure    *Result    `xml:"failure,omitempty"`
	Error      *Result    `xml:"error,omitempty"`
	Skipped    *Result    `xml:"skipped,omitempty"`
	SystemOut  *Output    `xml:"system-out,omitempty"`
	SystemErr  *Output    `xml:"system-err,omitempty"`
}

// Properties is a <properties> element. It marshals itself so that an empty
// list leaves no empty element behind, which a "properties>property" path
// would.
type Properties []Property

// MarshalXML writes the list inside its <properties> element.
func (p Properties) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	return e.EncodeElement(propertyList{Property: p}, start)
}

// UnmarshalXML reads a <properties> element.
func (p *Properties) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	var list propertyList
	if err := d.DecodeElement(&list, &start); err != nil {
		return err
	}
	*p = append(*p, list.Property...)
	return nil
}

type propertyList struct {
	Property []Property `xml:"property"`
}

// Result is a failure, error or skipped element: pytest puts the short reason
// in Message and the traceback or location in Text.
type Result struct {
	Message string `xml:"message,attr,omitempty"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

// Output is a system-out or system-err element.
type Output struct {
	Text string `xml:",chardata"`
}

// MarshalXML writes the text as a character data token, which keeps its line
// breaks as they are; a ",chardata" field would write them as "&#xA;".
func (r Result) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	if r.Message != "" {
		start.Attr = append(start.Attr, xml.Attr{Name: xml.Name{Local: "message"}, Value: r.Message})
	}
	if r.Type != "" {
		start.Attr = append(start.Attr, xml.Attr{Name: xml.Name{Local: "type"}, Value: r.Type})
	}
	return encodeText(e, start, r.Text)
}

// MarshalXML writes the text with its line breaks, as Result does.
func (o Output) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	return encodeText(e, start, o.Text)
}

func encodeText(e *xml.Encoder, start xml.StartElement, text string) error {
	if err := e.EncodeToken(start); err != nil {
		return err
	}
	if text != "" {
		if err := e.EncodeToken(xml.CharData(text)); err != nil {
			return err
		}
	}
	return e.EncodeToken(start.End())
}

// AddProperty appends a testcase property.
func (tc *Testcase) AddProperty(name, value string) {
	tc.Properties = append(tc.Properties, Property{Name: name, Value: value})
}

// Property returns the value of the first testcase property called name.
func (tc Testcase) Property(name string) (string, bool) {
	for _, p := range tc.Properties {
		if p.Name == name {
			return p.Value, true
		}
	}
	return "", false
}

// Duration reads the time attribute; a missing or malformed one is zero.
func (tc Testcase) Duration() time.Duration {
	return parseSeconds(tc.Time)
}

// Seconds formats d for a time attribute the way pytest does: seconds with
// three decimals.
func Seconds(d time.Duration) string {
	return fmt.Sprintf("%.3f", d.Seconds())
}

func parseSeconds(s string) time.Duration {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 {
		return 0
	}
	return time.Duration(f * float64(time.Second))
}

// PropertyTestID is the testcase property that holds pytest's node id in
// the merged report, so a later run (--rerun-failed) finds the test again
// without deriving it from classname and name.
const PropertyTestID = "k8s-testrun.test-id"

// PropertyNotAffected marks a test --affected-since left out; its value is
// the commit the test last passed at.
const PropertyNotAffected = "k8s-testrun.not-affected-since"
