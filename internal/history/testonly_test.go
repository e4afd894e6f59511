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

// Load reads commit's record; ok is false when the store has none.
func (s Store) Load(commit string) (Record, bool, error) {
	p, err := s.path(commit)
	if err != nil {
		return Record{}, false, err
	}
	return loadRecord(p)
}

// Previous is the newest record of branch other than commit's.
func (s Store) Previous(branch, commit string) (Entry, bool, error) {
	if branch == "" {
		return Entry{}, false, nil
	}
	return s.Resolve(branch, commit)
}
