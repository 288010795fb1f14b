// Package controlplane starts the project's real Kubernetes control plane
// on loopback: etcd, kube-apiserver, kube-controller-manager (every
// controller, the HPA's included), kube-scheduler and kwok with one fake
// node, and optionally metrics-server behind the aggregation layer. The
// binaries come from hack/controlplane/build.sh (built from the Go module
// proxy, cached outside the repository). The integration tests and
// `rehearse` both use it.
package controlplane

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"sigs.k8s.io/yaml"
)

// Options choose what runs next to the core components.
type Options struct {
	// Root is the repository root (holds hack/controlplane/build.sh).
	Root string
	// BuildLog receives build.sh's progress. Default os.Stderr.
	BuildLog io.Writer
	// MetricsServer starts metrics-server and registers it as the
	// v1beta1.metrics.k8s.io APIService, and makes kwok serve kubelet's
	// resource metrics from pod annotations. Default false.
	MetricsServer bool
	// PodReadyDelay holds a new pod Pending this long before kwok marks it
	// Running and Ready (a real pod's start-up). Default 0: at once.
	PodReadyDelay time.Duration
	// KeepLogs leaves the working directory (each component's log) after
	// Stop. Default false.
	KeepLogs bool
	// Nodes are the kwok nodes to start with. Default: one node,
	// FakeNodeName, of 64 CPUs in zone-a, room for any stack.
	Nodes []Node
}

// Cluster is a running control plane.
type Cluster struct {
	// Dir holds the certificates, etcd's data and each component's log.
	Dir string
	// Bin holds the binaries.
	Bin string
	// Kubeconfig is an admin (system:masters) kubeconfig.
	Kubeconfig string
	// Server is the API server's URL.
	Server   string
	keepLogs bool
	// metrics: kwok serves kubelet's resource metrics, so nodes carry
	// metrics-server's path annotation.
	metrics bool
	mu      sync.Mutex
	procs   []*proc
}

// proc is a started component; done closes when it exits.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
}

// FakeNodeName is the one kwok node.
const FakeNodeName = "kwok-node-0"

