package rehearse

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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

// errNotFound is what the API's 404 wraps.
var errNotFound = errors.New("not found")

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

// post creates body under path and returns the status code and the
// server's message when it refuses (an eviction a budget blocks is 429
// Too Many Requests, with the budget's reason).
func (a *api) post(ctx context.Context, path string, body any) (int, string, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return 0, "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.host+path, bytes.NewReader(b))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, "", err
	}
	var status struct {
		Message string `json:"message"`
	}
	_ = json.Unmarshal(data, &status)
	return resp.StatusCode, status.Message, nil
}

// delete removes the object at path; a missing one is no error.
func (a *api) delete(ctx context.Context, path string) error {
	err := a.do(ctx, http.MethodDelete, a.host+path, nil, "", nil)
	if errors.Is(err, errNotFound) {
		return nil
	}
	return err
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
	if resp.StatusCode == http.StatusNotFound {
		return fmt.Errorf("%s %s: %w", method, u, errNotFound)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, u, resp.Status, strings.TrimSpace(string(data)))
	}
	if into == nil {
		return nil
	}
	return json.Unmarshal(data, into)
}
