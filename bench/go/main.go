// The Go contender: net/http/fcgi serving the same routes as bench/app.js, byte for byte.
//
//	fcgiapp unix:/path | tcp:HOST:PORT
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/fcgi"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
)

var big = []byte(strings.Repeat("x", 256*1024))
var counter int64

type item struct {
	ID      int64    `json:"id"`
	Name    string   `json:"name"`
	Price   float64  `json:"price"`
	Tags    []string `json:"tags"`
	InStock bool     `json:"inStock"`
}

type payload struct {
	Request int64  `json:"request"`
	Status  string `json:"status"`
	Message string `json:"message"`
	Items   []item `json:"items"`
}

func handler(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	switch r.URL.Path {
	case "/hello":
		h.Set("Content-Type", "text/plain")
		w.Write([]byte("Hello, World!"))
	case "/json":
		n := atomic.AddInt64(&counter, 1)
		p := payload{Request: n, Status: "ok", Message: "Hello, World!", Items: make([]item, 13)}
		for i := range p.Items {
			p.Items[i] = item{ID: n*13 + int64(i), Name: fmt.Sprintf("item %d", i), Price: float64(i+1) * 1.25, Tags: []string{"alpha", "beta"}, InStock: i%2 == 0}
		}
		b, _ := json.Marshal(p)
		h.Set("Content-Type", "application/json")
		w.Write(b)
	case "/big":
		h.Set("Content-Type", "application/octet-stream")
		w.Write(big)
	case "/post":
		b, _ := io.ReadAll(r.Body)
		h.Set("Content-Type", "text/plain")
		w.Write([]byte(strconv.Itoa(len(b))))
	case "/upload":
		n, _ := io.Copy(io.Discard, r.Body)
		h.Set("Content-Type", "text/plain")
		w.Write([]byte(strconv.FormatInt(n, 10)))
	case "/sse":
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Accel-Buffering", "no")
		f := w.(http.Flusher)
		for i := 1; i <= 100; i++ {
			fmt.Fprintf(w, "id: %d\ndata: {\"n\":%d,\"msg\":\"Hello, World!\"}\n\n", i, i)
			f.Flush()
		}
	default:
		http.NotFound(w, r)
	}
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: fcgiapp unix:/path | tcp:HOST:PORT")
		os.Exit(2)
	}
	network, addr := "tcp", strings.TrimPrefix(os.Args[1], "tcp:")
	if strings.HasPrefix(os.Args[1], "unix:") {
		network, addr = "unix", os.Args[1][5:]
		os.Remove(addr)
	}
	l, err := net.Listen(network, addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() { <-sig; l.Close(); os.Exit(0) }()
	fcgi.Serve(l, http.HandlerFunc(handler))
}
