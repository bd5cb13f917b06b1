package main

import "testing"

// TestScheduleKeeper: every kind comes once per round of six, and the
// keeper is never killed or lame-ducked but gets the other faults.
func TestScheduleKeeper(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		s := newSchedule(seed, 5)
		other := 0
		for round := 0; round < 50; round++ {
			seen := map[faultKind]bool{}
			for range allFaults {
				f := s.next()
				seen[f.Kind] = true
				if f.Broker == s.keeper {
					if restarts(f.Kind) {
						t.Fatalf("seed %d: %s on the keeper b%d", seed, f.Kind, s.keeper)
					}
					other++
				}
				if f.Broker < 0 || f.Broker >= 5 {
					t.Fatalf("seed %d: broker %d", seed, f.Broker)
				}
			}
			if len(seen) != len(allFaults) {
				t.Fatalf("seed %d round %d: kinds %v", seed, round, seen)
			}
		}
		if other == 0 {
			t.Fatalf("seed %d: the keeper got no fault at all", seed)
		}
	}
}
