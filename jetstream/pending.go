package jetstream

// numPendingFast is numPending without a scan when the store's summary
// gives it: an unfiltered consumer on a stream without interior gaps.
func (c *consumer) numPendingFast() (uint64, bool) {
	f := c.filters()
	if len(f) != 1 || !matchAny(f[0]) {
		return 0, false
	}
	st := c.stream.st.State()
	switch {
	case st.Msgs == 0 || c.state.NextSeq > st.LastSeq:
		return 0, true
	case c.state.NextSeq <= st.FirstSeq:
		return st.Msgs, true
	case st.Deleted == 0:
		return st.LastSeq - c.state.NextSeq + 1, true
	}
	return 0, false
}
