#!/bin/sh
# Builds target/deb/custos_<version>-1_<arch>.deb with dpkg-deb from binaries already built:
#   sh pkg/deb.sh BINARIES OUTDIR      (make deb: sh pkg/deb.sh target/release target/deb)
# The tree is what `make install-files PREFIX=/usr` installs; binaries are stripped. Depends are
# computed from the binaries' ELF NEEDED entries and glibc symbol versions.
# DEB_COMPRESS: xz (default), gzip or none (the tests use gzip: faster, the contents are the same).
set -eu
bins=$1
out=$2
compress=${DEB_COMPRESS:-xz}

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
arch=$(dpkg --print-architecture)
mkdir -p "$out"
stage=$(mktemp -d "$out/stage.XXXXXX")
chmod 0755 "$stage"
trap 'rm -rf "$stage"' EXIT INT TERM

make -s install-files DESTDIR="$stage" PREFIX=/usr BINARIES="$bins" >/dev/null
plugins="$stage/usr/lib/nagios/plugins"
strip --strip-unneeded "$plugins/custos"
install -m 0644 pkg/copyright "$stage/usr/share/doc/custos/copyright"

# Depends: each shared library the binaries need, as the package that ships it here.
depends=""
needed=$(objdump -p "$plugins/custos" | sed -n 's/^ *NEEDED *//p' | sort -u)
glibc=$(objdump -T "$plugins/custos" | sed -n 's/.*GLIBC_\([0-9][0-9.]*\).*/\1/p' | sort -uV | tail -n 1)
for lib in $needed; do
    case $lib in
        libc.so.6 | libm.so.6 | libpthread.so.0 | libdl.so.2 | librt.so.1 | ld-linux*) dep="libc6 (>= $glibc)" ;;
        libgcc_s.so.1) dep="libgcc-s1" ;;
        *) echo "pkg/deb.sh: no package known for $lib: add it here" >&2; exit 1 ;;
    esac
    case ", $depends, " in *", $dep, "*) ;; *) depends="${depends:+$depends, }$dep" ;; esac
done

mkdir -p "$stage/DEBIAN"
(cd "$stage" && find usr -type f -print0 | sort -z | xargs -0 md5sum) > "$stage/DEBIAN/md5sums"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat > "$stage/DEBIAN/control" <<CONTROL
Package: custos
Version: $version-1
Architecture: $arch
Maintainer: custos developers <custos@example.invalid>
Installed-Size: $size
Depends: $depends
Suggests: nagios4 | icinga2 | nagios-nrpe-server
Section: net
Priority: optional
Description: Nagios-compatible monitoring plugins for Zulip, PostgreSQL and RabbitMQ
 Small static plugins that print one status line and exit 0/1/2/3, for Nagios 4,
 Icinga 2, Naemon, NRPE, an Icinga agent, a person at a terminal, or cron: HTTP(S),
 PostgreSQL (connection, replication lag, backups), RabbitMQ queues and consumers,
 Zulip's end-to-end message probe, worker memory, processes, queue errors,
 pending Debian updates, and results written by cron jobs.
 .
 Plugins install in /usr/lib/nagios/plugins; command definitions for Nagios 4,
 Icinga 2, NRPE and cron are in /usr/share/custos.
CONTROL
deb="$out/custos_${version}-1_${arch}.deb"
case $compress in
    none) level="" ;;
    *) level="-z9" ;;
esac
dpkg-deb --root-owner-group -Z"$compress" $level --build "$stage" "$deb" >/dev/null
echo "$deb"
