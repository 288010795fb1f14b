package stacks

import (
	"encoding/json"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Redacted is how a secret value prints anywhere it is formatted.
const Redacted = "[secret]"

// Secret is a value read from Pulumi secret config. It never prints its
// value: fmt, %v, JSON and logs all show "[secret]".
type Secret struct{ value string }

// NewSecret wraps a secret value.
func NewSecret(v string) Secret { return Secret{value: v} }

// String returns "[secret]".
func (s Secret) String() string { return Redacted }

// GoString returns "[secret]", so %#v does not leak either.
func (s Secret) GoString() string { return Redacted }

// MarshalJSON writes "[secret]".
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }

// UnmarshalJSON reads a secret from structured config (set with
// `pulumi config set --secret --path`).
func (s *Secret) UnmarshalJSON(b []byte) error { return json.Unmarshal(b, &s.value) }

// IsZero reports whether the secret is unset.
func (s Secret) IsZero() bool { return s.value == "" }

// Reveal returns the value, for the checks that must read it.
func (s Secret) Reveal() string { return s.value }

// Input is the value as a Pulumi secret input: it stays encrypted in state
// and shows as [secret] in previews.
func (s Secret) Input() pulumi.StringInput {
	return pulumi.ToSecret(pulumi.String(s.value)).(pulumi.StringOutput)
}
