# alloy-curated: stock Grafana Alloy plus loki.source.curated_api.
ALLOY_VERSION  := v1.19.0
LOKI_VERSION   := v3.7.8
MODULE         := github.com/grafana/alloy/curated
SHELL          := /bin/bash
# One flag set for every go command (build, vet, test), so they share one
# build cache: a cold Alloy compile costs ~16 min and must happen only once.
# CGO off makes bin/alloy-custom static, so the same binary the tests run is
# the one the image smoke test packs into a FROM scratch image.
export GOFLAGS     := -trimpath
export CGO_ENABLED := 0

GIT_REVISION   := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
GIT_BRANCH     := $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null || echo unknown)
VERSION        ?= $(ALLOY_VERSION)-curated.$(GIT_REVISION)
BUILD_PKG      := github.com/grafana/alloy/internal/build
LDFLAGS        := -s -w -X $(BUILD_PKG).Version=$(VERSION) -X $(BUILD_PKG).Revision=$(GIT_REVISION) \
                  -X $(BUILD_PKG).Branch=$(GIT_BRANCH) -X $(BUILD_PKG).BuildUser=alloy-curated \
                  -X $(BUILD_PKG).BuildDate=$(shell date -u +%Y-%m-%dT%H:%M:%SZ)
GO_SOURCES     := $(shell find . -name '*.go' -not -name '*_test.go' -not -path './tools/*' -not -path './deploy/*' -not -path './sdk/*' -not -path './dashboards/*' -not -path './bin/*' -not -path './e2e/*' 2>/dev/null) go.mod go.sum

ALLOY_RUN_FLAGS := --stability.level=public-preview --disable-reporting

FUZZTIME       ?= 5m

.PHONY: all build run loki alertmanager up image image-local push-images dashboards sdk-js sdk-js-sizes test test-unit test-sdk test-sdk-js test-dashboards test-deploy test-e2e test-faults test-loki-ha lint erase fuzz bench bench-alerts scenarios deps clean

all: build

## build: compile bin/alloy-custom (cold: ~16 min and ~7 GB RAM; warm: ~1 min).
build: bin/alloy-custom bin/curated-erase

# The binary takes the time the build started: a source edited during the
# (long) build is newer than it, so the next make builds again.
bin/alloy-custom: $(GO_SOURCES)
	@mkdir -p bin .cache
	@touch .cache/build-start
	go build -ldflags "$(LDFLAGS)" -o $@ ./cmd/alloy-custom
	@touch -r .cache/build-start $@

bin/curated-erase: $(GO_SOURCES)
	@mkdir -p bin
	go build -ldflags "-s -w" -o $@ ./cmd/curated-erase

## run: build and start on configs/local.alloy (API on 127.0.0.1:8080, entries echoed to the log).
run: bin/alloy-custom
	@mkdir -p .cache/run
	./bin/alloy-custom run $(ALLOY_RUN_FLAGS) --storage.path=.cache/run/data \
		--server.http.listen-addr=127.0.0.1:12345 configs/local.alloy

## loki: build the pinned Loki into bin/loki (cached across clones).
loki: bin/loki

bin/loki: tools/loki/go.mod tools/loki/go.sum scripts/build-tool.sh
	./scripts/build-tool.sh loki $@

## alertmanager: build the pinned Alertmanager into bin/alertmanager (cached across clones).
alertmanager: bin/alertmanager

bin/alertmanager: tools/alertmanager/go.mod tools/alertmanager/go.sum tools/alertmanager/ui/index.html scripts/build-tool.sh
	./scripts/build-tool.sh alertmanager $@

## up: run a local Loki (ruler on), Alertmanager and alloy-custom with configs/loki.alloy (Ctrl-C stops all).
## ALERT_WEBHOOK_URL=https://... sends notifications to a webhook (docs/alerts.md for Slack, Teams, ...).
up: bin/alloy-custom bin/loki bin/alertmanager
	./scripts/up.sh

IMAGE          ?= alloy-curated:$(VERSION)

## image: build the container image (Dockerfile) with docker, or with buildah where no Docker engine runs.
image:
	@if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then \
		docker build --build-arg VERSION=$(VERSION) -t $(IMAGE) . ; \
	elif command -v buildah >/dev/null 2>&1; then \
		buildah bud --build-arg VERSION=$(VERSION) -t $(IMAGE) . ; \
	else echo "make image: needs docker with a running engine, or buildah" >&2; exit 1; fi

