package apicov

import (
	"context"
	"errors"
	"fmt"
	"sort"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/discovery"
)

// FetchUniverse reads every endpoint of the cluster from its OpenAPI: the
// v3 documents where served (one per group version and non-resource
// path), else the one v2 document. source says which.
func FetchUniverse(ctx context.Context, d discovery.DiscoveryInterface) (u *Universe, source string, err error) {
	paths, err := d.OpenAPIV3().Paths()
	if err == nil && len(paths) > 0 {
		names := make([]string, 0, len(paths))
		for p := range paths {
			names = append(names, p)
		}
		sort.Strings(names)
		var eps []Endpoint
		for _, p := range names {
			if err := ctx.Err(); err != nil {
				return nil, "", err
			}
			b, err := paths[p].Schema("application/json")
			if err != nil {
				return nil, "", fmt.Errorf("reading OpenAPI v3 document %s: %w", p, err)
			}
			got, err := ParseDocument(GroupVersionName(p), b)
			if err != nil {
				return nil, "", err
			}
			eps = append(eps, got...)
		}
		return NewUniverse(eps), "openapi/v3", nil
	}
	if err != nil && !apierrors.IsNotFound(err) {
		return nil, "", fmt.Errorf("reading the OpenAPI v3 index: %w", err)
	}
	b, err2 := d.RESTClient().Get().AbsPath("/openapi/v2").SetHeader("Accept", "application/json").Do(ctx).Raw()
	if err2 != nil {
		return nil, "", fmt.Errorf("reading the cluster's OpenAPI (v3: %w; v2: %w)", orNone(err), err2)
	}
	eps, err := ParseDocument("", b)
	if err != nil {
		return nil, "", err
	}
	for i := range eps {
		eps[i].GroupVersion = groupVersionOfPath(eps[i].Path)
	}
	return NewUniverse(eps), "openapi/v2", nil
}

func orNone(err error) error {
	if err == nil {
		return errors.New("no documents")
	}
	return err
}

// groupVersionOfPath names a v2 path's group version as the v3 documents
// are named.
func groupVersionOfPath(p string) string {
	segs := splitPath(p)
	switch n := versionPrefix(segs); n {
	case 2:
		return "core/" + segs[1]
	case 3:
		return segs[1] + "/" + segs[2]
	}
	switch {
	case len(segs) == 0:
		return "/"
	case len(segs) >= 2 && segs[0] == "apis":
		return "apis/" + segs[1]
	}
	return segs[0]
}
