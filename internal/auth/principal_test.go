package auth

import (
	"context"
	"testing"
)

func TestPrincipalFrom(t *testing.T) {
	if p, ok := PrincipalFrom(context.Background()); ok || p != "" {
		t.Fatalf("empty context: %q, %v", p, ok)
	}
	ctx := WithPrincipal(context.Background(), "ops")
	if p, ok := PrincipalFrom(ctx); !ok || p != "ops" {
		t.Fatalf("got %q, %v; want ops", p, ok)
	}
}
