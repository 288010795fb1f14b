package controlplane

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

type pkiFiles struct {
	ca, serverCert, serverKey, adminCert, adminKey, saKey, saPub string
	frontProxyCA, proxyClientCert, proxyClientKey                string
}

// writePKI makes a CA, the API server's serving certificate (also kwok's),
// an admin client certificate (system:masters), the service-account key
// pair, and the aggregation layer's front-proxy CA with its client
// certificate (CN front-proxy-client, as kubeadm names it).
func writePKI(dir string) (pkiFiles, error) {
	p := pkiFiles{}
	now := time.Now()
	write := func(name string, typ string, der []byte) (string, error) {
		path := filepath.Join(dir, name)
		return path, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
	}
	newCA := func(name string, serial int64) (*x509.Certificate, *rsa.PrivateKey, string, error) {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, nil, "", err
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
			KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			return nil, nil, "", err
		}
		cert, _ := x509.ParseCertificate(der)
		path, err := write(name+".crt", "CERTIFICATE", der)
		return cert, key, path, err
	}
	issue := func(ca *x509.Certificate, caKey *rsa.PrivateKey, name string, tmpl *x509.Certificate) (string, string, error) {
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
	ca, caKey, caPath, err := newCA("controlplane-ca", 1)
	if err != nil {
		return p, fmt.Errorf("CA: %w", err)
	}
	p.ca = caPath
	if p.serverCert, p.serverKey, err = issue(ca, caKey, "apiserver", &x509.Certificate{SerialNumber: big.NewInt(2),
		Subject:     pkix.Name{CommonName: "kube-apiserver"},
		DNSNames:    []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.96.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		return p, err
	}
	if p.adminCert, p.adminKey, err = issue(ca, caKey, "admin", &x509.Certificate{SerialNumber: big.NewInt(3),
		Subject:  pkix.Name{CommonName: "admin", Organization: []string{"system:masters"}},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return p, err
	}
	fpCA, fpKey, fpPath, err := newCA("front-proxy-ca", 4)
	if err != nil {
		return p, fmt.Errorf("front-proxy CA: %w", err)
	}
	p.frontProxyCA = fpPath
	if p.proxyClientCert, p.proxyClientKey, err = issue(fpCA, fpKey, "front-proxy-client", &x509.Certificate{SerialNumber: big.NewInt(5),
		Subject:  pkix.Name{CommonName: "front-proxy-client"},
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
