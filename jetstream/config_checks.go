package jetstream

import (
	"fmt"

	"github.com/murmurmq/murmur/pubsub"
)

// Checks of stream and consumer configurations with nats-server 2.15's
// texts (server/stream.go checkStreamCfg, server/consumer.go
// checkConsumerCfg), compared in badinput_test.go.

const (
	maxNameLen        = 255      // JSMaxNameLen
	maxDescriptionLen = 4 * 1024 // JSMaxDescriptionLen
)

// nameTooLong reports a name longer than nats-server allows whose
// characters are otherwise valid (validName refuses both).
func nameTooLong(n string) bool {
	return len(n) > maxNameLen && validName(n[:maxNameLen]) && validName(n[maxNameLen:])
}

// checkSizes checks the name length and the description length.
func (c *StreamConfig) checkSizes() *APIError {
	if len(c.Name) > maxNameLen {
		return errStreamInvalidConfig.with("err", fmt.Sprintf("stream name is too long, maximum allowed is %d", maxNameLen))
	}
	if len(c.Description) > maxDescriptionLen {
		return errStreamInvalidConfig.with("err", fmt.Sprintf("stream description is too long, maximum allowed is %d", maxDescriptionLen))
	}
	return nil
}

// checkSubjects checks the stream's own subjects in nats-server's order:
// each valid, not capturing everything or the API without no_ack, and not
// overlapping another of the list (a literal duplicate is reported as an
// overlap, as nats-server does).
func (c *StreamConfig) checkSubjects() *APIError {
	seen := make(map[string]bool, len(c.Subjects))
	for i, s := range c.Subjects {
		if !pubsub.ValidSubject(s) {
			return errStreamInvalidConfig.with("err", "invalid subject")
		}
		if seen[s] {
			return errStreamInvalidConfig.with("err", "duplicate subjects detected")
		}
		if s == ">" && !c.NoAck {
			return errStreamInvalidConfig.with("err", "capturing all subjects requires no-ack to be true")
		}
		if !c.NoAck {
			for _, ns := range []string{"$JS.>", "$JSC.>", "$NRG.>"} {
				if pubsub.SubjectsCollide(s, ns) && !pubsub.SubjectIsSubset(s, "$JS.EVENT.>") {
					return errStreamInvalidConfig.with("err", "subjects that overlap with jetstream api require no-ack to be true")
				}
			}
			if pubsub.SubjectsCollide(s, "$SYS.>") && !pubsub.SubjectIsSubset(s, "$SYS.ACCOUNT.>") {
				return errStreamInvalidConfig.with("err", "subjects that overlap with system api require no-ack to be true")
			}
		}
		for _, t := range c.Subjects[i+1:] {
			if pubsub.SubjectsCollide(t, s) {
				return errStreamInvalidConfig.with("err", fmt.Sprintf("subject %q overlaps with %q", s, t))
			}
		}
		seen[s] = true
	}
	return nil
}

var (
	errConsumerEphemeralDurable = apiErr(400, 10020, "consumer expected to be ephemeral but a durable name was set in request")
	errConsumerNameTooLong      = apiErr(400, 10102, "consumer name is too long, maximum allowed is {max}")
	errConsumerDescTooLong      = apiErr(400, 10107, "consumer description is too long, maximum allowed is {max}")
)

// badName is the error for a consumer name or durable name n with a
// character nats-server refuses.
func (c *ConsumerConfig) badName(n string) *APIError {
	if n == c.Name {
		return errStreamInvalidConfig.with("err", `consumer name can not contain '.', '*', '>', '\', '/'`)
	}
	return errStreamInvalidConfig.with("err", `consumer durable name can not contain '.', '*', '>', '\', '/'`)
}

// checkSizes checks the description and name lengths. A durable name
// over 255 is 10102; a longer name of a consumer that is not durable is
// what nats-server's file store answers when it cannot make the
// consumer's directory (its name is the directory's).
func (c *ConsumerConfig) checkSizes() *APIError {
	if len(c.Description) > maxDescriptionLen {
		return errConsumerDescTooLong.with("max", maxDescriptionLen)
	}
	if len(c.Durable) > maxNameLen {
		return errConsumerNameTooLong.with("max", maxNameLen)
	}
	if len(c.Name) > maxNameLen {
		return apiErr(500, 10012, "error creating store for consumer")
	}
	return nil
}

// errInsufficientResources refuses a publish once the server's storage
// limit is passed (nats-server's JSInsufficientResourcesErr).
var errInsufficientResources = apiErr(503, 10023, "insufficient resources")
