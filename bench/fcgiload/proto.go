package main

// FastCGI client side, just what a load generator needs: encode one request, read one response.

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
)

const (
	typeBeginRequest = 1
	typeEndRequest   = 3
	typeParams       = 4
	typeStdin        = 5
	typeStdout       = 6
	typeStderr       = 7
	roleResponder    = 1
	flagKeepConn     = 1
	maxContent       = 65535
	chunkContent     = 65528 // a multiple of 8, so records need no padding
)

func appendRecord(out []byte, typ byte, content []byte) []byte {
	for {
		n := len(content)
		if n > chunkContent {
			n = chunkContent
		}
		out = append(out, 1, typ, 0, 1, byte(n>>8), byte(n), 0, 0)
		out = append(out, content[:n]...)
		content = content[n:]
		if len(content) == 0 {
			return out
		}
	}
}

func appendLen(out []byte, n int) []byte {
	if n < 128 {
		return append(out, byte(n))
	}
	return binary.BigEndian.AppendUint32(out, uint32(n)|0x80000000)
}

func encodePairs(params [][2]string) []byte {
	var b []byte
	for _, p := range params {
		b = appendLen(b, len(p[0]))
		b = appendLen(b, len(p[1]))
		b = append(b, p[0]...)
		b = append(b, p[1]...)
	}
	return b
}

// encodeHead is BEGIN_REQUEST + PARAMS + the empty PARAMS record (request id 1).
func encodeHead(params [][2]string, keep bool) []byte {
	flags := byte(0)
	if keep {
		flags = flagKeepConn
	}
	out := appendRecord(nil, typeBeginRequest, []byte{0, roleResponder, flags, 0, 0, 0, 0, 0})
	out = appendRecord(out, typeParams, encodePairs(params))
	return appendRecord(out, typeParams, nil)
}

// encodeRequest is a whole request with a body sent in one go (empty STDIN closes it).
func encodeRequest(params [][2]string, keep bool, body []byte) []byte {
	out := encodeHead(params, keep)
	if len(body) > 0 {
		out = appendRecord(out, typeStdin, body)
	}
	return appendRecord(out, typeStdin, nil)
}

// nginxParams is what nginx's fastcgi_params sends for a request to path, plus typical headers.
func nginxParams(method, path string, bodyLen int, extra [][2]string) [][2]string {
	p := [][2]string{
		{"QUERY_STRING", ""}, {"REQUEST_METHOD", method}, {"CONTENT_TYPE", ""}, {"CONTENT_LENGTH", ""},
		{"SCRIPT_NAME", path}, {"REQUEST_URI", path}, {"DOCUMENT_URI", path}, {"DOCUMENT_ROOT", "/usr/share/nginx/html"},
		{"SERVER_PROTOCOL", "HTTP/1.1"}, {"REQUEST_SCHEME", "http"}, {"GATEWAY_INTERFACE", "CGI/1.1"},
		{"SERVER_SOFTWARE", "nginx/1.22.1"}, {"REMOTE_ADDR", "127.0.0.1"}, {"REMOTE_PORT", "51234"},
		{"SERVER_ADDR", "127.0.0.1"}, {"SERVER_PORT", "8080"}, {"SERVER_NAME", "localhost"}, {"REDIRECT_STATUS", "200"},
		{"HTTP_HOST", "localhost"}, {"HTTP_USER_AGENT", "fcgiload/1"}, {"HTTP_ACCEPT", "*/*"},
	}
	if bodyLen > 0 || method == "POST" {
		p[2][1] = "application/octet-stream"
		p[3][1] = strconv.Itoa(bodyLen)
		p = append(p, [2]string{"HTTP_CONTENT_TYPE", "application/octet-stream"}, [2]string{"HTTP_CONTENT_LENGTH", strconv.Itoa(bodyLen)})
	}
	return append(p, extra...)
}

// newReader buffers enough for one whole record, so STDOUT content can be peeked in one piece.
func newReader(r io.Reader) *bufio.Reader { return bufio.NewReaderSize(r, 1<<17) }

type response struct {
	status    int
	bodyBytes int
}

var errProtocol = errors.New("protocol error")

// readResponse reads records up to END_REQUEST; it parses the status from the header block and counts body bytes.
func readResponse(r *bufio.Reader, head []byte) (response, []byte, error) {
	var hdr [8]byte
	res := response{status: 200}
	head = head[:0]
	inHead := true
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return res, head, err
		}
		n := int(hdr[4])<<8 | int(hdr[5])
		pad := int(hdr[6])
		switch hdr[1] {
		case typeStdout:
			if inHead {
				content, err := r.Peek(n) // the reader's buffer holds a whole record (newReader)
				if err != nil {
					return res, head, err
				}
				head = append(head, content...)
				if i := bytes.Index(head, []byte("\r\n\r\n")); i >= 0 {
					inHead = false
					res.bodyBytes += len(head) - i - 4
					res.status = parseStatus(head[:i])
				} else if len(head) > 65536 {
					return res, head, fmt.Errorf("%w: header block over 64 KiB", errProtocol)
				}
			} else {
				res.bodyBytes += n
			}
			if _, err := r.Discard(n + pad); err != nil {
				return res, head, err
			}
		case typeEndRequest:
			if _, err := r.Discard(n + pad); err != nil {
				return res, head, err
			}
			if inHead {
				return res, head, fmt.Errorf("%w: END_REQUEST before the end of the header block", errProtocol)
			}
			return res, head, nil
		default: // STDERR and anything else: skip
			if _, err := r.Discard(n + pad); err != nil {
				return res, head, err
			}
		}
	}
}

func parseStatus(head []byte) int {
	for _, line := range bytes.Split(head, []byte("\r\n")) {
		if len(line) >= 11 && bytes.EqualFold(line[:7], []byte("status:")) {
			v := bytes.TrimSpace(line[7:])
			if s, err := strconv.Atoi(string(v[:3])); err == nil {
				return s
			}
		}
	}
	return 200
}
