#!/usr/bin/env bash
# The Debian package as an operator gets it: built by CPack from this build tree; its files and
# control data; the unit accepted by systemd-analyze (offline: no systemd needed as PID 1) and
# hardened; the maintainer scripts; and the packaged binary running `version` and `validate` on
# the packaged configuration. Usage: package_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
source=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
has() {  # has TEXT PATTERN WHAT
  grep -qE -- "$2" <<<"$1" || fail "$3: no match for /$2/"
}

# -- Build: cpack in its own directory, from what the build tree holds.
if ! cpack -G DEB --config "$build/CPackConfig.cmake" -B "$work/out" >"$work/cpack.log" 2>&1; then
  cat "$work/cpack.log" >&2
  echo "FAIL: cpack" >&2
  exit 1
fi
deb=$(ls "$work"/out/gatehouse_*.deb)
echo "package: $(basename "$deb") ($(stat -c %s "$deb") bytes)"

# -- Files: the binary, the unit, the default config, the docs.
contents=$(dpkg-deb -c "$deb")
has "$contents" '^-rwxr-xr-x root/root .* \./usr/bin/gatehouse$' "dpkg-deb -c: the binary"
has "$contents" '^-rw-r--r-- root/root .* \./lib/systemd/system/gatehouse\.service$' \
  "dpkg-deb -c: the unit"
has "$contents" '^-rw-r--r-- root/root .* \./etc/gatehouse/gatehouse\.yaml$' \
  "dpkg-deb -c: the default config"
has "$contents" '\./usr/share/doc/gatehouse/OPERATIONS\.md$' "dpkg-deb -c: the docs"
has "$contents" '\./usr/share/doc/gatehouse/examples/signup-shield\.yaml$' "dpkg-deb -c: examples"
if grep -qE '/var/|/build' <<<"$contents"; then fail "dpkg-deb -c: state or build files packaged"; fi

# -- Control data: the config is a conffile, the scripts are there, the Depends are computed.
info=$(dpkg-deb -I "$deb")
has "$info" '^ Package: gatehouse$' "dpkg-deb -I: Package"
has "$info" '^ Version: ' "dpkg-deb -I: Version"
has "$info" 'lines +conffiles *$' "dpkg-deb -I: conffiles listed"
for script in postinst prerm postrm; do
  has "$info" "lines +\\* +$script +#!/bin/sh" "dpkg-deb -I: $script, executable"
done
depends=$(dpkg-deb -f "$deb" Depends)
for dep in libsystemd0 libyaml-cpp adduser init-system-helpers libc6; do
  has "$depends" "$dep" "Depends ($depends)"
done
mkdir "$work/control"
dpkg-deb -e "$deb" "$work/control"
[ "$(cat "$work/control/conffiles")" = /etc/gatehouse/gatehouse.yaml ] ||
  fail "conffiles: $(cat "$work/control/conffiles")"
for script in postinst prerm postrm; do
  [ -x "$work/control/$script" ] || fail "$script is not executable"
  sh -n "$work/control/$script" || fail "$script: sh syntax"
  shellcheck -s sh "$work/control/$script" || fail "$script: shellcheck (scripts/install-deps test)"
done
has "$(cat "$work/control/postinst")" 'adduser --system' "postinst creates the user"

# -- The unit: systemd-analyze verify, offline. It checks that ExecStart= exists: point it at
# the extracted binary, nothing else changed.
dpkg-deb -x "$deb" "$work/root"
unit="$work/root/lib/systemd/system/gatehouse.service"
mkdir "$work/unit"
sed "s#/usr/bin/gatehouse#$work/root/usr/bin/gatehouse#" "$unit" >"$work/unit/gatehouse.service"
if ! out=$(systemd-analyze verify --man=no "$work/unit/gatehouse.service" 2>&1); then
  fail "systemd-analyze verify: $out"
elif [ -n "$out" ]; then
  fail "systemd-analyze verify warns: $out"
fi
u=$(cat "$unit")
# shellcheck disable=SC2016 # \$MAINPID is the unit's, matched literally
for line in 'Type=notify' 'WatchdogSec=' 'ExecReload=/bin/kill -HUP \$MAINPID' \
  'StateDirectory=gatehouse' 'ConfigurationDirectory=gatehouse' 'ProtectSystem=strict' \
  'ProtectHome=yes' 'PrivateTmp=yes' 'NoNewPrivileges=yes' \
  'CapabilityBoundingSet=CAP_NET_BIND_SERVICE$' 'AmbientCapabilities=CAP_NET_BIND_SERVICE$' \
  'RestrictAddressFamilies=' 'RestartPreventExitStatus=2$' 'StartLimitBurst=' 'SystemCallFilter=@system-service' 'LimitNOFILE=' 'User=gatehouse' \
  'ExecStart=/usr/bin/gatehouse run --config /etc/gatehouse/gatehouse.yaml$'; do
  has "$u" "^$line" "unit: $line"
done
# systemd's own exposure score (0 safe .. 10 unsafe): "OK" is below 2.
security=$(systemd-analyze security --offline=true "$work/unit/gatehouse.service" 2>&1 | tail -1)
echo "$security"
score=$(sed -nE 's/.*: ([0-9]+\.[0-9]+) .*/\1/p' <<<"$security")
if [ -z "$score" ] || ! awk -v s="$score" 'BEGIN { exit !(s < 2.0) }'; then
  fail "systemd-analyze security: $security"
fi

# -- The packaged binary on the packaged config. Paths print as the service will use them, and
# validate writes nothing (no state directory, no key).
bin="$work/root/usr/bin/gatehouse"
version=$("$bin" version) || fail "gatehouse version"
has "$version" '^gatehouse [0-9]+\.[0-9]+\.[0-9]+' "gatehouse version"
config="$work/root/etc/gatehouse/gatehouse.yaml"
if ! validate=$("$bin" validate --config "$config" 2>&1); then
  fail "validate on the packaged config: $validate"
fi
echo "$validate"
has "$validate" '^ok: ' "validate: ok"
has "$validate" "state_dir +/var/lib/gatehouse " "validate: the state directory"
has "$validate" "secrets\.key_file +/var/lib/gatehouse/secret\.key " "validate: the key file"
has "$validate" "bans\.journal +/var/lib/gatehouse/bans\.journal " "validate: the ban journal"
has "$validate" "admin\.token_file +$work/root/etc/gatehouse/admin\.token " \
  "validate: the token next to the config"
# The routes the config shows in comments are valid once uncommented (from "# residents:" to
# the blank line).
cp "$config" "$work/with-routes.yaml"
sed -nE '/^# residents:/,/^$/ s/^# ?//p' "$config" >>"$work/with-routes.yaml"
grep -q '^routes:' "$work/with-routes.yaml" || fail "no commented routes found in the config"
if ! out=$("$bin" validate --config "$work/with-routes.yaml" 2>&1); then
  fail "the commented routes do not validate: $out"
fi

# -- The docs installed are the tree's.
cmp -s "$source/docs/OPERATIONS.md" "$work/root/usr/share/doc/gatehouse/OPERATIONS.md" ||
  fail "OPERATIONS.md differs from the tree's"

if [ "$failures" -ne 0 ]; then
  echo "$failures failure(s)" >&2
  exit 1
fi
echo "package ok"
