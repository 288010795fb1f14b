package rehearse

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// api is the few REST calls a rehearsal makes, over client-go's
// authenticated HTTP client (the typed clientset would link every API
// group into the program for four calls).
type api struct {
	client *http.Client
	host   string
}

func newAPI(kubeconfig string) (*api, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return &api{client: client, host: strings.TrimSuffix(cfg.Host, "/")}, nil
}

// get decodes the object at path (e.g. /apis/apps/v1/namespaces/x/deployments/y).
func (a *api) get(ctx context.Context, path string, query url.Values, into any) error {
	u := a.host + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	return a.do(ctx, http.MethodGet, u, nil, "", into)
}

// mergePatch applies a JSON merge patch to the object at path.
func (a *api) mergePatch(ctx context.Context, path string, patch any, into any) error {
	body, err := json.Marshal(patch)
	if err != nil {
		return err
	}
	return a.do(ctx, http.MethodPatch, a.host+path, body, "application/merge-patch+json", into)
}

func (a *api) do(ctx context.Context, method, u string, body []byte, contentType string, into any) error {
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, u, resp.Status, strings.TrimSpace(string(data)))
	}
	if into == nil {
		return nil
	}
	return json.Unmarshal(data, into)
}
