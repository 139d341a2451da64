SHELL := /bin/bash
PORT ?= 8080
ADMIN_PORT ?= 9090
QUICKSTART := examples/quickstart

.PHONY: run install build test test-integration typecheck crds cluster-up cluster-down clean

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

install: node_modules/.package-lock.json

# On the lock file npm ci writes, not on the phony install: a phony prerequisite would compile again
# on every make that asks for the build (make test asked twice).
dist/cli/tollgate.js: node_modules/.package-lock.json $(shell find cli operator dataplane -name '*.ts' -not -name '*.test.ts')
	npx tsc -p tsconfig.build.json
	npx tsc -p operator/console/web/tsconfig.json

build: dist/cli/tollgate.js

## Start the gateway on the embedded quickstart (mock provider; OpenAI too when OPENAI_API_KEY is set),
## with the admin port: the usage console at http://127.0.0.1:$(ADMIN_PORT)/console/ (docs/console.md).
run: build
	@mkdir -p .cache/quickstart
	@cp $(QUICKSTART)/*.yaml .cache/quickstart/
	@if [ -n "$$OPENAI_API_KEY" ]; then \
	  printf 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: openai\nstringData:\n  apiKey: "%s"\n' "$$OPENAI_API_KEY" > .cache/quickstart/openai-secret.yaml; \
	else rm -f .cache/quickstart/openai-secret.yaml; \
	  echo "OPENAI_API_KEY is not set: the gpt-4o-mini route falls back to the mock provider."; fi
	node dist/cli/tollgate.js dev -f .cache/quickstart --port $(PORT) --admin-port $(ADMIN_PORT)

typecheck: install
	npx tsc -p tsconfig.json --noEmit
	npx tsc -p operator/console/web/tsconfig.json --noEmit

## Regenerate crds/ from the zod schemas in operator/api.
crds: install
	npx tsx operator/api/generate-crds.ts crds
	$(MAKE) docs

## Unit and end-to-end tests, the integration suite against a real kube-apiserver + etcd, then the
## real-node suite (make e2e, as root). Each part prints how long it took.
test: install typecheck build redis otelcol seaweedfs chromium
	@t=$$(date +%s); npx vitest run || exit 1; echo "[make test] unit and e2e: $$(( $$(date +%s) - t )) s"
	@t=$$(date +%s); $(MAKE) test-integration || exit 1; echo "[make test] integration: $$(( $$(date +%s) - t )) s"
	@t=$$(date +%s); $(MAKE) e2e || exit 1; echo "[make test] real node: $$(( $$(date +%s) - t )) s"

## Chromium from Debian's packages for the console tests (driven by playwright-core; no browser download).
.PHONY: chromium
chromium:
	bash test/console/ensure-chromium.sh

## Prometheus from Debian's packages: the integration test that runs every panel query of the chart's dashboard.
.PHONY: prometheus
prometheus:
	bash test/prometheus/ensure-prometheus.sh

## redis-server from Debian's packages for the Redis backend tests (they start their own on loopback).
.PHONY: redis seaweedfs
redis:
	bash test/redis/ensure-redis.sh

## OpenTelemetry Collector (OTLP receiver + file exporter) for test/telemetry, built from its Go modules
## with the collector's builder on first use and cached; a second run is a no-op.
.PHONY: otelcol
otelcol:
	bash test/otel/build.sh >/dev/null

## SeaweedFS (the S3-compatible server capture tests write to), built from its Go module on first use (cached; long on 2 cores).
seaweedfs:
	bash test/s3/build.sh >/dev/null

## Builds kube-apiserver and etcd on first use (cached), then runs test/integration: two files at a
## time, each in a private network namespace of its own (test/integration/run-lanes.ts).
test-integration: build chromium prometheus
	bash test/cluster/build.sh
	npx tsx test/integration/run-lanes.ts

## `make cluster-up` starts kube-apiserver + etcd only (the integration suite's cluster);
## `make cluster-up NODE=1` a real single node in the network namespace tollgate-node (see
## test/cluster/README.md). `make cluster-down` removes either.
cluster-up:
	@if [ "$(NODE)" = 1 ]; then bash test/cluster/node-up.sh; else bash test/cluster/up.sh; fi

cluster-down:
	@bash test/cluster/node-down.sh
	@bash test/cluster/down.sh

## The operator and DATAPLANES data planes (default 2) with their EndpointSlice against cluster-up's
## API server; PID files and logs in $${TMPDIR:-/tmp}/tollgate-cluster/local. Run inside
## test/integration/run-in-netns.sh bash (EndpointSlices refuse loopback). Stop: cluster-local-down.
DATAPLANES ?= 2
.PHONY: cluster-local cluster-local-down
cluster-local: build
	@bash test/cluster/local.sh up $(DATAPLANES)

cluster-local-down:
	@bash test/cluster/local.sh down

## tollgate:dev from the Dockerfile (and the e2e testkit image) with buildah on a locally made
## Debian + Node 20 base, no Docker daemon or registry; imported into the node's containerd when
## `make cluster-up NODE=1` runs. Cached by content.
.PHONY: image e2e
image:
	@bash test/cluster/image.sh

## The end-to-end suite on a real single node (test/node-e2e; docs/install.md describes its steps).
e2e: install
	bash test/node-e2e/run.sh

clean:
	rm -rf dist .cache

## Benchmarks (issue 8): Tollgate vs direct, nginx, Portkey and LiteLLM, report in bench/results/.
## BENCH_QUICK=1 for a smoke run (its report stays under bench/results/raw/); knobs: bench/README.md.
.PHONY: bench
## The product benchmark (issue 5/15 rows), then the content-policy costs the issues ask of `make bench`:
## guardrail request rules and stream hold-back (issue 17), capture Redacted at 100 % to a bucket (issue 16)
## and redaction of a 100 KB prompt.
bench: build seaweedfs
	bash bench/install.sh
	taskset -c $${BENCH_CLIENT_CORE:-1} node --import tsx bench/run.ts
	node --import tsx bench/guardrail-bench.ts
	node --import tsx bench/capture-ab.ts 4 8
	node --import tsx bench/redaction-bench.ts 100

## Guardrail cost (issue 17): request rules on a 10 KB prompt and the stream hold-back, A/B against a route
## without a policy in one run, ~3 min; report in bench/results/guardrails-<date>.md.
.PHONY: bench-guardrails
bench-guardrails:
	node --import tsx bench/guardrail-bench.ts

## vLLM pod selection (issue 9): round robin vs each podSelection strategy on four emulated pods with
## skewed load, ~2 min; report in bench/results/vllm-strategies-<date>.md (VLLM_BENCH_SECONDS=5: raw/).
.PHONY: bench-vllm
bench-vllm: build
	taskset -c $${BENCH_CLIENT_CORE:-1} node --import tsx bench/vllm-strategies.ts

## Control plane (issue 8): kubectl apply → first request served with 1 and 20 data-plane processes,
## on a real kube-apiserver + etcd in a private network namespace, ~2 min; report in
## bench/results/apply-to-served-<date>.md (BENCH_TOLLGATE_ROOT: measure a clean export instead of dist/).
.PHONY: bench-apply
bench-apply: build
	bash test/cluster/build.sh >/dev/null
	test/integration/run-in-netns.sh node --import tsx bench/apply-to-served.ts

## Usage history (issue 18): 20 data planes' usage reports → the operator's UsageReport writes, then the
## console overview and tollgate spend over 30 days × 50 namespaces (real API server, Chromium, netns),
## ~5 min; report in bench/results/usage-history-<date>.md (USAGE_BENCH_SECONDS=10: raw/).
.PHONY: bench-usage
bench-usage: build chromium
	bash test/cluster/build.sh >/dev/null
	test/integration/run-in-netns.sh node --import tsx bench/usage-history.ts

# The usage channel's intake; USAGE_INTAKE_BEFORE=<older checkout with dist/ built> compares side by side.
.PHONY: bench-intake
bench-intake: build
	bash test/cluster/build.sh >/dev/null
	test/integration/run-in-netns.sh node --import tsx bench/usage-intake.ts

## The console's screenshots in docs/images/ (docs/console.md): tollgate dev on examples/console/ with a
## week of mixed traffic (its calendar moved by libfaketime), shot in Debian's Chromium; ~3 min.
.PHONY: console-screenshots
console-screenshots: build chromium
	bash tools/ensure-faketime.sh
	node --import tsx tools/console-screenshots.ts

## Helm chart (issue 7): lint it strictly with default values and with every optional feature on.
.PHONY: helm-lint docs
helm-lint:
	@helm="$$(bash test/cluster/build.sh | tail -n1)/bin/helm"; \
	"$$helm" lint --strict charts/tollgate --kube-version 1.32.0 && \
	"$$helm" lint --strict charts/tollgate --kube-version 1.32.0 -f charts/tollgate/ci/all-features-values.yaml

## Regenerate docs/configuration.md, docs/crd-reference.md and charts/tollgate/crds/ (after `make crds`
## or a change of the chart's values); a unit test fails while they are stale.
docs: install
	npx tsx tools/gen-docs.ts
