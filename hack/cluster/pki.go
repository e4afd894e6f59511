package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// pki is the cluster's certificate authority and the files it issued.
type pki struct {
	dir    string
	caCert *x509.Certificate
	caKey  crypto.Signer
}

func (p *pki) file(name string) string { return filepath.Join(p.dir, name) }

// loadOrCreatePKI keeps an existing CA and service-account key, so
// kubeconfigs handed out earlier stay valid across restarts, and creates
// them otherwise.
func (c *Cluster) loadOrCreatePKI() (*pki, error) {
	p := &pki{dir: c.path("pki")}
	if err := os.MkdirAll(p.dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating pki dir: %w", err)
	}
	cert, key, err := readPair(p.file("ca.crt"), p.file("ca.key"))
	if errors.Is(err, os.ErrNotExist) {
		cert, key, err = newCA("k8s-testrun-" + c.Name + "-ca")
		if err == nil {
			err = writePair(p.file("ca.crt"), p.file("ca.key"), cert, key)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("cluster CA: %w", err)
	}
	p.caCert, p.caKey = cert, key

	if _, err := os.Stat(p.file("sa.key")); errors.Is(err, os.ErrNotExist) {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("generating service-account key: %w", err)
		}
		if err := writeKey(p.file("sa.key"), k); err != nil {
			return nil, err
		}
		der, err := x509.MarshalPKIXPublicKey(k.Public())
		if err != nil {
			return nil, fmt.Errorf("encoding service-account public key: %w", err)
		}
		if err := writePEM(p.file("sa.pub"), "PUBLIC KEY", der, 0o644); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func newCA(cn string) (*x509.Certificate, crypto.Signer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generating CA key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("signing CA: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("parsing CA: %w", err)
	}
	return cert, key, nil
}

// certSpec describes a leaf certificate.
type certSpec struct {
	name   string // file name without extension
	cn     string
	orgs   []string
	server bool
	client bool
	dns    []string
	ips    []net.IP
}

// issue signs a fresh leaf certificate. Leaves are reissued at every start
// because the node name, node IP or ports may have changed.
func (p *pki) issue(s certSpec) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generating key for %s: %w", s.name, err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: s.cn, Organization: s.orgs},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		DNSNames:     s.dns,
		IPAddresses:  s.ips,
	}
	if s.server {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	}
	if s.client {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.caCert, key.Public(), p.caKey)
	if err != nil {
		return fmt.Errorf("signing %s: %w", s.name, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return fmt.Errorf("parsing %s: %w", s.name, err)
	}
	return writePair(p.file(s.name+".crt"), p.file(s.name+".key"), cert, key)
}

// kubeconfig writes a kubeconfig for the named client certificate, with the
// certificates embedded so the file can be copied anywhere.
func (p *pki) kubeconfig(path, user, server, certName string) error {
	caPEM, err := os.ReadFile(p.file("ca.crt"))
	if err != nil {
		return fmt.Errorf("reading CA: %w", err)
	}
	certPEM, err := os.ReadFile(p.file(certName + ".crt"))
	if err != nil {
		return fmt.Errorf("reading %s certificate: %w", certName, err)
	}
	keyPEM, err := os.ReadFile(p.file(certName + ".key"))
	if err != nil {
		return fmt.Errorf("reading %s key: %w", certName, err)
	}
	const name = "k8s-testrun"
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[name] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caPEM}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{ClientCertificateData: certPEM, ClientKeyData: keyPEM}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: user, Namespace: "default"}
	cfg.CurrentContext = name
	b, err := clientcmd.Write(*cfg)
	if err != nil {
		return fmt.Errorf("encoding kubeconfig %s: %w", path, err)
	}
	return writeFileAtomic(path, b, 0o600)
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		// crypto/rand does not fail on Linux; a clock-based serial is
		// still unique enough for a local CA.
		return big.NewInt(time.Now().UnixNano())
	}
	return n
}

