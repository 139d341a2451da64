-- wrk script: POST an OpenAI chat completion request and print the result as one JSON line.
-- Environment: BENCH_MODEL (default "emu"), BENCH_HEADERS ("name: value" pairs separated by "|").
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench-not-a-real-key"
local extra = os.getenv("BENCH_HEADERS") or ""
for pair in string.gmatch(extra, "[^|]+") do
  local name, value = string.match(pair, "^%s*([^:]+):%s*(.-)%s*$")
  if name ~= nil then wrk.headers[name] = value end
end
local model = os.getenv("BENCH_MODEL") or "emu"
-- BENCH_PROMPT: the user message (JSON string content, already escaped), e.g. one with PII for capture.
local prompt = os.getenv("BENCH_PROMPT") or "Say hello in one short sentence."
wrk.body = '{"model":"' .. model .. '","messages":[{"role":"user","content":"' .. prompt .. '"}],"max_tokens":32}'

local non2xx = 0
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  bad = 0
end

function response(status, headers, body)
  if status < 200 or status > 299 then bad = bad + 1 end
end

function done(summary, latency, requests)
  for _, t in ipairs(threads) do non2xx = non2xx + (t:get("bad") or 0) end
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"durationUs":%d,"requests":%d,"bytes":%d,"non2xx":%d,"connectErrors":%d,"readErrors":%d,"writeErrors":%d,"timeouts":%d,' ..
    '"latencyUs":{"min":%d,"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d}}\n',
    summary.duration, summary.requests, summary.bytes, non2xx, e.connect, e.read, e.write, e.timeout,
    latency.min, latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9), latency.max))
end
