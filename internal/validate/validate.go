// Package validate holds the error type every config check in this project
// returns: a field path, the offending value, what is wrong, and how to fix
// it. Checks collect these and join them, so a user sees every problem at
// once, before any resource is registered.
package validate

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	k8svalidation "k8s.io/apimachinery/pkg/util/validation"
)

// ErrInvalid is wrapped by every FieldError, so callers can test
// errors.Is(err, validate.ErrInvalid) without parsing messages.
var ErrInvalid = errors.New("invalid configuration")

// FieldError is one problem with one field.
type FieldError struct {
	// Path is the field's path in the stack config, e.g. "services[0].hpa.maxReplicas".
	Path string
	// Value is the offending value as the user wrote it (already redacted for secrets).
	Value any
	// Problem says what is wrong, e.g. "must be >= minReplicas (3)".
	Problem string
	// Fix says what to do about it; empty when the problem says it all.
	Fix string
}

func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString(e.Path)
	if e.Value != nil {
		fmt.Fprintf(&b, " (%v)", formatValue(e.Value))
	}
	b.WriteString(": ")
	b.WriteString(e.Problem)
	if e.Fix != "" {
		b.WriteString("; fix: ")
		b.WriteString(e.Fix)
	}
	return b.String()
}

// Unwrap lets errors.Is match ErrInvalid.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// MaxValueLength is how many characters of a value a problem shows; a
// longer one (a whole mapping given where a string was wanted) is cut.
const MaxValueLength = 80

func formatValue(v any) string {
	var s string
	switch v := v.(type) {
	case string:
		if r := []rune(v); len(r) > MaxValueLength {
			return fmt.Sprintf("%q… (%d characters)", string(r[:MaxValueLength]), len(r))
		}
		s = fmt.Sprintf("%q", v)
	default:
		s = fmt.Sprint(v)
	}
	if r := []rune(s); len(r) > MaxValueLength {
		return fmt.Sprintf("%s… (%d characters)", string(r[:MaxValueLength]), len(r))
	}
	return s
}

// Errors collects FieldErrors. Its zero value is ready to use.
type Errors struct{ errs []error }

// Add records a problem with path. value may be nil when there is nothing to show.
func (e *Errors) Add(path string, value any, problem, fix string) {
	e.errs = append(e.errs, &FieldError{Path: path, Value: value, Problem: problem, Fix: fix})
}

// Merge appends every error of err (which may be a joined error or nil).
func (e *Errors) Merge(err error) {
	if err == nil {
		return
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		e.errs = append(e.errs, j.Unwrap()...)
		return
	}
	e.errs = append(e.errs, err)
}

// Len reports how many problems were recorded.
func (e *Errors) Len() int { return len(e.errs) }

// List returns the recorded problems.
func (e *Errors) List() []error { return e.errs }

// Err returns every recorded problem joined, or nil.
func (e *Errors) Err() error { return errors.Join(e.errs...) }

// Join builds a field path: Join("services[0]", "hpa") == "services[0].hpa".
func Join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

// Index builds a list element path: Index("services", 2) == "services[2]".
func Index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// Key builds a map element path: Key("app.settings", "LOG_LEVEL") == "app.settings.LOG_LEVEL".
func Key(path, key string) string { return Join(path, key) }

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// DNSLabel checks a Kubernetes object name that must be an RFC 1123 label of
// at most max characters (63 at most; less when suffixes are appended).
func DNSLabel(errs *Errors, path, name string, max int) {
	switch {
	case name == "":
		errs.Add(path, nil, "is required", "set a lower-case DNS label such as \"cirkelline-backend\"")
	case len(name) > max:
		errs.Add(path, name, fmt.Sprintf("is %d characters long; at most %d fit once suffixes are added", len(name), max), fmt.Sprintf("shorten it to %d characters or fewer", max))
	case !dnsLabel.MatchString(name):
		errs.Add(path, name, "must be a lower-case RFC 1123 label (a-z, 0-9 and '-', starting and ending with an alphanumeric)", "use a name such as \"cirkelline-backend\"")
	}
}

