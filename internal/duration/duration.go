// Package duration is the one duration type of the stack file: written
// "30s", "2m", "1m30s" (k6's form, which Prometheus's also accepts), and
// read by time.ParseDuration.
package duration

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Duration marshals as "30s", "2m", "1m30s".
type Duration time.Duration

// MarshalJSON writes the short form.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads "30s", "2m", "1h30m".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration such as \"30s\" or \"2m\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want a duration such as \"30s\" or \"2m\", got %q", s)
	}
	*d = Duration(v)
	return nil
}

// String is the short form: "2m", "30s", "1m30s".
func (d Duration) String() string {
	s := time.Duration(d).String()
	s = strings.Replace(s, "m0s", "m", 1)
	s = strings.Replace(s, "h0m", "h", 1)
	return s
}
