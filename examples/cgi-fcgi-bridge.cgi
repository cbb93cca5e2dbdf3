#!/usr/bin/cgi-fcgi -f
# A CGI program that hands each request to a running fetchcgi worker: put it where your web
# server runs CGI programs (Apache: `ScriptAlias / /path/to/bridge.cgi/`, with CGIPassAuth On
# to pass Authorization) and make it executable. cgi-fcgi sends the CGI environment as the
# FastCGI params and stdin (CONTENT_LENGTH bytes of it) as the body, and prints the response.
#
#   __CONNECT__  the worker's address: a Unix socket path (`fetchcgi app.js --listen
#                unix:PATH`) or HOST:PORT (`--listen HOST:PORT`)
#
# cgi-fcgi takes its arguments from the lines that are not comments (no blank lines).
# test/cgi-fcgi.test.ts runs exactly this file, with only the placeholder replaced.
-bind -connect __CONNECT__
