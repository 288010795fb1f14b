package cache_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// redisServer is a real redis-server on a loopback port, started by a test.
type redisServer struct {
	t    testing.TB
	port int
	args []string
	cmd  *exec.Cmd
	// TLS is the client config for a TLS server (nil for plain TCP).
	TLS      *tls.Config
	Password string
	log      string        // the server's stdout and stderr
	exited   chan struct{} // closed when the process has exited
}

func (s *redisServer) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// requireRedisServer skips the test when redis-server is missing, except in
// CI (CI=true, as GitHub Actions and .ci/run set it), where a missing server
// is a failure (.ci/install-redis.sh installs it).
func requireRedisServer(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
			t.Fatalf("redis-server is not installed; CI must run .ci/install-redis.sh first")
		}
		t.Skip("redis-server not on PATH (apt-get install redis-server, or run .ci/install-redis.sh)")
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startRedis starts a plain redis-server; startTLSRedis one with TLS and
// requirepass, as ElastiCache runs.
func startRedis(t testing.TB) *redisServer {
	t.Helper()
	requireRedisServer(t)
	port := freePort(t)
	s := &redisServer{t: t, port: port, args: []string{"--port", strconv.Itoa(port)}}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

func startTLSRedis(t testing.TB, password string) *redisServer {
	t.Helper()
	requireRedisServer(t)
	dir := t.TempDir()
	caPool := writeCerts(t, dir)
	port := freePort(t)
	s := &redisServer{t: t, port: port, Password: password,
		TLS: &tls.Config{RootCAs: caPool, ServerName: "localhost", MinVersion: tls.VersionTLS12},
		args: []string{
			"--port", "0", "--tls-port", strconv.Itoa(port),
			"--tls-cert-file", filepath.Join(dir, "server.pem"), "--tls-key-file", filepath.Join(dir, "server-key.pem"),
			"--tls-ca-cert-file", filepath.Join(dir, "ca.pem"), "--tls-auth-clients", "no",
			"--requirepass", password,
		}}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// Start (re)starts the server on its port and waits until it accepts
// connections. When it exits or does not answer, the test fails with the
// server's own log (a redis-server built without TLS says so there).
func (s *redisServer) Start() {
	s.t.Helper()
	args := append([]string{"--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"}, s.args...)
	s.cmd = exec.Command("redis-server", args...)
	s.cmd.Dir = os.TempDir()
	logFile, err := os.CreateTemp("", "redis-test-*.log")
	if err != nil {
		s.t.Fatal(err)
	}
	defer logFile.Close()
	s.log = logFile.Name()
	s.t.Cleanup(func() { os.Remove(logFile.Name()) })
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start redis-server: %v", err)
	}
	exited := make(chan struct{})
	s.exited = exited
	go func(cmd *exec.Cmd) { _ = cmd.Wait(); close(exited) }(s.cmd)
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", s.Addr(), 100*time.Millisecond)
		if err == nil {
			conn.Close()
			return
		}
		select {
		case <-exited:
			s.t.Fatalf("redis-server %v exited: %s", args, s.logTail())
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server on %s did not start: %v\n%s", s.Addr(), err, s.logTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *redisServer) logTail() string {
	b, _ := os.ReadFile(s.log)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// Stop kills the server (an outage, not a clean shutdown).
func (s *redisServer) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// Pause freezes the server (SIGSTOP): it keeps its data and its port, but
// answers nothing, like Redis behind a network partition. Resume undoes it.
func (s *redisServer) Pause()  { s.signal(syscall.SIGSTOP) }
func (s *redisServer) Resume() { s.signal(syscall.SIGCONT) }

func (s *redisServer) signal(sig os.Signal) {
	s.t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("signal redis-server: %v", err)
	}
}

// writeCerts makes a CA and a localhost server certificate in dir.
func writeCerts(t testing.TB, dir string) *x509.CertPool {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	for name, block := range map[string]*pem.Block{
		"ca.pem": {Type: "CERTIFICATE", Bytes: caDER}, "server.pem": {Type: "CERTIFICATE", Bytes: der},
		"server-key.pem": {Type: "EC PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return pool
}
