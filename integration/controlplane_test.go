//go:build integration

// Package integration applies every shipped stack to a real Kubernetes
// control plane (etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler) with a kwok fake node, all on loopback, built from Go
// modules by hack/controlplane/build.sh. Run it with .ci/controlplane.sh,
// or: go test -tags integration ./integration/ (SKIP_CONTROLPLANE=1 skips).
package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cluster is the running control plane.
type cluster struct {
	dir        string
	bin        string
	kubeconfig string
	procs      []*proc
}

// proc is a started component; done closes when it exits.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
}

var cp *cluster

func TestMain(m *testing.M) {
	if os.Getenv("SKIP_CONTROLPLANE") != "" {
		fmt.Println("SKIP_CONTROLPLANE set: skipping the control-plane tests")
		os.Exit(0)
	}
	c, err := start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "start control plane:", err)
		if c != nil {
			c.stop()
		}
		os.Exit(1)
	}
	cp = c
	// Stop what was started also on Ctrl-C or a CI timeout.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() { <-sigs; c.stop(); os.Exit(2) }()
	code := m.Run()
	c.stop()
	os.Exit(code)
}

func repoRoot() string {
	wd, _ := os.Getwd()
	return filepath.Dir(wd)
}

func start() (*cluster, error) {
	build := exec.Command("bash", filepath.Join(repoRoot(), "hack", "controlplane", "build.sh"))
	build.Stderr = os.Stderr
	began := time.Now()
	out, err := build.Output()
	if err != nil {
		return nil, fmt.Errorf("build binaries: %w", err)
	}
	fmt.Printf("control plane binaries ready in %s\n", time.Since(began).Round(time.Second))
	dir, err := os.MkdirTemp("", "controlplane-")
	if err != nil {
		return nil, err
	}
	c := &cluster{dir: dir, bin: strings.TrimSpace(string(out))}
	began = time.Now()
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
	server := "https://127.0.0.1:" + strconv.Itoa(apiPort)
	if err := c.run("kube-apiserver", "--etcd-servers", etcdURL,
		"--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1", "--secure-port", strconv.Itoa(apiPort),
		"--tls-cert-file", pki.serverCert, "--tls-private-key-file", pki.serverKey, "--client-ca-file", pki.ca,
		"--service-account-issuer", "https://kubernetes.default.svc", "--service-account-key-file", pki.saPub,
		"--service-account-signing-key-file", pki.saKey, "--authorization-mode", "Node,RBAC",
		"--service-cluster-ip-range", "10.96.0.0/16", "--endpoint-reconciler-type", "none",
		"--cert-dir", filepath.Join(dir, "apiserver-certs"), "--v", "0"); err != nil {
		return c, err
	}
	c.kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(c.kubeconfig, []byte(kubeconfig(server, pki)), 0o600); err != nil {
		return c, err
	}
	if err := waitReady(server, pki, 60*time.Second); err != nil {
		return c, err
	}
	if err := c.run("kube-controller-manager", "--kubeconfig", c.kubeconfig, "--leader-elect=false",
		"--service-account-private-key-file", pki.saKey, "--root-ca-file", pki.ca,
		"--bind-address", "127.0.0.1", "--secure-port", strconv.Itoa(cmPort),
		"--controllers", "*,-node-ipam-controller", "--v", "0"); err != nil {
		return c, err
	}
	if err := c.run("kube-scheduler", "--kubeconfig", c.kubeconfig, "--leader-elect=false",
		"--bind-address", "127.0.0.1", "--secure-port", strconv.Itoa(schedPort), "--v", "0"); err != nil {
		return c, err
	}
	if err := c.run("kwok", "--kubeconfig", c.kubeconfig, "--config", filepath.Join(c.bin, "kwok-stages.yaml"), "--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector", "kwok.x-k8s.io/node=fake",
		"--cidr", "10.0.0.1/16", "--node-ip", "10.0.0.1"); err != nil {
		return c, err
	}
	if _, err := c.kubectlIn(fakeNode, "apply", "-f", "-"); err != nil {
		return c, fmt.Errorf("create the fake node: %w", err)
	}
	if _, err := c.kubectl("wait", "--for=condition=Ready", "node/kwok-node-0", "--timeout=60s"); err != nil {
		return c, fmt.Errorf("fake node not ready: %w", err)
	}
	time.Sleep(2 * time.Second) // a component that rejects its flags exits at once
	if err := c.alive(); err != nil {
		return c, err
	}
	fmt.Printf("control plane up in %s (%s)\n", time.Since(began).Round(100*time.Millisecond), server)
	return c, nil
}

