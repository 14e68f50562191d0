#!/bin/sh
# scripts/install-deps.sh: every Debian 12 package the build, the demo and
# the tests need. Run as root (it calls apt-get). Safe to run again.
set -eu
if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: run as root (apt-get install)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
    ca-certificates gcc make autoconf automake libtool pkg-config \
    libmicrohttpd-dev libev-dev libhttp-parser-dev libjansson-dev libssl-dev \
    libcurl4-openssl-dev libhiredis-dev libjwt-dev libpcre2-dev libyaml-dev libidn2-dev check \
    locales libjson-c-dev \
    clang libclang-rt-14-dev \
    python3 python3-pytest python3-pytest-xdist python3-requests python3-jwt python3-cryptography python3-redis \
    redis-server curl procps >/dev/null
