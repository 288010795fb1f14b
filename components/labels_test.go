package components_test

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/cirkelline/infra/components"
)

// TestLabelValue: a value that fits is kept as it is (selectors of running
// stacks never change); a longer one becomes a valid label value of 63
// characters, the same each time and distinct for distinct values.
func TestLabelValue(t *testing.T) {
	if got := components.LabelValue("cirkelline-staging-cirkelline-backend"); got != "cirkelline-staging-cirkelline-backend" {
		t.Errorf("a value that fits changed: %q", got)
	}
	long := strings.Repeat("n", 57) + "-" + strings.Repeat("n", 57) + "-redis-env"
	a, b := components.LabelValue(long), components.LabelValue(long+"x")
	for _, v := range []string{a, b} {
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 || len(v) != 63 {
			t.Errorf("%q (%d characters): %v", v, len(v), errs)
		}
	}
	if a != components.LabelValue(long) || a == b {
		t.Errorf("not one value per input: %q, %q", a, b)
	}
	if got := components.LabelValue(strings.Repeat("a", 53) + "-----" + strings.Repeat("b", 20)); strings.Contains(got, "--") || len(validation.IsValidLabelValue(got)) > 0 {
		t.Errorf("the cut must not leave a trailing dash before the digest: %q", got)
	}
}