// fakeNode is the one kwok node: big enough for every stack, labelled with
// a zone so topology spread constraints have something to spread over.
const fakeNode = `apiVersion: v1
kind: Node
metadata:
  name: kwok-node-0
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/hostname: kwok-node-0
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    topology.kubernetes.io/zone: zone-a
    type: kwok
status:
  allocatable: {cpu: "64", memory: 256Gi, pods: "250"}
  capacity: {cpu: "64", memory: 256Gi, pods: "250"}
`

// run starts a binary from the cache, logging to dir/<name>.log.
func (c *cluster) run(name string, args ...string) error {
	log, err := os.Create(filepath.Join(c.dir, name+".log"))
	if err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(c.bin, name), args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	c.procs = append(c.procs, p)
	return nil
}

// alive fails when a component has exited, with the end of its log.
func (c *cluster) alive() error {
	for _, p := range c.procs {
		select {
		case <-p.done:
			log, _ := os.ReadFile(filepath.Join(c.dir, p.name+".log"))
			if len(log) > 2000 {
				log = log[len(log)-2000:]
			}
			return fmt.Errorf("%s exited: %s", p.name, log)
		default:
		}
	}
	return nil
}

// stop kills everything started, newest first, by PID (process group).
func (c *cluster) stop() {
	for i := len(c.procs) - 1; i >= 0; i-- {
		p := c.procs[i]
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
	}
	c.procs = nil
	if os.Getenv("KEEP_CONTROLPLANE_LOGS") == "" {
		_ = os.RemoveAll(c.dir)
	} else {
		fmt.Println("control plane logs kept in", c.dir)
	}
}

func (c *cluster) kubectl(args ...string) (string, error) { return c.kubectlIn("", args...) }

// kubectlIn runs kubectl with stdin; the error carries kubectl's stderr
// (the API server's own message).
func (c *cluster) kubectlIn(stdin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, "kubectl"), append([]string{"--kubeconfig", c.kubeconfig}, args...)...)
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

type pkiFiles struct{ ca, serverCert, serverKey, adminCert, adminKey, saKey, saPub string }

// writePKI makes a CA, the API server's serving certificate, an admin
// client certificate (system:masters) and the service-account key pair.
func writePKI(dir string) (pkiFiles, error) {
	p := pkiFiles{}
	caKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return p, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "controlplane-ca"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return p, err
	}
	ca, _ := x509.ParseCertificate(caDER)
	write := func(name string, typ string, der []byte) (string, error) {
		path := filepath.Join(dir, name)
		return path, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
	}
	if p.ca, err = write("ca.crt", "CERTIFICATE", caDER); err != nil {
		return p, err
	}
	issue := func(name string, tmpl *x509.Certificate) (string, string, error) {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return "", "", err
		}
		tmpl.NotBefore, tmpl.NotAfter = now.Add(-time.Hour), now.Add(24*time.Hour)
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			return "", "", err
		}
		cert, err := write(name+".crt", "CERTIFICATE", der)
		if err != nil {
			return "", "", err
		}
		keyPath, err := write(name+".key", "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(key))
		return cert, keyPath, err
	}
	if p.serverCert, p.serverKey, err = issue("apiserver", &x509.Certificate{SerialNumber: big.NewInt(2),
		Subject:     pkix.Name{CommonName: "kube-apiserver"},
		DNSNames:    []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.96.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		return p, err
	}
	if p.adminCert, p.adminKey, err = issue("admin", &x509.Certificate{SerialNumber: big.NewInt(3),
		Subject:  pkix.Name{CommonName: "admin", Organization: []string{"system:masters"}},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return p, err
	}
	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return p, err
	}
	if p.saKey, err = write("sa.key", "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(saKey)); err != nil {
		return p, err
	}
	pub, _ := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	p.saPub, err = write("sa.pub", "PUBLIC KEY", pub)
	return p, err
}

func kubeconfig(server string, p pkiFiles) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: local
  cluster: {server: %s, certificate-authority: %s}
users:
- name: admin
  user: {client-certificate: %s, client-key: %s}
contexts:
- name: local
  context: {cluster: local, user: admin}
current-context: local
`, server, p.ca, p.adminCert, p.adminKey)
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
