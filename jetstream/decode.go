package jetstream

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// decodeAPI reads an API request body as nats-server 2.15 does with
// `strict` on, its default (unmarshalRequest): the body is a stream of
// JSON values decoded in turn into v, so an empty body leaves v as it is;
// an unknown field is an error (`json: unknown field "x"`), and a syntax
// error names its offset. A field nats-server knows that Murmur has not
// built (notBuilt) is ignored rather than refused, so a client setting it
// gets what it got before strictness.
func decodeAPI(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	for {
		err := d.Decode(v)
		if err == io.EOF {
			return nil
		}
		if err == nil {
			continue
		}
		if f, ok := strings.CutPrefix(err.Error(), `json: unknown field "`); ok && notBuilt[strings.TrimSuffix(f, `"`)] {
			return json.Unmarshal(b, v)
		}
		var se *json.SyntaxError
		if errors.As(err, &se) {
			err = fmt.Errorf("%w at offset %d", err, se.Offset)
		}
		return err
	}
}

// decodeOptional is decodeAPI for a request whose body is optional (info,
// names, lists, purge, pause): as nats-server, a body that does not begin
// with '{' or '[' is not read at all.
func decodeOptional(b []byte, v any) error {
	t := bytes.TrimLeft(b, " \t\r\n")
	if len(t) == 0 || (t[0] != '{' && t[0] != '[') {
		return nil
	}
	return decodeAPI(b, v)
}

// notBuilt are configuration fields of nats-server 2.15 (and nats.go)
// that Murmur does not have: atomic and batched publish, counters,
// schedules, persist mode, templates, priority groups.
var notBuilt = map[string]bool{
	"allow_atomic": true, "allow_msg_counter": true, "allow_batched": true,
	"allow_msg_schedules": true, "template_owner": true, "persist_mode": true,
	"priority_timeout": true, "priority_groups": true, "priority_policy": true,
}
