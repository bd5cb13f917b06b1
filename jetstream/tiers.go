package jetstream

// Tiered limits: an account JWT may give its JetStream limits per replica
// tier ("R1", "R3", ...) instead of one set (jwt.JetStreamTieredLimits).
// Every stream here has one replica, so tier R1's limits are the
// account's; the account info then reports them as nats-server does: the
// top-level limits all zero and a "tiers" map holding R1's usage and
// limits.

// Tier is one tier's usage and limits in the account info, and the
// account's own at its top (nats-server JetStreamTier).
type Tier struct {
	Memory    uint64        `json:"memory"`
	Store     uint64        `json:"storage"`
	ResMemory uint64        `json:"reserved_memory"`
	ResStore  uint64        `json:"reserved_storage"`
	Streams   int           `json:"streams"`
	Consumers int           `json:"consumers"`
	Limits    AccountLimits `json:"limits"`
}

// tierInfo moves the limits of a tiered account into ai.Tiers.
func (e *Engine) tierInfo(ai *AccountInfo) {
	if ai.Limits.Tier == "" {
		return
	}
	ai.Tiers = map[string]Tier{ai.Limits.Tier: ai.Tier}
	ai.Limits = AccountLimits{}
}

// addTiers adds another broker's tier usage into ai (a gathered account
// info: the limits are the account's, the same on every broker).
func (ai *AccountInfo) addTiers(o *AccountInfo) {
	for name, ot := range o.Tiers {
		t, ok := ai.Tiers[name]
		if !ok {
			if ai.Tiers == nil {
				ai.Tiers = map[string]Tier{}
			}
			t.Limits = ot.Limits
		}
		t.add(&ot)
		ai.Tiers[name] = t
	}
}

// add adds another broker's usage of the tier into t.
func (t *Tier) add(o *Tier) {
	t.Memory += o.Memory
	t.Store += o.Store
	t.ResMemory += o.ResMemory
	t.ResStore += o.ResStore
	t.Streams += o.Streams
	t.Consumers += o.Consumers
}
