// Command loadgen drives the benchmark scenarios that wrk cannot: constant-rate (open-loop) load
// with coordinated-omission-corrected latencies, streaming requests with a timestamp per chunk, and
// holding many streams open while sampling a process's memory. It prints one JSON object.
//
//	loadgen rate   -url U -rate 2000 -duration 5s [-warmup 1s] [-conns 256]
//	loadgen closed -url U -conc 64 -duration 5s
//	loadgen stream -url U -model emu-c20-i10 -count 200 -conc 4 -interval 10ms
//	loadgen hold   -url U -model emu-c300-i100 -streams 1000 -pids 123,456
//	loadgen c1     -target 'name|URL[|Header: v]...' -target ... -rounds 40 -block 25
//
// Every mode is bounded in time and count, and only talks to loopback addresses.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type headerList []string

func (h *headerList) String() string     { return strings.Join(*h, ",") }
func (h *headerList) Set(v string) error { *h = append(*h, v); return nil }

type common struct {
	url     string
	model   string
	headers headerList
	timeout time.Duration
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.url, "url", "", "chat completions URL (loopback only)")
	fs.StringVar(&c.model, "model", "emu", "model name to send")
	fs.Var(&c.headers, "H", "extra request header 'name: value' (repeatable)")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "per-request timeout")
}

func (c *common) check() {
	u, err := url.Parse(c.url)
	if err != nil {
		fatal("bad -url: %v", err)
	}
	host := u.Hostname()
	if host != "127.0.0.1" && host != "localhost" && host != "::1" {
		fatal("-url must be a loopback address, got %q", host)
	}
}

func (c *common) request(ctx context.Context, stream bool) *http.Request {
	body := `{"model":` + strconv.Quote(c.model) + `,"messages":[{"role":"user","content":"Say hello in one short sentence."}],"max_tokens":32`
	if stream {
		body += `,"stream":true,"stream_options":{"include_usage":true}`
	}
	body += "}"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, strings.NewReader(body))
	if err != nil {
		fatal("request: %v", err)
	}
	req.Header.Set("content-type", "application/json")
	req.Header.Set("authorization", "Bearer sk-bench-not-a-real-key")
	for _, h := range c.headers {
		name, value, ok := strings.Cut(h, ":")
		if !ok {
			fatal("bad -H %q", h)
		}
		req.Header.Set(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	return req
}

func client(conns int, timeout time.Duration) *http.Client {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns + 16,
		MaxIdleConnsPerHost: conns + 16,
		MaxConnsPerHost:     0,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true, // no accept-encoding: gzip, so no gateway compresses (and buffers) a stream
		ForceAttemptHTTP2:   false,
	}
	return &http.Client{Transport: tr, Timeout: timeout}
}

func fatal(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "loadgen: "+format+"\n", args...)
	os.Exit(2)
}

// stats summarises durations in microseconds.
type stats struct {
	Count int     `json:"count"`
	Min   float64 `json:"min"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p999"`
	Max   float64 `json:"max"`
	Mean  float64 `json:"mean"`
}

func summarise(us []float64) stats {
	if len(us) == 0 {
		return stats{}
	}
	sort.Float64s(us)
	pick := func(q float64) float64 {
		i := int(q*float64(len(us))+0.5) - 1
		if i < 0 {
			i = 0
		}
		if i >= len(us) {
			i = len(us) - 1
		}
		return us[i]
	}
	sum := 0.0
	for _, v := range us {
		sum += v
	}
	return stats{Count: len(us), Min: us[0], P50: pick(0.50), P90: pick(0.90), P99: pick(0.99), P999: pick(0.999), Max: us[len(us)-1], Mean: sum / float64(len(us))}
}

func micros(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }

func emit(v any) {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		fatal("encode: %v", err)
	}
}

// doOne sends one non-streaming request and reads the whole body.
func doOne(hc *http.Client, c *common) error {
	resp, err := hc.Do(c.request(context.Background(), false))
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

type errCounter struct {
	mu    sync.Mutex
	count int
	first string
}

func (e *errCounter) n() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.count
}

func (e *errCounter) add(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.count++
	if e.first == "" {
		e.first = err.Error()
	}
}

// ---- rate: open loop at a constant rate, latency measured from the intended send time ----

