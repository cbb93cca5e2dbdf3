#!/bin/sh
# The command a spawning front runs to start a fetchcgi worker on the listening socket it passes
# on fd 0: h2o's `fastcgi.spawn` (examples/h2o-spawn.conf), `cgi-fcgi -connect SOCKET THIS-FILE`
# (docs/cgi-fcgi.md). Without --listen, fetchcgi serves on fd 0 when fd 0 is a socket.
#
#   __FETCHCGI__  how to run the CLI: /usr/bin/fetchcgi (npm i -g fetchcgi), `node
#                 /srv/app/node_modules/fetchcgi/dist/cli.js`, `deno run -A npm:fetchcgi`, ...
#   __APP__       your app module, e.g. /srv/app/app.js
#
# Set here what the worker needs: the front may start it with an environment of its own.
# test/h2o.test.ts and test/cgi-fcgi.test.ts run exactly this file, placeholders replaced.

cd "$(dirname "__APP__")" || exit 1
exec __FETCHCGI__ "__APP__"
