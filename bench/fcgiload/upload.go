package main

// One big streamed upload, over FastCGI or HTTP, timed from the first byte sent to the last byte received.

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// zeros is an io.Reader of n zero bytes that never allocates more than one chunk.
type zeros struct{ left int64 }

var zeroChunk = make([]byte, chunkContent)

func (z *zeros) Read(p []byte) (int, error) {
	if z.left == 0 {
		return 0, io.EOF
	}
	n := copy(p, zeroChunk)
	if int64(n) > z.left {
		n = int(z.left)
	}
	z.left -= int64(n)
	return n, nil
}

func runUpload(addr, path string, size int64, extra [][2]string) result {
	cpu0 := cpuUs()
	t0 := time.Now()
	var status, bodyBytes int
	var err error
	if strings.HasPrefix(addr, "http://") {
		status, bodyBytes, err = uploadHTTP(addr, size)
	} else {
		status, bodyBytes, err = uploadFCGI(addr, path, size, extra)
	}
	elapsed := time.Since(t0)
	res := result{Seconds: elapsed.Seconds(), CPUUs: cpuUs() - cpu0, BodyMin: bodyBytes, BodyMax: bodyBytes}
	if err == nil && status != 200 {
		err = fmt.Errorf("status %d", status)
	}
	if err != nil {
		res.Errors = 1
		res.FirstError = err.Error()
	} else {
		res.Requests = 1
		res.RPS = 1 / elapsed.Seconds()
		res.P50Ms = float64(elapsed.Microseconds()) / 1e3
		res.P99Ms, res.MaxMs = res.P50Ms, res.P50Ms
	}
	return res
}

func uploadHTTP(url string, size int64) (int, int, error) {
	req, err := http.NewRequest("POST", url, io.NopCloser(&zeros{size}))
	if err != nil {
		return 0, 0, err
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, int(n), err
}

func uploadFCGI(addr, path string, size int64, extra [][2]string) (int, int, error) {
	conn, err := dial(addr)
	if err != nil {
		return 0, 0, err
	}
	defer conn.Close()
	// The body goes out from its own goroutine, so a server that answers early cannot deadlock us.
	sent := make(chan error, 1)
	go func() {
		if _, err := conn.Write(encodeHead(nginxParams("POST", path, int(size), extra), false)); err != nil {
			sent <- err
			return
		}
		z := &zeros{size}
		buf := make([]byte, 0, chunkContent+8)
		for z.left > 0 {
			n, _ := z.Read(zeroChunk[:chunkContent])
			buf = appendRecord(buf[:0], typeStdin, zeroChunk[:n])
			if _, err := conn.Write(buf); err != nil {
				sent <- err
				return
			}
		}
		_, err := conn.Write(appendRecord(nil, typeStdin, nil))
		sent <- err
	}()
	r, _, err := readResponse(newReader(conn), nil)
	if err != nil {
		return r.status, r.bodyBytes, err
	}
	if err := <-sent; err != nil && !errors.Is(err, io.EOF) {
		return r.status, r.bodyBytes, err
	}
	return r.status, r.bodyBytes, nil
}