type rateResult struct {
	Mode         string  `json:"mode"`
	TargetRate   float64 `json:"targetRate"`
	AchievedRate float64 `json:"achievedRate"`
	Sent         int     `json:"sent"`
	OK           int     `json:"ok"`
	Errors       int     `json:"errors"`
	FirstError   string  `json:"firstError,omitempty"`
	// Latency from the scheduled send time (includes waiting for a free connection): wrk2-style.
	LatencyUs stats `json:"latencyUs"`
	// Latency from the actual send time (service time only).
	ServiceUs stats `json:"serviceUs"`
}

func runRate(args []string) {
	fs := flag.NewFlagSet("rate", flag.ExitOnError)
	var c common
	c.register(fs)
	rate := fs.Float64("rate", 1000, "requests per second")
	duration := fs.Duration("duration", 5*time.Second, "measured duration")
	warmup := fs.Duration("warmup", time.Second, "unmeasured lead-in at the same rate")
	conns := fs.Int("conns", 256, "maximum connections (requests in flight)")
	_ = fs.Parse(args)
	c.check()
	hc := client(*conns, c.timeout)

	total := int((*warmup + *duration).Seconds() * *rate)
	measuredFrom := int(warmup.Seconds() * *rate)
	type job struct {
		i        int
		intended time.Time
	}
	jobs := make(chan job, total)
	lat := make([]float64, total)
	svc := make([]float64, total)
	okFlags := make([]bool, total)
	var errs errCounter
	var wg sync.WaitGroup
	for w := 0; w < *conns; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				sent := time.Now()
				err := doOne(hc, &c)
				done := time.Now()
				if err != nil {
					errs.add(err)
					continue
				}
				okFlags[j.i] = true
				lat[j.i] = micros(done.Sub(j.intended))
				svc[j.i] = micros(done.Sub(sent))
			}
		}()
	}
	start := time.Now().Add(5 * time.Millisecond)
	period := float64(time.Second) / *rate
	for i := 0; i < total; {
		now := time.Now()
		due := int(float64(now.Sub(start))/period) + 1
		if due > total {
			due = total
		}
		// Latency counts from when a request was due or, if the scheduler woke late, from when it
		// woke: time spent waiting for a free connection is the system's, timer slack is not.
		for ; i < due; i++ {
			intended := start.Add(time.Duration(float64(i) * period))
			if intended.Before(now) {
				intended = now
			}
			jobs <- job{i: i, intended: intended}
		}
		if i < total {
			next := start.Add(time.Duration(float64(i) * period))
			if d := time.Until(next); d > 0 {
				time.Sleep(d)
			}
		}
	}
	close(jobs)
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(c.timeout + 5*time.Second):
	}
	elapsed := time.Since(start.Add(*warmup))
	var l, s []float64
	ok := 0
	for i := measuredFrom; i < total; i++ {
		if okFlags[i] {
			ok++
			l = append(l, lat[i])
			s = append(s, svc[i])
		}
	}
	emit(rateResult{
		Mode: "rate", TargetRate: *rate, AchievedRate: float64(ok) / elapsed.Seconds(),
		Sent: total - measuredFrom, OK: ok, Errors: errs.count, FirstError: errs.first,
		LatencyUs: summarise(l), ServiceUs: summarise(s),
	})
}

// ---- closed: N workers back to back (a fallback for wrk, and a cross-check) ----

type closedResult struct {
	Mode        string  `json:"mode"`
	Concurrency int     `json:"concurrency"`
	Requests    int     `json:"requests"`
	Errors      int     `json:"errors"`
	FirstError  string  `json:"firstError,omitempty"`
	Rps         float64 `json:"rps"`
	LatencyUs   stats   `json:"latencyUs"`
}

func runClosed(args []string) {
	fs := flag.NewFlagSet("closed", flag.ExitOnError)
	var c common
	c.register(fs)
	conc := fs.Int("conc", 1, "concurrent requests")
	duration := fs.Duration("duration", 5*time.Second, "measured duration")
	warmup := fs.Duration("warmup", time.Second, "unmeasured lead-in")
	_ = fs.Parse(args)
	c.check()
	hc := client(*conc, c.timeout)
	var errs errCounter
	results := make([][]float64, *conc)
	begin := time.Now()
	measureFrom := begin.Add(*warmup)
	end := measureFrom.Add(*duration)
	var wg sync.WaitGroup
	for w := 0; w < *conc; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for {
				t0 := time.Now()
				if t0.After(end) {
					return
				}
				err := doOne(hc, &c)
				if err != nil {
					errs.add(err)
					continue
				}
				if t0.After(measureFrom) {
					results[w] = append(results[w], micros(time.Since(t0)))
				}
			}
		}(w)
	}
	wg.Wait()
	var all []float64
	for _, r := range results {
		all = append(all, r...)
	}
	emit(closedResult{Mode: "closed", Concurrency: *conc, Requests: len(all), Errors: errs.count, FirstError: errs.first,
		Rps: float64(len(all)) / duration.Seconds(), LatencyUs: summarise(all)})
}

