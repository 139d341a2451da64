package main

// c1: latency at concurrency 1 for several systems in one run, interleaved, so that whatever else
// the machine does in a given second falls on every system alike. Each round visits every target
// in turn, in a fresh (seeded) random order every round, with a short pause before each visit; a
// visit is a block of requests sent back to back on one kept-alive connection, as a closed-loop
// client at concurrency 1 sends them (so work a system leaves for after its answer delays its next
// request, as it would for wrk), then a block of streams. The first request and the first stream of each visit are not counted: they pay for the
// switch from the previous system (a core that went idle), which no steady client at c=1 sees.
// The client is a raw socket per target (no client library's own cost differs between rows).

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type c1Target struct {
	name    string
	host    string
	path    string
	headers []string
	conn    net.Conn
	buf     []byte
}

type targetList []string

func (t *targetList) String() string     { return strings.Join(*t, ",") }
func (t *targetList) Set(v string) error { *t = append(*t, v); return nil }

func parseTarget(spec string) *c1Target {
	parts := strings.Split(spec, "|")
	if len(parts) < 2 {
		fatal("bad -target %q: want name|URL[|Header: value]...", spec)
	}
	u, err := url.Parse(parts[1])
	if err != nil {
		fatal("bad -target URL %q: %v", parts[1], err)
	}
	h := u.Hostname()
	if h != "127.0.0.1" && h != "localhost" && h != "::1" {
		fatal("-target URLs must be loopback addresses, got %q", h)
	}
	return &c1Target{name: parts[0], host: u.Host, path: u.RequestURI(), headers: parts[2:], buf: make([]byte, 64*1024)}
}

func (t *c1Target) dial() {
	c, err := net.DialTimeout("tcp", t.host, 5*time.Second)
	if err != nil {
		fatal("%s: connect: %v", t.name, err)
	}
	c.(*net.TCPConn).SetNoDelay(true)
	t.conn = c
}

func (t *c1Target) requestBytes(model string, stream bool) []byte {
	body := `{"model":` + strconv.Quote(model) + `,"messages":[{"role":"user","content":"Say hello in one short sentence."}],"max_tokens":32`
	if stream {
		body += `,"stream":true,"stream_options":{"include_usage":true}`
	}
	body += "}"
	var b strings.Builder
	fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nhost: %s\r\ncontent-type: application/json\r\nauthorization: Bearer sk-bench-not-a-real-key\r\n", t.path, t.host)
	for _, h := range t.headers {
		b.WriteString(h + "\r\n")
	}
	fmt.Fprintf(&b, "content-length: %d\r\n\r\n%s", len(body), body)
	return []byte(b.String())
}

var tokMarker = []byte(`"content":"tok`)

// send writes one request and reads its whole answer; it returns the time to the first content
// chunk (streams; the whole answer otherwise) and to the end of the answer. A kept-alive connection
// the server closed while idle (Node closes them after 5 s) is dialled again and the request sent
// once more, as any HTTP client does; the dial is not timed.
func (t *c1Target) send(req []byte, stream bool, timeout time.Duration) (first, total time.Duration, err error) {
	first, total, err = t.sendOnce(req, stream, timeout)
	if errors.Is(err, errIdleClosed) {
		t.conn.Close()
		t.dial()
		first, total, err = t.sendOnce(req, stream, timeout)
	}
	return first, total, err
}

var errIdleClosed = errors.New("connection closed before any answer")

func (t *c1Target) sendOnce(req []byte, stream bool, timeout time.Duration) (first, total time.Duration, err error) {
	t0 := time.Now()
	_ = t.conn.SetDeadline(t0.Add(timeout))
	if _, err = t.conn.Write(req); err != nil {
		return 0, 0, errIdleClosed
	}
	var got []byte
	headEnd, length, chunked := -1, -1, false
	for {
		n, rerr := t.conn.Read(t.buf)
		now := time.Now()
		if n > 0 {
			got = append(got, t.buf[:n]...)
			if first == 0 && (!stream || bytes.Contains(got, tokMarker)) {
				first = now.Sub(t0)
			}
			if headEnd < 0 {
				if i := bytes.Index(got, []byte("\r\n\r\n")); i >= 0 {
					headEnd = i + 4
					head := strings.ToLower(string(got[:i]))
					if !strings.HasPrefix(head, "http/1.1 200") {
						return 0, 0, fmt.Errorf("%s: %s", t.name, strings.SplitN(string(got[:i]), "\r\n", 2)[0])
					}
					if j := strings.Index(head, "\r\ncontent-length:"); j >= 0 {
						v := strings.TrimSpace(strings.SplitN(head[j+len("\r\ncontent-length:"):], "\r\n", 2)[0])
						length, _ = strconv.Atoi(v)
					} else {
						chunked = strings.Contains(head, "chunked")
					}
				}
			}
			if headEnd >= 0 {
				if length >= 0 && len(got)-headEnd >= length {
					return first, now.Sub(t0), nil
				}
				if chunked && bytes.HasSuffix(got, []byte("\r\n0\r\n\r\n")) {
					return first, now.Sub(t0), nil
				}
			}
		}
		if rerr != nil {
			if len(got) == 0 && (errors.Is(rerr, io.EOF) || errors.Is(rerr, syscall.ECONNRESET)) {
				return 0, 0, errIdleClosed
			}
			return 0, 0, fmt.Errorf("%s: %v", t.name, rerr)
		}
	}
}