func readPair(certPath, keyPath string) (*x509.Certificate, crypto.Signer, error) {
	cb, err := os.ReadFile(certPath)
	if err != nil {
		return nil, nil, err
	}
	kb, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, nil, err
	}
	cblock, _ := pem.Decode(cb)
	kblock, _ := pem.Decode(kb)
	if cblock == nil || kblock == nil {
		return nil, nil, fmt.Errorf("%s or %s is not PEM", certPath, keyPath)
	}
	cert, err := x509.ParseCertificate(cblock.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("parsing %s: %w", certPath, err)
	}
	key, err := x509.ParseECPrivateKey(kblock.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("parsing %s: %w", keyPath, err)
	}
	return cert, key, nil
}

func writePair(certPath, keyPath string, cert *x509.Certificate, key crypto.Signer) error {
	if err := writePEM(certPath, "CERTIFICATE", cert.Raw, 0o644); err != nil {
		return err
	}
	return writeKey(keyPath, key)
}

func writeKey(path string, key crypto.Signer) error {
	ec, ok := key.(*ecdsa.PrivateKey)
	if !ok {
		return fmt.Errorf("key for %s is %T, want ECDSA", path, key)
	}
	der, err := x509.MarshalECPrivateKey(ec)
	if err != nil {
		return fmt.Errorf("encoding key %s: %w", path, err)
	}
	return writePEM(path, "EC PRIVATE KEY", der, 0o600)
}

func writePEM(path, typ string, der []byte, perm os.FileMode) error {
	return writeFileAtomic(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), perm)
}

// issueAll issues every leaf the cluster needs and writes the component
// kubeconfigs.
func (c *Cluster) issueAll(p *pki, s State) error {
	loopback := net.ParseIP("127.0.0.1")
	nodeIP := net.ParseIP(s.NodeIP)
	specs := []certSpec{
		{
			name: "apiserver", cn: "kube-apiserver", server: true,
			// <name>-control-plane is the name kind's node has on the
			// kind network, where test/action reaches this API server.
			dns: []string{"localhost", s.NodeName, "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", c.Name + "-control-plane"},
			ips: []net.IP{loopback, nodeIP, net.ParseIP(serviceIP)},
		},
		// system:masters, so the kubelet's webhook authorizer lets the API
		// server read logs and exec.
		{name: "apiserver-kubelet-client", cn: "kube-apiserver-kubelet-client", orgs: []string{"system:masters"}, client: true},
		{name: "admin", cn: "kubernetes-admin", orgs: []string{"system:masters"}, client: true},
		{name: "controller-manager", cn: "system:kube-controller-manager", client: true},
		{name: "scheduler", cn: "system:kube-scheduler", client: true},
		// The Node authorizer recognises kubelets by this name and group.
		{name: "kubelet-client", cn: "system:node:" + s.NodeName, orgs: []string{"system:nodes"}, client: true},
		{
			name: "kubelet", cn: s.NodeName, server: true,
			dns: []string{s.NodeName, "localhost"},
			ips: []net.IP{loopback, nodeIP},
		},
	}
	for _, spec := range specs {
		if err := p.issue(spec); err != nil {
			return err
		}
	}
	server := fmt.Sprintf("https://127.0.0.1:%d", s.Ports.APIServer)
	for _, kc := range []struct{ path, user, cert string }{
		{c.kubeconfigPath(), "kubernetes-admin", "admin"},
		{c.path("controller-manager.kubeconfig"), "system:kube-controller-manager", "controller-manager"},
		{c.path("scheduler.kubeconfig"), "system:kube-scheduler", "scheduler"},
		{c.path("kubelet.kubeconfig"), "system:node:" + s.NodeName, "kubelet-client"},
	} {
		if err := p.kubeconfig(kc.path, kc.user, server, kc.cert); err != nil {
			return err
		}
	}
	return nil
}
