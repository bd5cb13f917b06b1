package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

func TestChat(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out, nil, []string{"alice", "bob", "carol"}); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	t.Log("\n" + out.String())
	for _, want := range []string{
		"alice  <- bob    broadcast hello everyone, bob here",
		"alice  <- carol  direct    psst alice, just you",
		"bob    <- alice  direct    psst bob, just you",
		"carol  <- bob    direct    psst carol, just you",
		"alice  sent 2, received 3, acks 3/3, failed 0",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if n := strings.Count(out.String(), "<-"); n != 9 {
		t.Errorf("%d messages printed, want 9", n)
	}
}