// ---- stream: timestamps per SSE event ----

type streamTrace struct {
	sent    time.Time
	headers time.Time
	events  []time.Time // content-bearing chunks, when they arrived
	delays  []float64   // per chunk: arrival minus the time the emulator wrote it, in µs
	usage   bool
	done    bool
	err     error
	perRead int // most content events that arrived in one read
	// Content events that arrived in the same read as an earlier one: delivered together.
	coalesced int
}

var emitted = []byte(`"content":"tok`)

// emitTime extracts the emulator's write time from `"content":"tok<i>@<unix ns> "`.
func emitTime(data []byte) (time.Time, bool) {
	i := bytes.Index(data, emitted)
	if i < 0 {
		return time.Time{}, false
	}
	rest := data[i+len(emitted):]
	at := bytes.IndexByte(rest, '@')
	if at < 0 {
		return time.Time{}, true
	}
	end := at + 1
	for end < len(rest) && rest[end] >= '0' && rest[end] <= '9' {
		end++
	}
	ns, err := strconv.ParseInt(string(rest[at+1:end]), 10, 64)
	if err != nil {
		return time.Time{}, true
	}
	return time.Unix(0, ns), true
}

// readStream reads SSE events, timestamping each complete event when the bytes that complete it
// arrive. Two events arriving in the same read get the same timestamp: that is coalescing.
func readStream(body io.Reader, tr *streamTrace) {
	buf := make([]byte, 64*1024)
	var pending []byte
	for {
		n, err := body.Read(buf)
		if n > 0 {
			now := time.Now()
			pending = append(pending, buf[:n]...)
			inRead := 0
			for {
				idx := bytes.Index(pending, []byte("\n\n"))
				if idx < 0 {
					break
				}
				ev := pending[:idx]
				pending = pending[idx+2:]
				for _, line := range bytes.Split(ev, []byte("\n")) {
					data, ok := bytes.CutPrefix(line, []byte("data:"))
					if !ok {
						continue
					}
					data = bytes.TrimSpace(data)
					if bytes.Equal(data, []byte("[DONE]")) {
						tr.done = true
						continue
					}
					if bytes.Contains(data, []byte(`"usage":{`)) {
						tr.usage = true
					}
					if at, ok := emitTime(data); ok {
						tr.events = append(tr.events, now)
						if !at.IsZero() {
							tr.delays = append(tr.delays, micros(now.Sub(at)))
						}
						inRead++
					}
				}
			}
			if inRead > tr.perRead {
				tr.perRead = inRead
			}
			if inRead > 1 {
				tr.coalesced += inRead - 1
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				tr.err = err
			}
			return
		}
	}
}

func oneStream(hc *http.Client, c *common, ctx context.Context) *streamTrace {
	tr := &streamTrace{sent: time.Now()}
	resp, err := hc.Do(c.request(ctx, true))
	if err != nil {
		tr.err = err
		return tr
	}
	defer resp.Body.Close()
	tr.headers = time.Now()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		tr.err = fmt.Errorf("status %d: %s", resp.StatusCode, strings.TrimSpace(string(b)))
		return tr
	}
	readStream(resp.Body, tr)
	return tr
}

