#!/bin/sh
# The "bin-path" of examples/lighttpd-spawn.conf. lighttpd runs it with a listening Unix socket
# on fd 0 (and /dev/null on fd 1); fetchcgi, given no --listen, serves on that socket.
# `exec`, so that the worker is lighttpd's child itself and gets its SIGTERM on shutdown.
#
#   __FETCHCGI__   the fetchcgi command, e.g. /usr/local/bin/fetchcgi (npm i -g fetchcgi), or a
#                  runtime and the CLI: `deno run -A jsr:@fetchcgi/fetchcgi`, `bun x fetchcgi`
#   __APP__        your app module, e.g. /srv/app/app.js
#
# Worker options go here too (e.g. --max-requests 64); console.error() output goes to
# lighttpd's own stderr (the journal under systemd), not to its error log.
exec __FETCHCGI__ __APP__
