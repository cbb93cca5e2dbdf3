#!/usr/bin/cgi-fcgi -f
# Like cgi-fcgi-bridge.cgi, but cgi-fcgi also starts the workers: when nothing listens on
# __SOCKET__, it creates the socket, starts 2 copies of __WRAPPER__ with it on fd 0 (they stay
# up, serving later requests too) and then passes the request on.
#
#   __SOCKET__   a Unix socket path (this form does not do TCP); its directory must be
#                writable by the web server's CGI user
#   __WRAPPER__  an executable script that execs fetchcgi on your app with no --listen
#                (examples/fetchcgi-wrapper.sh)
#
# test/cgi-fcgi.test.ts runs exactly this file, with only the placeholders replaced.
-connect __SOCKET__ __WRAPPER__ 2
