package mockrun_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cirkelline/infra/internal/mockrun"
)

type thing struct{ pulumi.CustomResourceState }

// TestSecretsAreRedactedInEveryShape registers one resource whose inputs
// hold secrets of every shape a provider can receive, and checks the
// capture keeps each shape (so a reviewer sees which keys a Secret has)
// while no secret scalar survives anywhere.
func TestSecretsAreRedactedInEveryShape(t *testing.T) {
	const s = mockrun.SecretPlaceholder
	tests := []struct {
		name  string
		input pulumi.Input
		want  any
	}{
		{"secret string", pulumi.ToSecret(pulumi.String("hunter2-string")), s},
		{"secret number", pulumi.ToSecret(pulumi.Int(424242)), s},
		{"secret bool", pulumi.ToSecret(pulumi.Bool(true)), s},
		{"secret map keeps its keys", pulumi.ToSecret(pulumi.StringMap{"DATABASE_URL": pulumi.String("postgres://u:hunter2-map@db"), "JWT": pulumi.String("hunter2-jwt")}),
			map[string]any{"DATABASE_URL": s, "JWT": s}},
		{"secret list keeps its length", pulumi.ToSecret(pulumi.StringArray{pulumi.String("hunter2-a"), pulumi.String("hunter2-b")}), []any{s, s}},
		{"nested secret map", pulumi.ToSecret(pulumi.Map{"outer": pulumi.Map{"inner": pulumi.String("hunter2-nested"), "n": pulumi.Int(7)}}),
			map[string]any{"outer": map[string]any{"inner": s, "n": s}}},
		{"one secret value in a plain map", pulumi.Map{"plain": pulumi.String("visible"), "token": pulumi.ToSecret(pulumi.String("hunter2-token"))},
			map[string]any{"plain": "visible", "token": s}},
		{"secret output of an apply", pulumi.ToSecret(pulumi.String("a").ToStringOutput().ApplyT(func(v string) string { return v + "-hunter2-applied" })), s},
		{"plain value stays", pulumi.String("visible"), "visible"},
	}
	resources, err := mockrun.Capture("test", "unit", nil, nil, func(ctx *pulumi.Context) error {
		for i, tt := range tests {
			if err := ctx.RegisterResource("test:index:Thing", fmt.Sprintf("thing-%d", i), pulumi.Map{"value": tt.input}, &thing{}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(resources) != len(tests) {
		t.Fatalf("captured %d resources, registered %d", len(resources), len(tests))
	}
	byName := map[string]mockrun.Resource{}
	for _, r := range resources {
		byName[r.Name] = r
		if dump := fmt.Sprintf("%#v", r.Inputs); strings.Contains(dump, "hunter2") || strings.Contains(dump, "424242") {
			t.Errorf("%s leaks a secret: %s", r.Name, dump)
		}
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := byName[fmt.Sprintf("thing-%d", i)].Inputs["value"]
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("captured %#v, want %#v", got, tt.want)
			}
		})
	}
}
