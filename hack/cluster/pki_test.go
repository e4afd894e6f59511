package main

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The API server's certificate names kind's control-plane node, so that
// test/action reaches it on the kind network by kind's name.
func TestAPIServerCertificateNamesControlPlaneNode(t *testing.T) {
	c := &Cluster{Name: "ktr", Dir: t.TempDir()}
	p, err := c.loadOrCreatePKI()
	require.NoError(t, err)
	require.NoError(t, c.issueAll(p, State{NodeIP: "192.0.2.2", NodeName: "node1", Ports: Ports{APIServer: 6443}}))
	b, err := os.ReadFile(filepath.Join(c.Dir, "pki", "apiserver.crt"))
	require.NoError(t, err)
	block, _ := pem.Decode(b)
	require.NotNil(t, block)
	cert, err := x509.ParseCertificate(block.Bytes)
	require.NoError(t, err)
	assert.Contains(t, cert.DNSNames, "ktr-control-plane")
	assert.Contains(t, cert.DNSNames, "localhost")
	assert.NoError(t, cert.VerifyHostname("ktr-control-plane"))
}