type streamResult struct {
	Mode           string  `json:"mode"`
	Streams        int     `json:"streams"`
	Errors         int     `json:"errors"`
	FirstError     string  `json:"firstError,omitempty"`
	ExpectedChunks int     `json:"expectedChunks"`
	CompleteChunks int     `json:"streamsWithAllChunks"`
	WithUsage      int     `json:"streamsWithUsage"`
	WithDone       int     `json:"streamsWithDone"`
	IntervalMs     float64 `json:"intervalMs"`
	TtftUs         stats   `json:"ttftUs"`
	HeadersUs      stats   `json:"headersUs"`
	GapUs          stats   `json:"gapUs"`
	// Per chunk: arrival at the client minus the time the emulator wrote it.
	ChunkDelayUs stats `json:"chunkDelayUs"`
	// Content chunks that arrived in the same read as an earlier one (delivered together), and
	// gaps shorter than a quarter of the interval.
	CoalescedChunks  int     `json:"coalescedChunks"`
	CoalescedFrac    float64 `json:"coalescedFraction"`
	ShortGaps        int     `json:"shortGaps"`
	MaxEventsPerRead int     `json:"maxEventsPerRead"`
	// |gap - interval| percentiles: how far each gap is from the emulator's interval.
	JitterUs stats `json:"jitterUs"`
}

func runStream(args []string) {
	fs := flag.NewFlagSet("stream", flag.ExitOnError)
	var c common
	c.register(fs)
	count := fs.Int("count", 100, "streams to run")
	conc := fs.Int("conc", 1, "streams at once")
	expected := fs.Int("chunks", 20, "content chunks the emulator sends (for the completeness check)")
	interval := fs.Duration("interval", 10*time.Millisecond, "the emulator's chunk interval")
	warm := fs.Int("warm", 5, "unmeasured streams first")
	_ = fs.Parse(args)
	c.check()
	hc := client(*conc, c.timeout)
	for i := 0; i < *warm; i++ {
		oneStream(hc, &c, context.Background())
	}
	traces := make([]*streamTrace, *count)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < *conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= *count {
					return
				}
				traces[i] = oneStream(hc, &c, context.Background())
			}
		}()
	}
	wg.Wait()
	res := streamResult{Mode: "stream", Streams: *count, ExpectedChunks: *expected, IntervalMs: float64(interval.Microseconds()) / 1e3}
	var ttft, hdr, gaps, jitter, delays []float64
	chunks := 0
	iv := micros(*interval)
	for _, tr := range traces {
		if tr.err != nil {
			res.Errors++
			if res.FirstError == "" {
				res.FirstError = tr.err.Error()
			}
			continue
		}
		if len(tr.events) == 0 {
			res.Errors++
			if res.FirstError == "" {
				res.FirstError = "stream had no content chunks"
			}
			continue
		}
		if len(tr.events) == *expected {
			res.CompleteChunks++
		}
		if tr.usage {
			res.WithUsage++
		}
		if tr.done {
			res.WithDone++
		}
		if tr.perRead > res.MaxEventsPerRead {
			res.MaxEventsPerRead = tr.perRead
		}
		res.CoalescedChunks += tr.coalesced
		chunks += len(tr.events)
		delays = append(delays, tr.delays...)
		ttft = append(ttft, micros(tr.events[0].Sub(tr.sent)))
		hdr = append(hdr, micros(tr.headers.Sub(tr.sent)))
		for k := 1; k < len(tr.events); k++ {
			g := micros(tr.events[k].Sub(tr.events[k-1]))
			gaps = append(gaps, g)
			d := g - iv
			if d < 0 {
				d = -d
			}
			jitter = append(jitter, d)
			if g < iv/4 {
				res.ShortGaps++
			}
		}
	}
	if chunks > 0 {
		res.CoalescedFrac = float64(res.CoalescedChunks) / float64(chunks)
	}
	res.ChunkDelayUs = summarise(delays)
	res.TtftUs, res.HeadersUs, res.GapUs, res.JitterUs = summarise(ttft), summarise(hdr), summarise(gaps), summarise(jitter)
	emit(res)
}

// ---- hold: many concurrent open streams, memory sampled meanwhile ----

type memSample struct {
	Pid     int   `json:"pid"`
	RssKiB  int64 `json:"vmRssKiB"`
	HwmKiB  int64 `json:"vmHwmKiB"`
	Missing bool  `json:"missing,omitempty"`
}

func readStatus(pid int) memSample {
	s := memSample{Pid: pid}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		s.Missing = true
		return s
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		field := func(prefix string) (int64, bool) {
			v, ok := strings.CutPrefix(line, prefix)
			if !ok {
				return 0, false
			}
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n, true
		}
		if n, ok := field("VmRSS:"); ok {
			s.RssKiB = n
		} else if n, ok := field("VmHWM:"); ok {
			s.HwmKiB = n
		}
	}
	return s
}

