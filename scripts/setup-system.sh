#!/usr/bin/env bash
# Installs the Debian packages the real-kernel tests and the demo need, when missing.
# Idempotent and quiet when everything is present. Without root it only reports what is missing:
# the real-kernel tests then skip with a visible reason, they never pretend to pass.
set -euo pipefail

declare -A PKG_FOR=(
  [iptables]=iptables [nft]=nftables [ipset]=ipset [ip]=iproute2 [socat]=socat
  [nc]=netcat-openbsd [ping]=iputils-ping [sshd]=openssh-server [ssh]=openssh-client
  [script]=bsdutils
  [ulogd]=ulogd2
  # Host protection's DNS proof: a real resolver on 127.0.0.53 in the host's namespace, queried
  # with dig. dnsmasq-base is the binary without the system service (nothing starts on install).
  [dnsmasq]=dnsmasq-base [dig]=bind9-dnsutils
  # The flow-log flood test's bounded SYN flood (test/netns/flows-ops.test.ts).
  [hping3]=hping3
)
missing=()
for cmd in "${!PKG_FOR[@]}"; do
  if ! command -v "$cmd" >/dev/null 2>&1 && ! [ -x "/usr/sbin/$cmd" ]; then
    missing+=("${PKG_FOR[$cmd]}")
  fi
done
# The flow-log collector (ulogd2) writes JSON through a plugin packaged apart.
if ! compgen -G "/usr/lib/*/ulogd/ulogd_output_JSON.so" >/dev/null && ! [ -e /usr/lib/ulogd/ulogd_output_JSON.so ]; then
  missing+=(ulogd2-json)
fi
# The pg state backend's tests start throwaway clusters with Debian's server binaries (not on PATH).
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  missing+=(postgresql)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "setup-system: missing Debian packages: ${missing[*]} (run as root to install; real-kernel tests will skip)" >&2
  exit 0
fi
echo "setup-system: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