// Build runs hack/controlplane/build.sh and returns the binaries' directory.
func Build(root string, log io.Writer) (string, error) {
	if log == nil {
		log = os.Stderr
	}
	build := exec.Command("bash", filepath.Join(root, "hack", "controlplane", "build.sh"))
	build.Stderr = log
	out, err := build.Output()
	if err != nil {
		return "", fmt.Errorf("build the control plane (hack/controlplane/build.sh): %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// Start builds (cached) and starts the control plane. On error, whatever
// was started is already stopped.
func Start(opts Options) (c *Cluster, err error) {
	bin, err := Build(opts.Root, opts.BuildLog)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "controlplane-")
	if err != nil {
		return nil, err
	}
	c = &Cluster{Dir: dir, Bin: bin, keepLogs: opts.KeepLogs, metrics: opts.MetricsServer}
	defer func() {
		if err != nil {
			c.Stop()
		}
	}()
	pki, err := writePKI(dir)
	if err != nil {
		return c, err
	}
	etcdPort, peerPort, apiPort, schedPort, cmPort := freePort(), freePort(), freePort(), freePort(), freePort()
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(etcdPort)
	if err := c.run("etcd", "--name", "default", "--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", "http://127.0.0.1:"+strconv.Itoa(peerPort),
		"--initial-advertise-peer-urls", "http://127.0.0.1:"+strconv.Itoa(peerPort),
		"--initial-cluster", "default=http://127.0.0.1:"+strconv.Itoa(peerPort),
		"--log-level", "error"); err != nil {
		return c, err
	}
	c.Server = "https://127.0.0.1:" + strconv.Itoa(apiPort)
	if err := c.run("kube-apiserver", "--etcd-servers", etcdURL,
		"--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1", "--secure-port", strconv.Itoa(apiPort),
		"--tls-cert-file", pki.serverCert, "--tls-private-key-file", pki.serverKey, "--client-ca-file", pki.ca,
		"--service-account-issuer", "https://kubernetes.default.svc", "--service-account-key-file", pki.saPub,
		"--service-account-signing-key-file", pki.saKey, "--authorization-mode", "Node,RBAC",
		"--service-cluster-ip-range", "10.96.0.0/16", "--endpoint-reconciler-type", "none",
		// The aggregation layer's front proxy (k8s.io/apiserver
		// pkg/server/options/authentication.go, kube-aggregator): the API
		// server proxies metrics.k8s.io to metrics-server with this client
		// certificate and the caller's identity in X-Remote-* headers, which
		// metrics-server trusts from the requestheader CA it reads from the
		// kube-system/extension-apiserver-authentication ConfigMap.
		"--requestheader-client-ca-file", pki.frontProxyCA, "--requestheader-allowed-names", "front-proxy-client",
		"--requestheader-username-headers", "X-Remote-User", "--requestheader-group-headers", "X-Remote-Group",
		"--requestheader-extra-headers-prefix", "X-Remote-Extra-",
		"--proxy-client-cert-file", pki.proxyClientCert, "--proxy-client-key-file", pki.proxyClientKey,
		"--cert-dir", filepath.Join(dir, "apiserver-certs"), "--v", "0"); err != nil {
		return c, err
	}
	c.Kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(c.Kubeconfig, []byte(kubeconfig(c.Server, pki)), 0o600); err != nil {
		return c, err
	}
	if err := waitReady(c.Server, pki, 60*time.Second); err != nil {
		return c, err
	}
	// The HPA controller runs with kube-controller-manager's defaults
	// (pkg/controller/podautoscaler/config/v1alpha1/defaults.go of
	// k8s.io/kubernetes v1.37.2): sync every 15 s, tolerance 0.1, CPU
	// initialization period 5 min, initial readiness delay 30 s.
	if err := c.run("kube-controller-manager", "--kubeconfig", c.Kubeconfig, "--leader-elect=false",
		"--service-account-private-key-file", pki.saKey, "--root-ca-file", pki.ca,
		"--bind-address", "127.0.0.1", "--secure-port", strconv.Itoa(cmPort),
		"--controllers", "*,-node-ipam-controller", "--v", "0"); err != nil {
		return c, err
	}
	if err := c.run("kube-scheduler", "--kubeconfig", c.Kubeconfig, "--leader-elect=false",
		"--bind-address", "127.0.0.1", "--secure-port", strconv.Itoa(schedPort), "--v", "0"); err != nil {
		return c, err
	}
	kwokConfig, err := c.kwokConfig(opts)
	if err != nil {
		return c, err
	}
	kwokArgs := []string{"--kubeconfig", c.Kubeconfig, "--config", kwokConfig, "--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector", "kwok.x-k8s.io/node=fake", "--cidr", "10.0.0.1/16"}
	if opts.MetricsServer {
		// metrics-server scrapes https://<InternalIP>:<status port><path>
		// (pkg/scraper/client/resource/client.go of metrics-server v0.8.0:
		// --kubelet-use-node-status-port, and the node annotation
		// metrics.k8s.io/resource-metrics-path, which Node.Object sets), so
		// the node's address is kwok's own server on loopback, which serves
		// the Metric's path (kwok's test/e2e/helper/node.go sets the same
		// annotation).
		kwokPort := freePort()
		kwokArgs = append(kwokArgs, "--node-ip", "127.0.0.1", "--node-port", strconv.Itoa(kwokPort),
			"--server-address", "127.0.0.1:"+strconv.Itoa(kwokPort),
			"--tls-cert-file", pki.serverCert, "--tls-private-key-file", pki.serverKey)
	} else {
		kwokArgs = append(kwokArgs, "--node-ip", "10.0.0.1")
	}
	if err := c.run("kwok", kwokArgs...); err != nil {
		return c, err
	}
	nodes := opts.Nodes
	if len(nodes) == 0 {
		nodes = []Node{{Name: FakeNodeName}}
	}
	if err := c.AddNodes(nodes...); err != nil {
		return c, fmt.Errorf("create the fake nodes: %w", err)
	}
	if opts.MetricsServer {
		if err := c.startMetricsServer(); err != nil {
			return c, err
		}
	}
	time.Sleep(2 * time.Second) // a component that rejects its flags exits at once
	if err := c.Alive(); err != nil {
		return c, err
	}
	return c, nil
}

// startMetricsServer runs metrics-server on loopback and registers it.
func (c *Cluster) startMetricsServer() error {
	port := freePort()
	// Flags: cmd/metrics-server/app/options of metrics-server v0.8.0; the
	// same set kwokctl runs it with (pkg/kwokctl/components/metrics_server.go
	// of kwok v0.8.0). Its serving certificate is self-signed in --cert-dir.
	if err := c.run("metrics-server", "--kubeconfig", c.Kubeconfig,
		"--authentication-kubeconfig", c.Kubeconfig, "--authorization-kubeconfig", c.Kubeconfig,
		"--bind-address", "127.0.0.1", "--secure-port", strconv.Itoa(port), "--cert-dir", filepath.Join(c.Dir, "metrics-server-certs"),
		"--kubelet-preferred-address-types", "InternalIP", "--kubelet-use-node-status-port", "--kubelet-insecure-tls",
		"--metric-resolution", "15s"); err != nil {
		return err
	}
	// The APIService of metrics-server's manifests/base/apiservice.yaml, its
	// Service an ExternalName: k8s.io/apiserver's proxy.ResolveCluster
	// (pkg/util/proxy/proxy.go, v0.37.2) turns an ExternalName Service into
	// https://<externalName>:<APIService port>, so no pod, endpoint or
	// kube-proxy is needed (kwokctl does the same:
	// pkg/kwokctl/components/metrics_server_manifest.go).
	registration := fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: metrics-server, namespace: kube-system}
spec: {type: ExternalName, externalName: localhost}
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1beta1.metrics.k8s.io}
spec:
  service: {name: metrics-server, namespace: kube-system, port: %d}
  group: metrics.k8s.io
  version: v1beta1
  insecureSkipTLSVerify: true
  groupPriorityMinimum: 100
  versionPriority: 100
`, port)
	if _, err := c.KubectlIn(registration, "apply", "-f", "-"); err != nil {
		return fmt.Errorf("register metrics-server: %w", err)
	}
	if _, err := c.Kubectl("wait", "--for=condition=Available", "apiservice/v1beta1.metrics.k8s.io", "--timeout=90s"); err != nil {
		return fmt.Errorf("metrics-server not available through the aggregation layer: %w", err)
	}
	return nil
}

// kwokConfig writes kwok's configuration: build.sh's stages (the pod-ready
// stage delayed by opts.PodReadyDelay) and, with metrics-server, kwok's
// ClusterResourceUsage and Metric.
func (c *Cluster) kwokConfig(opts Options) (string, error) {
	stages, err := os.ReadFile(filepath.Join(c.Bin, "kwok-stages.yaml"))
	if err != nil {
		return "", fmt.Errorf("kwok stages (written by hack/controlplane/build.sh): %w", err)
	}
	docs := splitYAML(string(stages))
	if opts.PodReadyDelay > 0 {
		found := false
		for i, d := range docs {
			var stage map[string]any
			if err := yaml.Unmarshal([]byte(d), &stage); err != nil {
				return "", fmt.Errorf("kwok stage %d: %w", i, err)
			}
			if meta, _ := stage["metadata"].(map[string]any); meta["name"] != "pod-ready" {
				continue
			}
			// Stage.spec.delay.durationMilliseconds (pkg/apis/v1alpha1/stage_types.go
			// of kwok v0.8.0): the pod stays as it is that long after it matches.
			spec, _ := stage["spec"].(map[string]any)
			spec["delay"] = map[string]any{"durationMilliseconds": opts.PodReadyDelay.Milliseconds()}
			out, err := yaml.Marshal(stage)
			if err != nil {
				return "", err
			}
			docs[i], found = string(out), true
		}
		if !found {
			return "", fmt.Errorf("kwok-stages.yaml has no pod-ready stage to delay: rebuild with hack/controlplane/build.sh")
		}
	}
	if opts.MetricsServer {
		metrics, err := os.ReadFile(filepath.Join(c.Bin, "kwok-metrics.yaml"))
		if err != nil {
			return "", fmt.Errorf("kwok metrics (written by hack/controlplane/build.sh): %w", err)
		}
		docs = append(docs, splitYAML(string(metrics))...)
	}
	path := filepath.Join(c.Dir, "kwok.yaml")
	return path, os.WriteFile(path, []byte(strings.Join(docs, "\n---\n")), 0o600)
}

func splitYAML(s string) []string {
	var docs []string
	for _, d := range strings.Split(s, "\n---") {
		if strings.TrimSpace(d) != "" {
			docs = append(docs, strings.TrimPrefix(d, "\n"))
		}
	}
	return docs
}

// run starts a binary from the cache, logging to Dir/<name>.log.
func (c *Cluster) run(name string, args ...string) error {
	log, err := os.Create(filepath.Join(c.Dir, name+".log"))
	if err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(c.Bin, name), args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); log.Close(); close(p.done) }()
	c.mu.Lock()
	c.procs = append(c.procs, p)
	c.mu.Unlock()
	return nil
}

// Alive fails when a component has exited, with the end of its log.
func (c *Cluster) Alive() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.procs {
		select {
		case <-p.done:
			log, _ := os.ReadFile(filepath.Join(c.Dir, p.name+".log"))
			if len(log) > 2000 {
				log = log[len(log)-2000:]
			}
			return fmt.Errorf("%s exited: %s", p.name, log)
		default:
		}
	}
	return nil
}

// Stop kills everything started, newest first, by PID (process group), and
// removes Dir unless KeepLogs. Safe to call more than once.
func (c *Cluster) Stop() {
	c.mu.Lock()
	procs := c.procs
	c.procs = nil
	c.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		p := procs[i]
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
	}
	if c.Dir == "" {
		return
	}
	if !c.keepLogs {
		_ = os.RemoveAll(c.Dir)
	} else if len(procs) > 0 {
		fmt.Fprintln(os.Stderr, "control plane logs kept in", c.Dir)
	}
}

// Kubectl runs kubectl against the cluster.
func (c *Cluster) Kubectl(args ...string) (string, error) { return c.KubectlIn("", args...) }

// KubectlIn runs kubectl with stdin; the error carries kubectl's stderr
// (the API server's own message).
func (c *Cluster) KubectlIn(stdin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(c.Bin, "kubectl"), append([]string{"--kubeconfig", c.Kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("kubectl %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out.String(), nil
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitReady(server string, p pkiFiles, within time.Duration) error {
	cert, err := tls.LoadX509KeyPair(p.adminCert, p.adminKey)
	if err != nil {
		return err
	}
	caPEM, _ := os.ReadFile(p.ca)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}}}}
	deadline := time.Now().Add(within)
	for {
		resp, err := client.Get(server + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("kube-apiserver not ready within %s: %v", within, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// ApplyCRDs installs the CustomResourceDefinitions among the files of crds
// matching pattern (e.g. an embedded "crds/*.yaml", copied unchanged from
// their project) and waits until the API server serves them, so objects of
// those kinds are validated against the real schemas.
func (c *Cluster) ApplyCRDs(crds fs.FS, pattern string) error {
	files, err := fs.Glob(crds, pattern)
	if err != nil || len(files) == 0 {
		return fmt.Errorf("no CRDs match %s: %v", pattern, err)
	}
	var names []string
	for _, f := range files {
		b, err := fs.ReadFile(crds, f)
		if err != nil {
			return err
		}
		// Server-side: these CRDs are larger than the last-applied
		// annotation client-side apply would write (262144 bytes).
		out, err := c.KubectlIn(string(b), "apply", "--server-side", "-o", "name", "-f", "-")
		if err != nil {
			return fmt.Errorf("apply %s: %v\n%s", f, err, out)
		}
		names = append(names, strings.Fields(out)...)
	}
	args := append([]string{"wait", "--for=condition=Established", "--timeout=60s"}, names...)
	if out, err := c.Kubectl(args...); err != nil {
		return fmt.Errorf("CRDs not established: %v\n%s", err, out)
	}
	return nil
}
