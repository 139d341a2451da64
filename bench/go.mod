// Benchmark tools for Tollgate (issue 8): the upstream emulator and the load generator.
// Standard library only, so building them needs no module downloads.
module tollgate/bench

go 1.22
