package validate_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/cirkelline/infra/internal/validate"
)

func TestFieldErrorMessage(t *testing.T) {
	tests := []struct {
		name string
		err  validate.FieldError
		want string
	}{
		{"value, problem and fix", validate.FieldError{Path: "services[0].hpa.maxReplicas", Value: 2, Problem: "must be >= minReplicas (5)", Fix: "raise it"},
			"services[0].hpa.maxReplicas (2): must be >= minReplicas (5); fix: raise it"},
		{"strings are quoted", validate.FieldError{Path: "namespace", Value: "Cirkelline_NS", Problem: "must be a label"}, `namespace ("Cirkelline_NS"): must be a label`},
		{"long values are cut", validate.FieldError{Path: "services[0].name", Value: map[string]any{"a": strings.Repeat("x", 200)}, Problem: "has the wrong type"},
			"services[0].name (map[a:" + strings.Repeat("x", 74) + "… (207 characters)): has the wrong type"},
		{"long strings are cut inside their quotes", validate.FieldError{Path: "image", Value: strings.Repeat("y", 100), Problem: "is bad"},
			`image ("` + strings.Repeat("y", 80) + `"… (100 characters)): is bad`},
		{"no value to show", validate.FieldError{Path: "services", Problem: "must list at least one service", Fix: "add one"}, "services: must list at least one service; fix: add one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			if !errors.Is(&tt.err, validate.ErrInvalid) {
				t.Error("every FieldError wraps ErrInvalid")
			}
		})
	}
}

func TestErrorsCollectAndMerge(t *testing.T) {
	var inner validate.Errors
	inner.Add("a", 1, "is bad", "")
	inner.Add("b", nil, "is missing", "set it")
	var errs validate.Errors
	if errs.Err() != nil {
		t.Fatal("no problems, no error")
	}
	errs.Merge(nil)
	errs.Merge(inner.Err()) // a joined error is flattened, one problem each
	errs.Merge(errors.New("plain"))
	if errs.Len() != 3 {
		t.Fatalf("want 3 problems, got %d: %v", errs.Len(), errs.List())
	}
	var paths []string
	for _, e := range errs.List()[:2] {
		var fe *validate.FieldError
		if !errors.As(e, &fe) {
			t.Fatalf("%v is not a FieldError", e)
		}
		paths = append(paths, fe.Path)
	}
	if !reflect.DeepEqual(paths, []string{"a", "b"}) || errs.List()[2].Error() != "plain" {
		t.Errorf("order lost: %v", errs.List())
	}
	if got := errs.Err().Error(); got != "a (1): is bad\nb: is missing; fix: set it\nplain" {
		t.Errorf("joined %q", got)
	}
}

func TestPaths(t *testing.T) {
	if got := validate.Join(validate.Index("services", 2), "hpa"); got != "services[2].hpa" {
		t.Error(got)
	}
	if got := validate.Join("", "namespace"); got != "namespace" {
		t.Error(got)
	}
	if got := validate.Key("app.settings", "LOG_LEVEL"); got != "app.settings.LOG_LEVEL" {
		t.Error(got)
	}
}

func TestChecks(t *testing.T) {
	tests := []struct {
		name  string
		check func(*validate.Errors)
		want  string // "" for no problem
	}{
		{"label ok", func(e *validate.Errors) { validate.DNSLabel(e, "name", "cirkelline-backend", 63) }, ""},
		{"label empty", func(e *validate.Errors) { validate.DNSLabel(e, "name", "", 63) }, "name: is required"},
		{"label too long", func(e *validate.Errors) { validate.DNSLabel(e, "name", strings.Repeat("a", 55), 54) }, `name ("` + strings.Repeat("a", 55) + `"): is 55 characters long; at most 54 fit once suffixes are added; fix: shorten it to 54 characters or fewer`},
		{"label upper case", func(e *validate.Errors) { validate.DNSLabel(e, "name", "Backend", 63) }, `name ("Backend"): must be a lower-case RFC 1123 label`},
		{"label trailing dash", func(e *validate.Errors) { validate.DNSLabel(e, "name", "api-", 63) }, `name ("api-")`},
		{"env ok", func(e *validate.Errors) { validate.EnvName(e, "env.LOG_LEVEL", "LOG_LEVEL") }, ""},
		{"env digit first", func(e *validate.Errors) { validate.EnvName(e, "env.1X", "1X") }, `env.1X ("1X"): is not a valid environment variable name`},
		{"one of", func(e *validate.Errors) { validate.OneOf(e, "environment", "prod", "staging", "production") }, `environment ("prod"): is not a valid choice; fix: use one of "staging", "production"`},
		{"one of ok", func(e *validate.Errors) { validate.OneOf(e, "environment", "staging", "staging", "production") }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var errs validate.Errors
			tt.check(&errs)
			switch err := errs.Err(); {
			case tt.want == "" && err != nil:
				t.Errorf("want no problem, got %v", err)
			case tt.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.want)):
				t.Errorf("got %v, want it to start with %s", err, tt.want)
			}
		})
	}
}

func TestAnnotationAndLabelKeys(t *testing.T) {
	for _, tt := range []struct {
		key               string
		annotation, label bool // valid as
	}{
		{"alb.ingress.kubernetes.io/scheme", true, true},
		{"team", true, true},
		{"Example.com/Owner", true, false}, // annotation keys are checked lower-cased; a label prefix must be lower-case
		{"alb.ingress.kubernetes.io/", false, false},
		{"has space", false, false},
		{"a/b/c", false, false},
		{"-leading-dash", false, false},
		{strings.Repeat("n", 64), false, false},
	} {
		var a, l validate.Errors
		validate.AnnotationKey(&a, "ingress.annotations", tt.key)
		validate.LabelKey(&l, "labels", tt.key)
		if (a.Len() == 0) != tt.annotation || (l.Len() == 0) != tt.label {
			t.Errorf("%q: annotation ok %v (want %v), label ok %v (want %v): %v %v", tt.key, a.Len() == 0, tt.annotation, l.Len() == 0, tt.label, a.Err(), l.Err())
		}
	}
}

func TestUnder(t *testing.T) {
	var errs validate.Errors
	errs.Add("karpenter.role", "", "exactly one of role and instanceProfile must be set", "")
	errs.Add("karpenter.budget", "x", "is not a node count", "")
	sentinel := errors.New("capacity: invalid arguments")
	wrapped := fmt.Errorf("%w: %w", sentinel, errs.Err())
	got := validate.Under("cluster", wrapped)
	want := "cluster.karpenter.role (\"\"): exactly one of role and instanceProfile must be set\ncluster.karpenter.budget (\"x\"): is not a node count"
	if got.Error() != want || !errors.Is(got, validate.ErrInvalid) || errors.Is(got, sentinel) {
		t.Errorf("Under = %q (ErrInvalid %v); want %q, matching ErrInvalid only", got, errors.Is(got, validate.ErrInvalid), want)
	}
	if errs.List()[0].(*validate.FieldError).Path != "karpenter.role" {
		t.Errorf("Under changed the original FieldError")
	}
	plain := errors.New("no field")
	if validate.Under("cluster", plain) != plain || validate.Under("cluster", nil) != nil {
		t.Errorf("errors without FieldErrors must come back as they are")
	}
}
