#!/usr/bin/env bash
# Installs the Debian packages `npm run bench` needs: wrk (HTTP load), golang-go (builds the
# FastCGI load generator and the Go contender), php-fpm (a contender) and nginx (the front).
# Node 24, Bun and Deno come from `npm ci`. Installing nginx/php-fpm may enable their system
# services; the bench never uses them (it runs its own instances from temp dirs).
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
$SUDO apt-get update
$SUDO apt-get install -y wrk golang-go php-fpm nginx
