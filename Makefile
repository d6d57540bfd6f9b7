# Roomcast Studio. `make run` opens the studio, `make test` runs every test;
# both install what they need first (`make deps`).

SHELL := /bin/bash
GO    ?= go
SUDO  := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Pinned: v1.13.6 and later replace pion with forks the module proxy lacks.
LIVEKIT_SERVER_VERSION := v1.13.5
VERSITYGW_VERSION      := v1.8.0
STATICCHECK_VERSION    := v0.8.2
FYNE_TOOLS_VERSION     := v1.7.4

APT_PACKAGES := gcc libc6-dev pkg-config \
	libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev \
	gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad \
	gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-x gstreamer1.0-tools \
	gstreamer1.0-pulseaudio \
	chromium fonts-dejavu-core xvfb xauth pulseaudio ffmpeg \
	nginx libnginx-mod-rtmp libnss3-tools iproute2 x11-xserver-utils \
	libgl1-mesa-dev libx11-dev libxcursor-dev libxrandr-dev libxinerama-dev \
	libxi-dev libxxf86vm-dev redis-server libyuv-dev

# Integration tests start real servers and browsers; with two cores they
# run one package at a time so that one package's load cannot starve
# another's real-time media. The timeout is per package: a hung
# package fails alone, well inside CI's hour.
TEST_FLAGS := -tags integration -count=1 -timeout 20m

.PHONY: all deps deps-apt deps-layouts build run package test test-unit bench soak lint clean

all: build

deps: deps-apt bin/livekit-server bin/versitygw deps-layouts

# Installs only what is missing, so a second run takes a second.
deps-apt:
	@missing=""; for p in $(APT_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null && \
		rm -rf "$$HOME/.cache/gstreamer-1.0"; \
	fi
	@# Node.js may come from another source than Debian (whose npm then
	@# conflicts with it): install Debian's only when there is no npm at all.
	@command -v npm >/dev/null || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq nodejs npm >/dev/null; }
# (The GStreamer registry cache remembers plugins that failed to load while
# their libraries were still being installed; it is rebuilt on next use.)

bin/livekit-server:
	@echo "installing livekit-server $(LIVEKIT_SERVER_VERSION) (about 2.5 min the first time)"
	@mkdir -p bin/.install
	CGO_ENABLED=0 GOBIN=$(CURDIR)/bin/.install $(GO) install github.com/livekit/livekit-server/cmd/server@$(LIVEKIT_SERVER_VERSION)
	mv bin/.install/server $@

bin/versitygw:
	@mkdir -p bin
	CGO_ENABLED=0 GOBIN=$(CURDIR)/bin $(GO) install github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION)

bin/fyne:
	@mkdir -p bin
	GOBIN=$(CURDIR)/bin $(GO) install fyne.io/tools/cmd/fyne@$(FYNE_TOOLS_VERSION)

bin/staticcheck:
	@mkdir -p bin
	GOBIN=$(CURDIR)/bin $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

# The layout web app: npm packages, then the bundle that go:embed serves.
deps-layouts: layouts/node_modules/.package-lock.json layouts/dist/app.js

layouts/node_modules/.package-lock.json: layouts/package.json layouts/package-lock.json
	cd layouts && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

layouts/dist/app.js: layouts/node_modules/.package-lock.json $(wildcard layouts/src/*) layouts/build.mjs
	cd layouts && npm run --silent build

build: deps
	$(GO) build -o roomcast .

run: build
	./roomcast

# A desktop package ("Roomcast Studio.tar.xz": binary, .desktop entry and
# icon) from FyneApp.toml; fyne raises Build there each time, as its
# release flow expects. fyne's tarball has the binary in usr/local/bin and
# a Makefile that installs it; the demo room's livekit-server goes beside
# it (in the tarball and wherever its Makefile installs the binary), where
# the demo looks for it: bin/livekit-server above the executable's folder.
# (fyne package takes about 70 s on two cores.)
PACKAGE := Roomcast Studio.tar.xz
package: build bin/fyne bin/livekit-server
	bin/fyne package --target linux --exe roomcast
	rm -rf bin/.package && mkdir -p bin/.package
	tar -xJf "$(PACKAGE)" -C bin/.package
	install -m 0755 bin/livekit-server bin/.package/roomcast/usr/local/bin/livekit-server
	awk '{ print } /usr\/local\/bin\/\$$\(Exec\)|bin\/\$$\(Exec\)$$/ { gsub(/\$$\(Exec\)/, "livekit-server"); print }' \
		bin/.package/roomcast/Makefile > bin/.package/Makefile && mv bin/.package/Makefile bin/.package/roomcast/Makefile
	tar -cJf "$(PACKAGE)" -C bin/.package roomcast
	rm -rf bin/.package

test: deps
	@echo "== layouts (node)"
	cd layouts && npm test --silent
	@echo "== go (compile)"
	$(GO) test $(TEST_FLAGS) -run '^$$' ./... >/dev/null
	@echo "== go (unit and integration)"
	$(GO) test $(TEST_FLAGS) -p 1 ./...
	@echo "== go (ui/earlylocale, a module of its own)"
	cd ui/earlylocale && $(GO) test -count=1 ./...

test-unit:
	$(GO) test -count=1 ./...

bench: deps
	$(GO) run ./bench $(if $(STEPS),-steps $(STEPS))

# A long recording of the demo room to a file and RTMP (not in make test
# nor make bench): memory, frames and A/V drift over MINUTES (60).
soak: deps
	$(GO) run ./bench -soak $(or $(MINUTES),60)

lint: bin/staticcheck deps-layouts
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@$(GO) mod tidy -diff >/dev/null 2>&1 || { echo "go.mod and go.sum are not tidy (run go mod tidy):"; $(GO) mod tidy -diff; exit 1; }
	$(GO) vet -tags integration ./...
	bin/staticcheck -tags integration ./...
	cd ui/earlylocale && $(GO) vet ./... && ../../bin/staticcheck ./...

clean:
	rm -rf roomcast bin layouts/node_modules layouts/dist/*.js layouts/dist/*.css layouts/dist/*.html
