// The pod sandbox ("pause") binary of the real-node cluster (see ../build.sh --node).
module tollgate.local/test/cluster/pause

go 1.23.0
