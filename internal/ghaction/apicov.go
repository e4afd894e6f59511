package ghaction

import (
	"fmt"
	"strings"

	"github.com/k8s-testrun/k8s-testrun/internal/apicov"
	"github.com/k8s-testrun/k8s-testrun/internal/config"
)

// apiCoverageSource is the api_coverage input as --api-coverage takes it:
// a file is relative to the workspace, local and kind:CLUSTER are kept.
func apiCoverageSource(workspace, v string) string {
	if v == "" || v == config.APICoverageLocal || strings.HasPrefix(v, config.APICoverageKindPrefix) {
		return v
	}
	return inWorkspace(workspace, v)
}

// Rows of the job summary's API coverage section.
const (
	apiCoverageMostHit = 10
	// maxAPICoverageMissing bounds the list of stable endpoints no test
	// hit; api-coverage.json has them all.
	maxAPICoverageMissing = 50
)

// apiCoverageSection adds the run's API coverage, after the tests: the
// endpoints hit of the cluster's universe by group/version, the most-hit
// endpoints and the stable endpoints no test hit. Endpoint paths come from
// the cluster (a CRD's among them) and are escaped like a test's name.
func apiCoverageSection(b *budget, r *apicov.Report) {
	if r == nil {
		return
	}
	b.section(fmt.Sprintf("#### API coverage\n\n**%d of %d endpoints (%s)** hit by the tests' pods, read from %s; %s has each test's endpoints and each endpoint's tests.\n\n",
		r.Hit, r.Universe, r.Percent(), code(r.Source), code(apicov.ReportFile)))
	for _, t := range r.Tests {
		if t.Grouped {
			b.item("Tests that ran in a grouped pod (a file, class or shard) each count their whole pod's endpoints.\n\n", "API coverage notes")
			break
		}
	}
	if gvs := r.HitGroupVersions(); len(gvs) > 0 {
		b.section("| Group/version | Hit | Endpoints | |\n| :-- | --: | --: | --: |\n")
		for _, g := range gvs {
			b.item(fmt.Sprintf("| %s | %d | %d | %s |\n", cell(g.Name), g.Hit, g.Endpoints, g.Percent()), "API group/versions")
		}
		b.add("\n")
	}
	if top := r.MostHit(apiCoverageMostHit); len(top) > 0 {
		b.section("| Most hit | Requests | Tests |\n| :-- | --: | --: |\n")
		for _, e := range top {
			b.item(fmt.Sprintf("| %s | %d | %d |\n", cell(e.Key), e.Hits, len(e.Tests)), "most-hit endpoints")
		}
		b.add("\n")
	}
	if miss := r.StableNotHit(); len(miss) > 0 {
		// One item, so that a summary out of room never leaves the
		// details element open.
		var d strings.Builder
		fmt.Fprintf(&d, "<details><summary>Stable endpoints no test hit (%d)</summary>\n\n", len(miss))
		for _, e := range miss[:min(len(miss), maxAPICoverageMissing)] {
			d.WriteString("- " + code(e.Key) + "\n")
		}
		if len(miss) > maxAPICoverageMissing {
			fmt.Fprintf(&d, "- and %d more, in %s\n", len(miss)-maxAPICoverageMissing, code(apicov.ReportFile))
		}
		d.WriteString("\n</details>\n\n")
		b.item(d.String(), "API coverage's list of unhit stable endpoints")
	}
}
