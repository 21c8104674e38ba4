# custos: Nagios-compatible monitoring plugins.
#   make build     the release binary target/release/custos and its links (check_<name> -> custos)
#   make install   custos and a link per check to $(DESTDIR)$(PLUGINDIR) (default /usr/lib/nagios/plugins), man pages,
#                  command definitions to $(DATADIR) (default /usr/share/custos); idempotent
#   make uninstall removes exactly what make install installs
#   make deb       a Debian package in target/deb (dpkg-deb)
#   make test      installs missing system packages (as root), then every test against real servers
#   make lint      rustfmt check and clippy with warnings denied
#   make bench     peer comparisons and growth curves against throwaway servers: writes BENCHMARKS.md
#   make demo      release binaries run against throwaway servers, printing each command and output
#   make fuzz      every fuzz target under libFuzzer (cargo-fuzz, nightly) for FUZZ_SECONDS each
#   make generate  nagios/icinga2/*.conf and man/*.1 from the checks' options (a test compares them)
#   make clean

CARGO     ?= cargo
PREFIX    ?= /usr
DESTDIR   ?=
PLUGINDIR ?= $(PREFIX)/lib/nagios/plugins
MANDIR    ?= $(PREFIX)/share/man
DATADIR   ?= $(PREFIX)/share/custos
DOCDIR    ?= $(PREFIX)/share/doc/custos
# Where install-files takes the binaries from (the tests install debug builds).
BINARIES  ?= target/release
CONFIGS   := nagios4 icinga2 nrpe cron prometheus
CHECKS    := $(sort $(notdir $(wildcard crates/check_*)))
HARNESS   := target/debug/custos-harness

.PHONY: all build install install-files uninstall deb test deps lint demo bench fuzz generate clean

all: build

# One multi-call binary (crates/custos) with a link per name: one copy of the shared code, one
# link step (BENCHMARKS.md, "Build and size"). Each check crate keeps its own binary target for
# cargo install.
build:
	$(CARGO) build --release --locked -p custos
	for n in $$(target/release/custos --names); do ln -sfn custos "target/release/$$n" || exit 1; done

install: build install-files

# Installs what is already built; running it again gives the same tree.
install-files:
	install -d "$(DESTDIR)$(PLUGINDIR)" "$(DESTDIR)$(MANDIR)/man1" "$(DESTDIR)$(DOCDIR)"
	install -m 0755 "$(BINARIES)/custos" "$(DESTDIR)$(PLUGINDIR)/custos"
	# A link per name: each check, the compatibility names (check_website_response.sh, Zulip's
	# check_postgresql_*), and check_postgres.pl's check_postgres_<action>.
	for n in $$("$(BINARIES)/custos" --names); do \
	    ln -sfn custos "$(DESTDIR)$(PLUGINDIR)/$$n" || exit 1; \
	done
	for c in $(CHECKS); do \
	    gzip -9 -n -c "man/$$c.1" > "$(DESTDIR)$(MANDIR)/man1/$$c.1.gz" && \
	    chmod 0644 "$(DESTDIR)$(MANDIR)/man1/$$c.1.gz" || exit 1; \
	done
	for d in $(CONFIGS); do \
	    install -d "$(DESTDIR)$(DATADIR)/$$d" && \
	    install -m 0644 nagios/$$d/* "$(DESTDIR)$(DATADIR)/$$d/" || exit 1; \
	done
	install -m 0644 README.md ZULIP.md BENCHMARKS.md "$(DESTDIR)$(DOCDIR)/"
	# Each check's page (its man page's SEE ALSO), and the connection pages they link.
	for c in $(CHECKS); do \
	    install -m 0644 "crates/$$c/README.md" "$(DESTDIR)$(DOCDIR)/$$c.md" || exit 1; \
	done
	install -m 0644 crates/pg/README.md "$(DESTDIR)$(DOCDIR)/custos-pg.md"
	install -m 0644 crates/rabbitmq/README.md "$(DESTDIR)$(DOCDIR)/custos-rabbitmq.md"

uninstall:
	for c in $(CHECKS); do rm -f "$(DESTDIR)$(MANDIR)/man1/$$c.1.gz"; done
	if [ -d "$(DESTDIR)$(PLUGINDIR)" ]; then \
	    find "$(DESTDIR)$(PLUGINDIR)" -maxdepth 1 -type l -lname custos -delete; \
	fi
	rm -f "$(DESTDIR)$(PLUGINDIR)/custos"
	for d in $(CONFIGS); do \
	    for f in nagios/$$d/*; do rm -f "$(DESTDIR)$(DATADIR)/$$d/$${f##*/}"; done; \
	    rmdir "$(DESTDIR)$(DATADIR)/$$d" 2>/dev/null || true; \
	done
	rmdir "$(DESTDIR)$(DATADIR)" 2>/dev/null || true
	rm -f "$(DESTDIR)$(DOCDIR)/README.md" "$(DESTDIR)$(DOCDIR)/ZULIP.md" "$(DESTDIR)$(DOCDIR)/BENCHMARKS.md"
	for c in $(CHECKS); do rm -f "$(DESTDIR)$(DOCDIR)/$$c.md"; done
	rm -f "$(DESTDIR)$(DOCDIR)/custos-pg.md" "$(DESTDIR)$(DOCDIR)/custos-rabbitmq.md"
	rmdir "$(DESTDIR)$(DOCDIR)" 2>/dev/null || true

deb: build
	sh pkg/deb.sh $(BINARIES) target/deb

deps:
	@sh tests/install-deps.sh

# One set of servers for the whole run: the harness starts them, runs cargo test, stops them.
test: deps
	$(CARGO) build --locked -p custos-harness -p custos
	$(HARNESS) run -- $(CARGO) test --locked --workspace
	$(CARGO) build --release --locked -p custos-fixture
	sh tests/release-panic.sh target/release/custos-fixture

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings

# The demo installs only the servers it runs (PostgreSQL, RabbitMQ, nginx), not the monitoring
# daemons the tests use.
demo: build
	@DEMO=1 sh tests/install-deps.sh
	$(CARGO) build --locked -p custos-harness
	$(HARNESS) run -- sh tests/demo.sh target/release

# SECTIONS: some of machine size build host postgres web rabbitmq zulip hostcost scale (default: all;
# BUILD_DESIGNS=all also builds the designs not chosen, about 40 minutes more, or name some of
# them: BUILD_DESIGNS="multi-static multi-nopie multi-thin multi-nolto", about 12 minutes;
# ACTION_RUNS: runs per check_postgres.pl action, default 10).
bench: build
	@BENCH=1 sh tests/install-deps.sh
	$(CARGO) build --locked -p custos-harness
	CUSTOS_RABBITMQ_STATS_MS=5000 $(HARNESS) run -- python3 bench/run.py target/release $(SECTIONS)

# FUZZ_SECONDS per target (default 60); FUZZ_TARGETS: some of them (default: all).
FUZZ_SECONDS ?= 60
fuzz:
	sh tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

generate:
	$(CARGO) run --locked -q -p custos-conventions --bin custos-gen -- icinga2 nagios/icinga2
	$(CARGO) run --locked -q -p custos-conventions --bin custos-gen -- man man

clean:
	$(CARGO) clean
