package history

import "sort"

// Skipped lists a selection's skipped tests in order.
func (s Selection) Skipped() []string {
	out := make([]string, 0, len(s.Skip))
	for id := range s.Skip {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}
