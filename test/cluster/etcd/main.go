// Command etcd is the upstream etcd server, exactly as etcd's own main.go
// builds it.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