// HTTPURL checks an absolute http or https URL, with a host: k6 needs both
// in BASE_URL, and a remote-write client to reach Prometheus.
func HTTPURL(errs *Errors, path, u, example string) {
	if parsed, err := url.Parse(u); err != nil || (parsed.Scheme != "http" && parsed.Scheme != "https") || parsed.Host == "" {
		errs.Add(path, u, "is not an absolute http(s) URL", fmt.Sprintf("write it with its scheme and host, e.g. %q", example))
	}
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// EnvName checks an environment variable name.
func EnvName(errs *Errors, path, name string) {
	if !envName.MatchString(name) {
		errs.Add(path, name, "is not a valid environment variable name", "use letters, digits and '_', not starting with a digit (e.g. LOG_LEVEL)")
	}
}

// OneOf checks that value is one of choices, and lists them when it is not.
func OneOf[T ~string](errs *Errors, path string, value T, choices ...T) {
	for _, c := range choices {
		if value == c {
			return
		}
	}
	names := make([]string, len(choices))
	for i, c := range choices {
		names[i] = fmt.Sprintf("%q", string(c))
	}
	errs.Add(path, string(value), "is not a valid choice", "use one of "+strings.Join(names, ", "))
}

// AnnotationKey checks an annotation key as the API server does
// (k8s.io/apimachinery pkg/api/validation ValidateAnnotations: a qualified
// name, case-insensitive): an optional DNS-subdomain prefix of at most 253
// characters and '/', then a name of at most 63 alphanumerics, '-', '_' or
// '.', starting and ending with an alphanumeric.
func AnnotationKey(errs *Errors, path, key string) {
	if msgs := k8svalidation.IsQualifiedName(strings.ToLower(key)); len(msgs) > 0 {
		errs.Add(path, key, "is not a valid annotation key: "+strings.Join(msgs, "; "),
			`use a key such as "alb.ingress.kubernetes.io/load-balancer-attributes" or "example.com/owner"`)
	}
}

// LabelKey checks a label key (k8s.io/apimachinery pkg/apis/meta/v1/validation
// ValidateLabels: a qualified name, case-sensitive).
func LabelKey(errs *Errors, path, key string) {
	if msgs := k8svalidation.IsQualifiedName(key); len(msgs) > 0 {
		errs.Add(path, key, "is not a valid label key: "+strings.Join(msgs, "; "),
			`use a key such as "app.kubernetes.io/name" or "team"`)
	}
}

// Under re-roots every FieldError in err under prefix: a library's
// "karpenter.role" becomes the stack file's "cluster.karpenter.role". The
// sentinels the FieldErrors were wrapped in are dropped (ErrInvalid still
// matches each). err without FieldErrors comes back as it is.
func Under(prefix string, err error) error {
	return Map(err, func(path string) string { return Join(prefix, path) })
}

// Map re-reports every FieldError in err at path(its path): the one place
// a caller renames the paths a library reports to the keys of the stack
// file they come from. The sentinels the FieldErrors were wrapped in are
// dropped (ErrInvalid still matches each). err without FieldErrors comes
// back as it is.
func Map(err error, path func(string) string) error {
	var found []error
	var walk func(error)
	walk = func(e error) {
		switch x := e.(type) {
		case *FieldError:
			c := *x
			c.Path = path(x.Path)
			found = append(found, &c)
		case interface{ Unwrap() []error }:
			for _, inner := range x.Unwrap() {
				walk(inner)
			}
		case interface{ Unwrap() error }:
			walk(x.Unwrap())
		}
	}
	if err == nil {
		return nil
	}
	walk(err)
	if len(found) == 0 {
		return err
	}
	return errors.Join(found...)
}
