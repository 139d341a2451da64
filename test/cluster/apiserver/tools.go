//go:build tools

// Package tools only records the kube-apiserver main package as a dependency
// so that `go mod tidy` keeps everything it needs. build.sh runs
//
//	go build k8s.io/kubernetes/cmd/kube-apiserver
//
// from this directory.
package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
