#!/bin/sh
# The wrapper mod_fcgid runs for a fetchcgi app (see examples/apache-fcgid.htaccess). mod_fcgid
# starts it with a listening Unix socket on fd 0 and an almost empty environment; fetchcgi,
# given no --listen, serves on that socket.
#
#   __FETCHCGI__  the command that runs the fetchcgi CLI, with absolute paths, e.g.
#                 /usr/bin/node /home/me/app/node_modules/fetchcgi/dist/cli.js
#   __APP__       your app module, e.g. /home/me/app/app.js
#
# test/apache-fcgid.test.ts runs exactly this file, with only the placeholders replaced.

# Settings for the app go here (mod_fcgid passes only a few variables on), e.g.
# export NODE_ENV=production
exec __FETCHCGI__ "__APP__"