type holdResult struct {
	Mode       string `json:"mode"`
	Requested  int    `json:"requested"`
	Opened     int    `json:"opened"`
	Errors     int    `json:"errors"`
	FirstError string `json:"firstError,omitempty"`
	// Largest summed VmRSS seen while all opened streams were live.
	PeakRssKiB int64       `json:"peakRssKiB"`
	Before     []memSample `json:"before"`
	During     []memSample `json:"during"`
	OpenMs     float64     `json:"openMs"`
}

func runHold(args []string) {
	fs := flag.NewFlagSet("hold", flag.ExitOnError)
	var c common
	c.register(fs)
	streams := fs.Int("streams", 1000, "streams to hold open at once")
	ramp := fs.Duration("ramp", 2*time.Second, "spread the stream starts over this long")
	hold := fs.Duration("hold", 4*time.Second, "keep them open (and sample memory) this long after all are open")
	openWait := fs.Duration("open-wait", 20*time.Second, "give up waiting for all streams to open after this")
	pidList := fs.String("pids", "", "comma-separated pids whose memory to sample")
	_ = fs.Parse(args)
	c.check()
	var pids []int
	for _, p := range strings.Split(*pidList, ",") {
		if p = strings.TrimSpace(p); p != "" {
			n, err := strconv.Atoi(p)
			if err != nil {
				fatal("bad pid %q", p)
			}
			pids = append(pids, n)
		}
	}
	sample := func() []memSample {
		out := make([]memSample, 0, len(pids))
		for _, p := range pids {
			out = append(out, readStatus(p))
		}
		return out
	}
	res := holdResult{Mode: "hold", Requested: *streams, Before: sample()}
	hc := client(*streams, *openWait+*hold+*ramp+30*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	var opened atomic.Int64
	var errs errCounter
	var wg sync.WaitGroup
	begin := time.Now()
	step := *ramp / time.Duration(*streams)
	for i := 0; i < *streams; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			time.Sleep(time.Duration(i) * step)
			resp, err := hc.Do(c.request(ctx, true))
			if err != nil {
				if ctx.Err() == nil {
					errs.add(err)
				}
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				errs.add(fmt.Errorf("status %d", resp.StatusCode))
				return
			}
			br := bufio.NewReader(resp.Body)
			first := true
			for {
				line, err := br.ReadBytes('\n')
				if first && bytes.Contains(line, []byte(`"content":"tok`)) {
					first = false
					opened.Add(1)
				}
				if err != nil {
					if first && ctx.Err() == nil {
						errs.add(fmt.Errorf("stream ended before its first chunk: %v", err))
					}
					return
				}
			}
		}(i)
	}
	deadline := time.Now().Add(*ramp + *openWait)
	for time.Now().Before(deadline) && int(opened.Load())+errs.n() < *streams {
		time.Sleep(50 * time.Millisecond)
	}
	res.OpenMs = float64(time.Since(begin).Microseconds()) / 1e3
	res.Opened = int(opened.Load())
	holdUntil := time.Now().Add(*hold)
	for time.Now().Before(holdUntil) {
		s := sample()
		var sum int64
		for _, m := range s {
			sum += m.RssKiB
		}
		if sum > res.PeakRssKiB {
			res.PeakRssKiB = sum
			res.During = s
		}
		time.Sleep(200 * time.Millisecond)
	}
	if res.During == nil {
		res.During = sample()
	}
	// Read VmHWM once more at the end: the kernel's own peak.
	final := sample()
	for i := range res.During {
		if i < len(final) {
			res.During[i].HwmKiB = final[i].HwmKiB
		}
	}
	cancel()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
	}
	res.Errors, res.FirstError = errs.count, errs.first
	emit(res)
}

func main() {
	if len(os.Args) < 2 {
		fatal("usage: loadgen rate|closed|stream|hold|c1 [flags]")
	}
	// A hard stop, whatever the mode: nothing here runs longer than ten minutes.
	time.AfterFunc(10*time.Minute, func() { fatal("ran longer than ten minutes; giving up") })
	switch os.Args[1] {
	case "rate":
		runRate(os.Args[2:])
	case "closed":
		runClosed(os.Args[2:])
	case "stream":
		runStream(os.Args[2:])
	case "hold":
		runHold(os.Args[2:])
	case "c1":
		runC1(os.Args[2:])
	default:
		fatal("unknown mode %q", os.Args[1])
	}
}
