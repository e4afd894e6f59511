package plan

// Prepare derives once what every evaluation of the spec needs, so that a
// driver evaluating a large run many times does not derive it each time.
// The spec's cases and units must not change afterwards.
func (s *Spec) Prepare() {
	s.index = nil
	s.index = s.derive()
}