## image-local: the Dockerfile's final image around the local bin/alloy-custom, with buildah (no registry needed).
image-local: bin/alloy-custom bin/curated-erase
	./scripts/ensure-package.sh buildah
	./scripts/image-context.sh bin/alloy-custom .cache/image
	buildah --storage-driver vfs bud --isolation chroot -t $(IMAGE) -f .cache/image/Containerfile .cache/image

## push-images: put $(IMAGE) (as alloy-curated/alloy-custom:<its tag, else $(VERSION)>) and deploy/images.txt's images into the account's ECR.
push-images:
	@image='$(IMAGE)'; tag=$${image##*:}; \
	if [ "$$tag" = "$$image" ] || [ "$${tag#*/}" != "$$tag" ]; then tag='$(VERSION)'; fi; \
	echo "./scripts/push-images.sh $$image $$tag"; ./scripts/push-images.sh "$$image" "$$tag"

## test: every test: vet, unit and fuzz tests, end-to-end tests against real Alloy and Loki, fault tests.
test: lint test-unit test-dashboards test-deploy test-e2e test-faults

test-unit:
	go test -count=1 ./component/... ./internal/... ./cmd/...
	go test -count=1 -run '^$$' -fuzz FuzzDecodeAndBuild -fuzztime 60000x ./internal/entry/
	go test -count=1 -run '^$$' -fuzz FuzzDecodeMatchesReference -fuzztime 200000x ./internal/event/
	go test -count=1 -run '^$$' -fuzz FuzzHandler -fuzztime 60000x ./internal/httpapi/
	go test -count=1 -run '^$$' -fuzz FuzzRedactNeverLeaks -fuzztime 60000x ./internal/pii/
	go test -count=1 -run '^$$' -fuzz FuzzDefaultRulesNeverLeak -fuzztime 60000x ./internal/rules/
	go test -count=1 -run '^$$' -fuzz FuzzDecodeEntries -fuzztime 60000x ./internal/spool/
	$(MAKE) test-sdk

## dashboards: regenerate configs/grafana/dashboards/*.json from dashboards/ (Grafana Foundation SDK).
dashboards:
	cd dashboards && go run . -out ../configs/grafana/dashboards

## test-dashboards: the generated JSON is current and well formed (e2e/dashboards_test.go runs the queries).
test-dashboards:
	cd dashboards && go test -count=1 ./...

## test-sdk: the Go SDK's own module (sdk/go): unit tests with the race detector, and its fuzz target; then the JS SDK's.
test-sdk:
	cd sdk/go && CGO_ENABLED=1 go test -count=1 -race ./...
	cd sdk/go && go test -count=1 -run '^$$' -fuzz FuzzAttributeEncoding -fuzztime 60000x .
	$(MAKE) test-sdk-js

## sdk-js: install the JS SDK's pinned dev tools (package-lock.json) and build it (dist/, the browser bundle, the tsc-compiled examples).
sdk-js:
	cd sdk/js && npm ci --no-audit --no-fund --loglevel=error && npm run build && npm run build:test

## sdk-js-sizes: the JS SDK against Segment, PostHog and Faro, each bundled the same way (needs the npm registry).
sdk-js-sizes: sdk-js
	cd sdk/js && node scripts/compare-sizes.mjs

## test-sdk-js: the JS SDK (sdk/js): types checked by tsc, the browser bundle's size budget, node --test unit tests, npm pack.
test-sdk-js: sdk-js
	cd sdk/js && node --test test/

# CDK's Node.js kernel warns about Node 20 on every synth; the tests do not care.
test-deploy:
	cd deploy && JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1 JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION=1 \
		go test -count=1 ./...

test-e2e: bin/alloy-custom bin/loki bin/alertmanager sdk-js
	./scripts/ensure-package.sh chromium
	./scripts/ensure-package.sh buildah
	go test -count=1 -v -timeout 40m -skip '^TestFault' ./e2e/...

## test-faults: break Loki or alloy-custom under load and count acknowledged events in Loki (~8 min).
test-faults: bin/alloy-custom bin/loki
	go test -count=1 -v -timeout 30m -run '^TestFault' ./e2e/...

## erase: erase one person's events in one service from Loki (docs/privacy.md).
erase:
	@test -n "$(SERVICE)" -a -n "$(USER_ID)" || { echo "usage: make erase SERVICE=collabmaker USER_ID=u-1042 REQUESTED_BY='ticket 77' [LOKI_URL=...]"; exit 2; }
	go run ./cmd/curated-erase -service "$(SERVICE)" -user "$(USER_ID)" $(if $(REQUESTED_BY),-requested-by "$(REQUESTED_BY)")

## fuzz: run each fuzz target for FUZZTIME (make test runs each for a fixed number of inputs).
fuzz:
	go test -run '^$$' -fuzz FuzzDecodeAndBuild -fuzztime $(FUZZTIME) ./internal/entry/
	go test -run '^$$' -fuzz FuzzDecodeMatchesReference -fuzztime $(FUZZTIME) ./internal/event/
	go test -run '^$$' -fuzz FuzzHandler -fuzztime $(FUZZTIME) ./internal/httpapi/
	go test -run '^$$' -fuzz FuzzRedactNeverLeaks -fuzztime $(FUZZTIME) ./internal/pii/
	go test -run '^$$' -fuzz FuzzDefaultRulesNeverLeak -fuzztime $(FUZZTIME) ./internal/rules/
	go test -run '^$$' -fuzz FuzzDecodeEntries -fuzztime $(FUZZTIME) ./internal/spool/

## test-loki-ha: three Lokis in HA monolithic mode (configs/loki/loki-ha.yaml) behind alloy-custom,
## one killed with SIGKILL under traffic: nothing acknowledged lost, queries answered; two clustered
## Alertmanagers: one notification per alert (~3 min).
test-loki-ha: bin/alloy-custom bin/loki bin/alertmanager
	go test -count=1 -v -timeout 15m -run '^TestLokiHAFailover$$' ./e2e/

## bench: microbenchmarks (decode, rules, entry building, the handler per request) and the side-by-side
## load comparison of curated_api, loki.source.api and faro.receiver in one alloy-custom, at 50 events
## a request and at 1 (~11 min); results in .cache/bench/ and .cache/bench/batch1/.
bench: bin/alloy-custom
	@mkdir -p .cache/bench
	set -o pipefail; go test -run '^$$' -bench . -benchmem -count 5 ./internal/event/ ./internal/rules/ | tee .cache/bench/micro.txt
	set -o pipefail; go test -run '^$$' -bench BenchmarkRequest -benchmem -count 5 ./internal/httpapi/ | tee .cache/bench/request.txt
	go run ./cmd/benchrun -alloy bin/alloy-custom -out .cache/bench
	go run ./cmd/benchrun -alloy bin/alloy-custom -out .cache/bench/batch1 -batch 1 -shapes=false -overload 0 \
		-receivers 'curated_api,curated_api (durable off),loki.source.api'
	@cat .cache/bench/results.md .cache/bench/batch1/results.md

## bench-alerts: failure -> notification time through alloy-custom, Loki's ruler and Alertmanager,
## ALERT_CYCLES times (default 12; ~4 min); report in .cache/bench/alerts.md.
ALERT_CYCLES ?= 12
bench-alerts: bin/alloy-custom bin/loki bin/alertmanager
	go test -count=1 -run '^$$' -bench BenchmarkAlertDetection -benchtime $(ALERT_CYCLES)x -timeout 30m ./e2e/

## scenarios: a replayed realistic day and one incident per service through alloy-custom, Loki's ruler
## and Alertmanager (~10 min; also part of make test); report in .cache/bench/scenario.md.
scenarios: bin/alloy-custom bin/loki bin/alertmanager
	go test -count=1 -run '^TestAlertScenarios$$' -v -timeout 30m ./e2e/

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^tools/')); \
		if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	go vet ./...
	cd deploy && go vet ./...
	cd sdk/go && go vet ./...
	cd dashboards && go vet ./...

## deps: regenerate go.mod/go.sum from the pinned Alloy and Loki (never run `go mod tidy`).
deps:
	./scripts/derive-gomod.sh github.com/grafana/alloy $(ALLOY_VERSION) $(MODULE) .
	./scripts/derive-gomod.sh github.com/grafana/loki/v3 $(LOKI_VERSION) $(MODULE)/tools/loki tools/loki
	go build -mod=mod ./... && go test -mod=mod -count=1 -run XXX ./... >/dev/null
	cd tools/loki && go list -mod=mod -deps github.com/grafana/loki/v3/cmd/loki >/dev/null

clean:
	rm -rf bin .cache
