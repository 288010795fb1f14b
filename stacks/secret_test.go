package stacks_test

import (
	"testing"

	"github.com/cirkelline/infra/internal/mockrun"
	"github.com/cirkelline/infra/stacks"
)

// A secret prints the same whether it comes from the stack config (stacks)
// or from a registered resource (the render's mocks), so a reviewer of the
// rendered manifests sees one placeholder.
func TestSecretPlaceholderIsTheRendersOwn(t *testing.T) {
	if stacks.Redacted != mockrun.SecretPlaceholder {
		t.Errorf("stacks.Redacted is %q, the render's placeholder %q", stacks.Redacted, mockrun.SecretPlaceholder)
	}
}
