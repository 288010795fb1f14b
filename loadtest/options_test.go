package loadtest

import "testing"

func TestThresholdsUpperBound(t *testing.T) {
	th := Thresholds{
		"http_req_duration":                {"p(99)<5000", "p(95) <= 1500.5"},
		"http_req_duration{endpoint:chat}": {"p(95)<30000"},
		"http_req_failed":                  {"rate<0.01"},
		"checks":                           {"p(95)>10"},
	}
	for _, tt := range []struct {
		metric string
		p      float64
		want   float64
		ok     bool
	}{
		{"http_req_duration", 95, 1500.5, true},
		{"http_req_duration", 99, 5000, true},
		{"http_req_duration", 90, 0, false},
		{"http_req_duration{endpoint:chat}", 95, 30000, true},
		{"http_req_failed", 95, 0, false},
		{"checks", 95, 0, false}, // a lower bound is not an upper one
		{"missing", 95, 0, false},
	} {
		got, ok := th.UpperBound(tt.metric, tt.p)
		if got != tt.want || ok != tt.ok {
			t.Errorf("UpperBound(%s, %v) = %v, %v; want %v, %v", tt.metric, tt.p, got, ok, tt.want, tt.ok)
		}
	}
}