type c1Row struct {
	Name      string    `json:"name"`
	LatencyUs stats     `json:"latencyUs"`
	TtftUs    stats     `json:"ttftUs"`
	RoundP50  []float64 `json:"roundP50Us"`
	RoundTtft []float64 `json:"roundTtftP50Us"`
}

type c1Result struct {
	Mode        string  `json:"mode"`
	Rounds      int     `json:"rounds"`
	Block       int     `json:"block"`
	StreamBlock int     `json:"streamBlock"`
	StreamModel string  `json:"streamModel"`
	Seconds     float64 `json:"seconds"`
	Rows        []c1Row `json:"rows"`
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	c := append([]float64(nil), xs...)
	return summarise(c).P50
}

func runC1(args []string) {
	fs := flag.NewFlagSet("c1", flag.ExitOnError)
	var specs targetList
	fs.Var(&specs, "target", "name|URL[|Header: value]... (repeatable, at least one)")
	model := fs.String("model", "emu", "model of the non-streaming requests")
	streamModel := fs.String("stream-model", "emu-c2-i5", "model of the streams (empty: no streams)")
	rounds := fs.Int("rounds", 40, "rounds (each visits every target once)")
	warmRounds := fs.Int("warm-rounds", 2, "unmeasured rounds first")
	block := fs.Int("block", 25, "non-streaming requests per visit, back to back (the first is not counted)")
	streamBlock := fs.Int("stream-block", 6, "streams per visit, back to back (the first is not counted)")
	warm := fs.Int("warm", 1000, "unmeasured requests per target first, back to back (and a tenth as many streams): JIT warm-up")
	skip := fs.Int("skip", 1, "requests and streams not counted at the start of each visit")
	gap := fs.Duration("gap", 30*time.Millisecond, "pause after each visit, so work a system deferred (timers, log batches) does not fall into the next one's")
	think := fs.Duration("think", 0, "pause between the requests of a visit (0: back to back, a closed loop at c=1)")
	seed := fs.Int64("seed", 1, "seed of the per-round visiting order")
	timeout := fs.Duration("timeout", 10*time.Second, "per-request timeout")
	_ = fs.Parse(args)
	if len(specs) == 0 {
		fatal("c1 needs at least one -target")
	}
	if *block <= *skip || (*streamModel != "" && *streamBlock <= *skip) {
		fatal("-block and -stream-block must be larger than -skip")
	}
	targets := make([]*c1Target, len(specs))
	for i, s := range specs {
		targets[i] = parseTarget(s)
		targets[i].dial()
	}
	lat := make([][]float64, len(targets))
	ttft := make([][]float64, len(targets))
	roundP50 := make([][]float64, len(targets))
	roundTtft := make([][]float64, len(targets))
	begin := time.Now()
	for _, t := range targets {
		req, sreq := t.requestBytes(*model, false), t.requestBytes(*streamModel, true)
		for j := 0; j < *warm; j++ {
			if _, _, err := t.send(req, false, *timeout); err != nil {
				fatal("%v", err)
			}
			if *streamModel != "" && j%10 == 0 {
				if _, _, err := t.send(sreq, true, *timeout); err != nil {
					fatal("%v", err)
				}
			}
		}
	}
	// visit sends n requests back to back and returns, past the first *skip, the time to the first
	// content chunk of each (streams) or to the end of its answer.
	visit := func(t *c1Target, req []byte, stream bool, n int) []float64 {
		var took []float64
		for j := 0; j < n; j++ {
			if j > 0 && *think > 0 {
				time.Sleep(*think)
			}
			first, total, err := t.send(req, stream, *timeout)
			if err != nil {
				fatal("%v", err)
			}
			if j >= *skip {
				if stream {
					total = first
				}
				took = append(took, micros(total))
			}
		}
		return took
	}
	order := rand.New(rand.NewSource(*seed))
	for r := 0; r < *warmRounds+*rounds; r++ {
		measured := r >= *warmRounds
		// A fresh order every round: no system always follows the same one, so what one leaves
		// running on the shared gateway core does not fall on the same neighbour every time.
		for _, i := range order.Perm(len(targets)) {
			time.Sleep(*gap)
			t := targets[i]
			these := visit(t, t.requestBytes(*model, false), false, *block)
			if measured {
				lat[i] = append(lat[i], these...)
				roundP50[i] = append(roundP50[i], median(these))
			}
			if *streamModel == "" {
				continue
			}
			firsts := visit(t, t.requestBytes(*streamModel, true), true, *streamBlock)
			if measured {
				ttft[i] = append(ttft[i], firsts...)
				roundTtft[i] = append(roundTtft[i], median(firsts))
			}
		}
	}
	res := c1Result{Mode: "c1", Rounds: *rounds, Block: *block, StreamBlock: *streamBlock, StreamModel: *streamModel, Seconds: time.Since(begin).Seconds()}
	for i, t := range targets {
		t.conn.Close()
		res.Rows = append(res.Rows, c1Row{Name: t.name, LatencyUs: summarise(lat[i]), TtftUs: summarise(ttft[i]), RoundP50: roundP50[i], RoundTtft: roundTtft[i]})
	}
	emit(res)
}
