package jetstream

import "github.com/murmurmq/murmur/pubsub"

var (
	errConsumerInvalidPolicy     = apiErr(400, 10094, "{err}")
	errConsumerOverlappingFilter = apiErr(400, 10138, "consumer subject filters cannot overlap")
)

// checkDeliverPolicy applies nats-server's rules on the start position
// options of each deliver policy, and on overlapping filters.
func (c *ConsumerConfig) checkDeliverPolicy() *APIError {
	for i, a := range c.FilterSubjects {
		for j, b := range c.FilterSubjects {
			if i != j && pubsub.SubjectIsSubset(a, b) {
				return errConsumerOverlappingFilter
			}
		}
	}
	badStart := func(dp, start string) *APIError {
		return errConsumerInvalidPolicy.with("err", "consumer delivery policy is deliver "+dp+", but optional start "+start+" is also set")
	}
	notSet := func(dp, what string) *APIError {
		return errConsumerInvalidPolicy.with("err", "consumer delivery policy is deliver "+dp+", but optional "+what+" is not set")
	}
	seq, at := c.OptStartSeq > 0, c.OptStartTime != nil
	switch c.DeliverPolicy {
	case "all", "last", "new", "last_per_subject":
		dp := map[string]string{"all": "all", "last": "last", "new": "new", "last_per_subject": "last per subject"}[c.DeliverPolicy]
		if seq {
			return badStart(dp, "sequence")
		}
		if at {
			return badStart(dp, "time")
		}
		if c.DeliverPolicy == "last_per_subject" && c.FilterSubject == "" && len(c.FilterSubjects) == 0 {
			return notSet(dp, "filter subject")
		}
	case "by_start_sequence":
		if !seq {
			return notSet("by start sequence", "start sequence")
		}
		if at {
			return badStart("by start sequence", "time")
		}
	case "by_start_time":
		if !at {
			return notSet("by start time", "start time")
		}
		if seq {
			return badStart("by start time", "start sequence")
		}
	}
	return nil
}
