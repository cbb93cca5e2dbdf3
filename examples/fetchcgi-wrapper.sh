#!/bin/sh
# The command a spawning front runs to start a fetchcgi worker on the listening socket it passes
# on fd 0: h2o's `fastcgi.spawn` (examples/h2o-spawn.conf), cgi-fcgi's `-connect SOCKET THIS-FILE`
# (examples/cgi-fcgi-spawn.cgi). Without --listen, fetchcgi serves on fd 0 when fd 0 is a socket.
#
#   __FETCHCGI__  how to run the CLI: /usr/bin/fetchcgi (npm i -g fetchcgi), or e.g.
#                 `node /srv/app/node_modules/fetchcgi/dist/cli.js`
#   __APP__       your app module, e.g. /srv/app/app.js
#
# `env -i` starts the worker with a clean environment: cgi-fcgi would hand it the CGI variables
# of the request that started it (HTTP_PROXY from a client's `Proxy:` header, ...), h2o its own.
# List what your app needs after it (NODE_ENV=production DATABASE_URL=...).
# test/h2o.test.ts and test/cgi-fcgi.test.ts run exactly this file, placeholders replaced.

cd "$(dirname "__APP__")" || exit 1
exec env -i PATH=/usr/local/bin:/usr/bin:/bin __FETCHCGI__ "__APP__"
