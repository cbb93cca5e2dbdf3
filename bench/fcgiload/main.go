// fcgiload: a closed-loop FastCGI load generator. Each of -c connections keeps exactly one request
// in flight for -d, on a persistent connection (FCGI_KEEP_CONN) unless -keep=false. It prints one
// JSON line: requests, req/s, latency percentiles, errors, and its own CPU time, so a run can show
// that the generator was not the bottleneck. With -upload N it sends one request with an N-byte
// body instead (to a FastCGI address, or to an http:// URL) and reports the time it took.
//
//	fcgiload -addr unix:/tmp/app.sock -c 64 -d 3s -path /hello
//	fcgiload -addr unix:/tmp/app.sock -path /post -body 16384
//	fcgiload -addr http://127.0.0.1:8080/upload -upload 67108864
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type result struct {
	Requests   int64   `json:"requests"`
	Errors     int64   `json:"errors"`
	FirstError string  `json:"firstError,omitempty"`
	Seconds    float64 `json:"seconds"`
	RPS        float64 `json:"rps"`
	P50Ms      float64 `json:"p50Ms"`
	P99Ms      float64 `json:"p99Ms"`
	MaxMs      float64 `json:"maxMs"`
	BodyMin    int     `json:"bodyMin"`
	BodyMax    int     `json:"bodyMax"`
	CPUUs      float64 `json:"cpuUs"` // this process, user+system
}

type params []string

func (p *params) String() string     { return strings.Join(*p, ",") }
func (p *params) Set(v string) error { *p = append(*p, v); return nil }

func dial(addr string) (net.Conn, error) {
	if strings.HasPrefix(addr, "unix:") {
		return net.Dial("unix", addr[5:])
	}
	return net.Dial("tcp", strings.TrimPrefix(addr, "tcp:"))
}

func cpuUs() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e3
}

func fail(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "fcgiload: "+format+"\n", a...)
	os.Exit(1)
}

func main() {
	addr := flag.String("addr", "", "unix:/path, tcp:host:port (FastCGI) or http://host:port/path (with -upload only)")
	conns := flag.Int("c", 1, "connections, each with one request in flight")
	dur := flag.Duration("d", 3*time.Second, "how long to load")
	path := flag.String("path", "/hello", "REQUEST_URI")
	body := flag.Int("body", 0, "bytes of request body (POST when > 0)")
	keep := flag.Bool("keep", true, "keep connections open between requests (FCGI_KEEP_CONN)")
	upload := flag.Int64("upload", 0, "send one request with this many body bytes, streamed, and time it")
	var extra params
	flag.Var(&extra, "param", "extra NAME=VALUE param (repeatable), e.g. SCRIPT_FILENAME=/app.php")
	flag.Parse()
	if *addr == "" {
		fail("-addr is required")
	}
	var extraPairs [][2]string
	for _, e := range extra {
		k, v, _ := strings.Cut(e, "=")
		extraPairs = append(extraPairs, [2]string{k, v})
	}
	var res result
	if *upload > 0 {
		res = runUpload(*addr, *path, *upload, extraPairs)
	} else {
		res = runLoad(*addr, *conns, *dur, *path, *body, *keep, extraPairs)
	}
	json.NewEncoder(os.Stdout).Encode(res)
}

func runLoad(addr string, conns int, dur time.Duration, path string, bodyLen int, keep bool, extra [][2]string) result {
	method := "GET"
	if bodyLen > 0 {
		method = "POST"
	}
	req := encodeRequest(nginxParams(method, path, bodyLen, extra), keep, make([]byte, bodyLen))
	var errors int64
	var firstErr atomic.Value
	lat := make([][]time.Duration, conns)
	bodyMin, bodyMax := make([]int, conns), make([]int, conns)
	cpu0 := cpuUs()
	start := time.Now()
	deadline := start.Add(dur)
	var wg sync.WaitGroup
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			bodyMin[i] = -1
			lat[i] = make([]time.Duration, 0, 1<<14)
			var conn net.Conn
			var head []byte
			var rd = newReader(nil)
			for time.Now().Before(deadline) {
				t0 := time.Now()
				if conn == nil {
					c, err := dial(addr)
					if err != nil {
						atomic.AddInt64(&errors, 1)
						firstErr.CompareAndSwap(nil, err.Error())
						time.Sleep(10 * time.Millisecond)
						continue
					}
					conn = c
					rd.Reset(conn)
				}
				_, err := conn.Write(req)
				var r response
				if err == nil {
					r, head, err = readResponse(rd, head)
				}
				if err == nil && r.status != 200 {
					err = fmt.Errorf("status %d", r.status)
				}
				if err != nil {
					atomic.AddInt64(&errors, 1)
					firstErr.CompareAndSwap(nil, err.Error())
					conn.Close()
					conn = nil
					continue
				}
				lat[i] = append(lat[i], time.Since(t0))
				if bodyMin[i] < 0 || r.bodyBytes < bodyMin[i] {
					bodyMin[i] = r.bodyBytes
				}
				if r.bodyBytes > bodyMax[i] {
					bodyMax[i] = r.bodyBytes
				}
				if !keep {
					conn.Close()
					conn = nil
				}
			}
			if conn != nil {
				conn.Close()
			}
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(start)
	res := result{Errors: errors, Seconds: elapsed.Seconds(), CPUUs: cpuUs() - cpu0, BodyMin: -1}
	if e, ok := firstErr.Load().(string); ok {
		res.FirstError = e
	}
	var all []time.Duration
	for i := range lat {
		all = append(all, lat[i]...)
		if bodyMin[i] >= 0 && (res.BodyMin < 0 || bodyMin[i] < res.BodyMin) {
			res.BodyMin = bodyMin[i]
		}
		if bodyMax[i] > res.BodyMax {
			res.BodyMax = bodyMax[i]
		}
	}
	res.Requests = int64(len(all))
	res.RPS = float64(len(all)) / elapsed.Seconds()
	if len(all) > 0 {
		sort.Slice(all, func(a, b int) bool { return all[a] < all[b] })
		ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 }
		res.P50Ms = ms(all[len(all)/2])
		res.P99Ms = ms(all[len(all)*99/100])
		res.MaxMs = ms(all[len(all)-1])
	}
	return res
}
