# custos: Nagios-compatible monitoring plugins.
#   make build     release binaries in target/release
#   make install   binaries to $(DESTDIR)$(PLUGINDIR) (default /usr/lib/nagios/plugins)
#   make test      installs missing system packages (as root), then every test against real servers
#   make lint      rustfmt check and clippy with warnings denied
#   make bench     peer comparisons against throwaway servers (writes nothing; paste into BENCHMARKS.md)
#   make demo      release binaries run against throwaway servers, printing each command and output
#   make generate  nagios/icinga2/*.conf from the checks' options (a test compares them)
#   make clean

CARGO     ?= cargo
PREFIX    ?= /usr
DESTDIR   ?=
PLUGINDIR ?= $(PREFIX)/lib/nagios/plugins
CHECKS    := $(sort $(notdir $(wildcard crates/check_*)))
HARNESS   := target/debug/custos-harness

.PHONY: all build install test deps lint demo bench generate clean

all: build

build:
	$(CARGO) build --release --locked $(addprefix -p ,$(CHECKS))

install: build
	install -d "$(DESTDIR)$(PLUGINDIR)"
	for c in $(CHECKS); do install -m 0755 "target/release/$$c" "$(DESTDIR)$(PLUGINDIR)/$$c"; done
	# The old script's name: bare -w/-c numbers are milliseconds there.
	ln -sf check_website_response "$(DESTDIR)$(PLUGINDIR)/check_website_response.sh"

deps:
	@sh tests/install-deps.sh

# One set of servers for the whole run: the harness starts them, runs cargo test, stops them.
test: deps
	$(CARGO) build --locked -p custos-harness
	$(HARNESS) run -- $(CARGO) test --locked --workspace
	$(CARGO) build --release --locked -p custos-fixture
	sh tests/release-panic.sh target/release/custos-fixture

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings

demo: deps build
	$(CARGO) build --locked -p custos-harness
	$(HARNESS) run -- sh tests/demo.sh target/release

bench: build
	@BENCH=1 sh tests/install-deps.sh
	$(CARGO) build --locked -p custos-harness
	CUSTOS_RABBITMQ_STATS_MS=5000 $(HARNESS) run -- sh -c 'python3 bench/postgres.py target/release && python3 bench/http.py target/release && python3 bench/rabbitmq.py target/release && python3 bench/zulip.py target/release'

generate:
	$(CARGO) run --locked -q -p custos-conventions --bin custos-gen -- icinga2 nagios/icinga2

clean:
	$(CARGO) clean
