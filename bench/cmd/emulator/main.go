// Command emulator is the upstream for the benchmarks: a minimal OpenAI-compatible server that
// answers /v1/chat/completions instantly (or after a set latency) and streams N chunks at a set
// interval, with a final usage chunk when stream_options.include_usage is set.
//
// Behaviour per request is encoded in the model name the upstream receives, so that every gateway
// (which rewrites or passes the model) reaches the same behaviour without custom headers:
//
//	emu            defaults from the flags
//	emu-c20-i10    20 content chunks, 10 ms apart
//	emu-l5         5 ms before the response headers
//
// Streamed content is "tok<i>@<unix ns> ": the time the chunk was written, for per-chunk delay.
//
// Tokens: c<N> chunks, i<ms> interval, l<ms> latency; unknown tokens are ignored.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

type behaviour struct {
	chunks   int
	interval time.Duration
	latency  time.Duration
}

type request struct {
	Model         string `json:"model"`
	Stream        bool   `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

var defaults behaviour

var cache sync.Map // model name -> behaviour

func parseModel(model string) behaviour {
	if b, ok := cache.Load(model); ok {
		return b.(behaviour)
	}
	b := defaults
	for _, tok := range strings.Split(model, "-") {
		if len(tok) < 2 {
			continue
		}
		n, err := strconv.Atoi(tok[1:])
		if err != nil || n < 0 {
			continue
		}
		switch tok[0] {
		case 'c':
			b.chunks = n
		case 'i':
			b.interval = time.Duration(n) * time.Millisecond
		case 'l':
			b.latency = time.Duration(n) * time.Millisecond
		}
	}
	cache.Store(model, b)
	return b
}

const usageJSON = `{"prompt_tokens":12,"completion_tokens":%d,"total_tokens":%d,"prompt_tokens_details":{"cached_tokens":0}}`

func completion(model string) []byte {
	return []byte(`{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":` + strconv.Quote(model) +
		`,"choices":[{"index":0,"message":{"role":"assistant","content":"Hello from the benchmark upstream.","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":` +
		fmt.Sprintf(usageJSON, 7, 19) + `}`)
}

func chunk(model string, delta string, finish string) []byte {
	f := "null"
	if finish != "" {
		f = strconv.Quote(finish)
	}
	return []byte(`data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":` + strconv.Quote(model) +
		`,"choices":[{"index":0,"delta":` + delta + `,"logprobs":null,"finish_reason":` + f + `}]}` + "\n\n")
}

func chat(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, `{"error":{"message":"bad body"}}`, http.StatusBadRequest)
		return
	}
	var req request
	if err := json.Unmarshal(body, &req); err != nil {
		w.Header().Set("content-type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":{"message":"invalid JSON","type":"invalid_request_error","param":null,"code":null}}`))
		return
	}
	b := parseModel(req.Model)
	if b.latency > 0 {
		time.Sleep(b.latency)
	}
	if !req.Stream {
		w.Header().Set("content-type", "application/json")
		_, _ = w.Write(completion(req.Model))
		return
	}
	flusher, _ := w.(http.Flusher)
	h := w.Header()
	h.Set("content-type", "text/event-stream")
	h.Set("cache-control", "no-cache")
	w.WriteHeader(http.StatusOK)
	ctx := r.Context()
	start := time.Now()
	for i := 0; i < b.chunks; i++ {
		if i > 0 && b.interval > 0 {
			// Absolute schedule: chunk i leaves at start + i*interval, so timer drift does not add up.
			wait := time.Until(start.Add(time.Duration(i) * b.interval))
			if wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					t.Stop()
					return
				case <-t.C:
				}
			}
		}
		// Each chunk carries the time it left (Unix ns) so the client can measure per-chunk delay.
		text := `"content":"tok` + strconv.Itoa(i) + `@` + strconv.FormatInt(time.Now().UnixNano(), 10) + ` "`
		delta := `{` + text + `}`
		if i == 0 {
			delta = `{"role":"assistant",` + text + `}`
		}
		if _, err := w.Write(chunk(req.Model, delta, "")); err != nil {
			return
		}
		if flusher != nil {
			flusher.Flush()
		}
	}
	tail := chunk(req.Model, `{}`, "stop")
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
		tail = append(tail, []byte(`data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":`+strconv.Quote(req.Model)+
			`,"choices":[],"usage":`+fmt.Sprintf(usageJSON, b.chunks, 12+b.chunks)+"}\n\n")...)
	}
	tail = append(tail, []byte("data: [DONE]\n\n")...)
	_, _ = w.Write(tail)
}

func models(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("content-type", "application/json")
	_, _ = w.Write([]byte(`{"object":"list","data":[{"id":"emu","object":"model","created":1700000000,"owned_by":"bench"}]}`))
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address (loopback only)")
	portFile := flag.String("port-file", "", "write the chosen port here once listening")
	flag.IntVar(&defaults.chunks, "chunks", 16, "default number of content chunks in a stream")
	flag.DurationVar(&defaults.interval, "interval", 10*time.Millisecond, "default interval between chunks")
	flag.DurationVar(&defaults.latency, "latency", 0, "default delay before the response headers")
	maxLife := flag.Duration("max-life", 2*time.Hour, "exit after this long, whatever happens")
	flag.Parse()

	host, _, err := net.SplitHostPort(*addr)
	if err != nil || (host != "127.0.0.1" && host != "localhost" && host != "::1") {
		log.Fatalf("emulator: -addr must be on loopback, got %q", *addr)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", chat)
	mux.HandleFunc("POST /chat/completions", chat)
	mux.HandleFunc("GET /v1/models", models)
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	port := ln.Addr().(*net.TCPAddr).Port
	if *portFile != "" {
		if err := os.WriteFile(*portFile, []byte(strconv.Itoa(port)), 0o644); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Printf("emulator listening on 127.0.0.1:%d\n", port)
	time.AfterFunc(*maxLife, func() { os.Exit(0) })
	log.Fatal(srv.Serve(ln))
}
