//go:build tools

// Package tools records the node components as dependencies so that `go mod tidy` keeps what they
// need. ../build.sh runs `go build k8s.io/kubernetes/cmd/<component>` from this directory when
// NODE=1 asks for a real node (see ../README.md). k8s.io/endpointslice v0.32.13 is not published,
// so go.mod replaces it with v0.32.12 (kube-proxy and the controller-manager import it).
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
