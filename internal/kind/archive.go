package kind

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
)

// ControlPlane is the container name of a kind cluster's (first)
// control-plane node.
func ControlPlane(cluster string) string { return cluster + "-control-plane" }

// AuditLogPath is where the kind configuration of k8s-testrun's docs has
// the API server write its audit log, in the control-plane node.
const AuditLogPath = "/var/log/kubernetes/kube-apiserver-audit.log"

// ReadFile streams one regular file out of a container through the
// engine's archive endpoint (what `docker cp` uses): the engine sends a tar
// of the path, and the returned reader is the file's bytes inside it, read
// as they arrive. ctx bounds the whole read, not only its start, and the
// caller closes the reader.
func (d *Docker) ReadFile(ctx context.Context, container, file string) (io.ReadCloser, error) {
	prefix, err := d.apiPrefix(ctx)
	if err != nil {
		return nil, err
	}
	p := prefix + "/containers/" + url.PathEscape(container) + "/archive?path=" + url.QueryEscape(file)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker"+p, nil)
	if err != nil {
		return nil, err
	}
	// The file may be large: no overall timeout but ctx's.
	resp, err := (&http.Client{Transport: d.client.Transport}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("docker engine at %s: %w", d.socket, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, fmt.Errorf("reading %s in container %s: %w", file, container, engineError(resp))
	}
	tr := tar.NewReader(resp.Body)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			resp.Body.Close()
			return nil, fmt.Errorf("reading %s in container %s: the engine's archive holds no file %s", file, container, path.Base(file))
		}
		if err != nil {
			resp.Body.Close()
			return nil, fmt.Errorf("reading %s in container %s: %w", file, container, err)
		}
		if h.Typeflag == tar.TypeReg && path.Base(h.Name) == path.Base(file) {
			return struct {
				io.Reader
				io.Closer
			}{tr, resp.Body}, nil
		}
	}
}
