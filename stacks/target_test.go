package stacks_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/cirkelline/infra/loadtest"
	"github.com/cirkelline/infra/stacks"
	"github.com/cirkelline/infra/stacks/stacktest"
)

// TestLoadTestTargetService: the service whose HPA a load test exercises,
// in a stack shaped like partypic's but listing the client first, so that
// "the first service" and "the service at /" would both be wrong for the
// ingress: the flows' requests go to /api, the server's route.
func TestLoadTestTargetService(t *testing.T) {
	for _, tt := range []struct {
		target, want string
	}{
		{`{"ingress":true}`, "server"},
		{`{"service":"client"}`, "client"},
		{`{"url":"https://shop.example.com"}`, "client"},
		{`{}`, "client"},
	} {
		src := stacktest.ProductionSource()
		src.Values["cirkelline:environment"] = "staging"
		src.Values["cirkelline:services"] = `[{"name":"client","image":"nginx:1.27"},{"name":"server","image":"ghcr.io/partypic/server:1.0.0"}]`
		src.Values["cirkelline:ingress"] = `{"hosts":["shop.example.com"],"certificateArn":"arn:aws:acm:eu-north-1:123456789012:certificate/abc-123",` +
			`"routes":[{"path":"/","service":"client"},{"path":"/api","service":"server"}]}`
		src.Values["cirkelline:loadtest"] = `{"enabled":true,"flow":"partypic","target":` + tt.target + `}`
		cfg, err := stacks.Load(src, project, "staging")
		if err != nil {
			t.Fatal(err)
		}
		if svc, _, ok := cfg.LoadTestTargetService(); !ok || svc.Name != tt.want {
			t.Errorf("target %s: exercises %q (found %t), want %q", tt.target, svc.Name, ok, tt.want)
		}
	}
}

// TestFlowsRequestUnderFlowRequestPath: every request of every shipped
// flow, but the health check, goes under stacks.FlowRequestPath, which
// picks the service an ingress target exercises.
func TestFlowsRequestUnderFlowRequestPath(t *testing.T) {
	request := regexp.MustCompile(`\$\{BASE_URL\}(?:\$\{([A-Z_]+)\}|(/[^` + "`" + `'"$?]*))`)
	for _, f := range loadtest.Flows() {
		script, err := f.Script()
		if err != nil {
			t.Fatal(err)
		}
		found := request.FindAllStringSubmatch(string(script), -1)
		if len(found) == 0 {
			t.Errorf("%s: no ${BASE_URL} request found", f)
		}
		for _, m := range found {
			path := m[2]
			if m[1] != "" {
				// const CHAT_PATH = __ENV.CHAT_PATH || '/api/chat';
				def := regexp.MustCompile(`const ` + m[1] + ` = __ENV\.` + m[1] + ` \|\| '([^']+)'`).FindStringSubmatch(string(script))
				if def == nil {
					t.Errorf("%s: no default for ${%s}", f, m[1])
					continue
				}
				path = def[1]
			}
			if path != "/health" && !strings.HasPrefix(path, stacks.FlowRequestPath) {
				t.Errorf("%s requests %s, not under %s", f, path, stacks.FlowRequestPath)
			}
		}
	}
}
