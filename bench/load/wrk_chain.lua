-- wrk script of the bench: refresh-token chains, or bearer-token GETs.
--
-- Run by bench/load/wrkgen.py as
--   BENCH_WRK_SPEC=SPEC wrk -t N -c N -d SECONDS -s bench/load/wrk_chain.lua URL
-- with as many threads as connections, so each wrk thread (its own Lua
-- state) owns exactly one connection and request()/response() alternate for
-- that connection: the thread's globals are the connection's chain.
--
-- SPEC is a text file, one "key value" per line:
--   kind refresh | resource | mcp   what to send
--   mode duration | count       stop after the window, or after N responses
--   warmup S / duration S       duration mode: the measured window per thread
--   requests N                  count mode: responses per connection
--   path /oauth2/token          the request path
--   authorization Basic ...     refresh: the client's HTTP Basic header
--   out FILE                    where done() writes the JSON result
--   finished FILE               each thread appends its index when done
--   conn TOKEN [SPARE ...]      one line per connection, in order: refresh:
--                               its current refresh token then spare grants;
--                               resource: its access token; mcp: its access
--                               token and its MCP session id
--
-- refresh: each connection POSTs grant_type=refresh_token with its current
-- token and takes the refresh_token a 200 returns (rotation), or keeps its
-- own when none comes back. A 400/401 breaks the chain: it is counted as an
-- error and the connection moves on to a spare grant (bench/load/loadgen.py does
-- the same). Without one the connection is done; as wrk cannot close it, it
-- goes on sending the dead token, uncounted, until the others are done.
-- resource: each connection GETs the path with "Authorization: Bearer TOKEN".
-- mcp: each connection POSTs an MCP tools/call of the tool "whoami" (JSON-RPC,
-- streamable HTTP) to the path with its bearer token and its session
-- (Mcp-Session-Id, opened by the bench); a 200 whose body holds no "result",
-- or a tool error ("isError":true), is an error.
--
-- Stopping: a connection whose window (or count) is over appends its index
-- to the "finished" file, and keeps sending, uncounted, until every
-- connection has finished; then each stops itself (wrk.thread:stop()) right
-- after its next response. Stopping at once would not do: after every
-- response wrk reconnects (gunicorn's sync workers close the connection),
-- and a stopped thread's idle connection holds a sync worker until wrk exits.
-- Stopping right after a response leaves no refresh in flight, so the chain's
-- token stays known for the next run. The bench then interrupts wrk (SIGINT)
-- instead of waiting out -d, which is only a bound.
-- Latency: request written (after the TCP connect) to response read, of the
-- 200s inside the window, on CLOCK_MONOTONIC through LuaJIT's ffi.

local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } frg_timespec;
int clock_gettime(int clk_id, frg_timespec *tp);
]])
local CLOCK_MONOTONIC = 1
local timespec = ffi.new("frg_timespec")

local function now()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, timespec)
  return tonumber(timespec.tv_sec) + tonumber(timespec.tv_nsec) * 1e-9
end

local function read_spec(path)
  local spec = { conns = {} }
  for line in io.lines(path) do
    local key, rest = line:match("^(%S+)%s*(.-)%s*$")
    if key == "conn" then
      local tokens = {}
      for token in rest:gmatch("%S+") do
        tokens[#tokens + 1] = token
      end
      spec.conns[#spec.conns + 1] = tokens
    elseif key then
      spec[key] = rest
    end
  end
  return spec
end

local spec_path = os.getenv("BENCH_WRK_SPEC")
if not spec_path then
  error("BENCH_WRK_SPEC is not set")
end
local spec = read_spec(spec_path)
local kind = spec.kind or "refresh"
local mode = spec.mode or "duration"
local warmup = tonumber(spec.warmup or "0")
local duration = tonumber(spec.duration or "0")
local limit = tonumber(spec.requests or "0")

-- -- the main Lua state: one wrk.thread per connection, then the report --------

local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
  thread:set("index", #threads)
end

local function encode(value)
  local t = type(value)
  if t == "nil" then
    return "null"
  elseif t == "boolean" then
    return value and "true" or "false"
  elseif t == "number" then
    return string.format("%.6g", value)
  elseif t == "string" then
    return '"' .. value:gsub('[%c"\\]', function(c)
      return string.format("\\u%04x", c:byte())
    end) .. '"'
  end
  local parts = {}
  if #value > 0 or next(value) == nil then
    for i = 1, #value do
      parts[i] = encode(value[i])
    end
    return "[" .. table.concat(parts, ",") .. "]"
  end
  for k, v in pairs(value) do
    parts[#parts + 1] = encode(tostring(k)) .. ":" .. encode(v)
  end
  return "{" .. table.concat(parts, ",") .. "}"
end

function done(summary, latency, requests)
  local conns = {}
  for i, thread in ipairs(threads) do
    local latencies = thread:get("latencies") or {}
    local ms = {}
    for j = 1, #latencies do
      ms[j] = string.format("%.4f", latencies[j] * 1000)
    end
    conns[i] = {
      ok = thread:get("ok") or 0,
      sent = thread:get("sent") or 0,
      errors = thread:get("errors") or {},
      token = thread:get("token"),
      spare = thread:get("spares") or {},
      broken = thread:get("broken") or false,
      inflight = thread:get("inflight") or false,
      finished = thread:get("finished") or false,
      -- Raw text: the numbers as they are, without a second encoding.
      latencies_ms = "[" .. table.concat(ms, ",") .. "]",
    }
  end
  local out = assert(io.open(spec.out, "w"))
  local body = encode({
    connections = conns,
    wrk_duration_us = summary.duration,
    wrk_requests = summary.requests,
    socket_errors = summary.errors,
  })
  -- latencies_ms went in as strings: unquote them into JSON arrays.
  body = body:gsub('"latencies_ms":"(%[[^"]*%])"', '"latencies_ms":%1')
  out:write(body, "\n")
  out:close()
end

-- -- each thread's Lua state: one connection and its chain ----------------------

ok = 0
sent = 0
errors = {}
latencies = {}
broken = false
inflight = false
finished = false
token = nil
spares = {}

local started, window_start, window_end, sent_at
local fixed_request

local function form_escape(value)
  return (value:gsub("[^%w%-%._~]", function(c)
    return string.format("%%%02X", c:byte())
  end))
end

function init(args)
  local tokens = spec.conns[index] or {}
  token = table.remove(tokens, 1)
  spares = tokens
  started = now()
  window_start = started + warmup
  window_end = window_start + duration
  if kind == "resource" then
    fixed_request = wrk.format("GET", spec.path, {
      ["Authorization"] = "Bearer " .. (token or ""),
    })
  elseif kind == "mcp" then
    fixed_request = wrk.format("POST", spec.path, {
      ["Authorization"] = "Bearer " .. (token or ""),
      ["Accept"] = "application/json, text/event-stream",
      ["Content-Type"] = "application/json",
      ["Mcp-Session-Id"] = spares[1] or "",
    }, '{"jsonrpc":"2.0","id":1,"method":"tools/call",'
      .. '"params":{"name":"whoami","arguments":{}}}')
  end
end

local function all_finished()
  local count = 0
  local file = io.open(spec.finished, "r")
  if file then
    for _ in file:lines() do
      count = count + 1
    end
    file:close()
  end
  return count >= #spec.conns
end

-- This connection's window or count is over: say so, then stop once every
-- connection has, always right after a response (see the header).
local function finish()
  if not finished then
    finished = true
    local file = io.open(spec.finished, "a")
    if file then
      file:write(index, "\n")
      file:close()
    end
  end
  if all_finished() then
    wrk.thread:stop()
  end
end

function request()
  sent_at = now()
  inflight = true
  if fixed_request then
    return fixed_request
  end
  return wrk.format("POST", spec.path, {
    ["Authorization"] = spec.authorization,
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }, "grant_type=refresh_token&refresh_token=" .. form_escape(token or ""))
end

function response(status, headers, body)
  local t = now()
  inflight = false
  sent = sent + 1
  local counted = not finished
    and (mode ~= "duration" or (t >= window_start and t <= window_end))
  -- A JSON-RPC or tool error inside an MCP 200 is an error.
  local refused = kind == "mcp" and status == 200
    and (not body:find('"result"', 1, true) or body:find('"isError":true', 1, true))
  if status == 200 and not refused then
    if kind == "refresh" then
      token = body:match('"refresh_token"%s*:%s*"([^"]+)"') or token
    end
    if counted then
      ok = ok + 1
      latencies[#latencies + 1] = t - sent_at
    end
  else
    if counted then
      local error_code = body:match('"error"%s*:%s*"([%w_]+)"')
      local key = error_code and (status .. " " .. error_code) or tostring(status)
      if refused then
        key = "200 mcp error"
      end
      errors[key] = (errors[key] or 0) + 1
    end
    if kind == "refresh" and (status == 400 or status == 401) then
      -- The chain is broken: move on to a spare grant, or stop.
      if #spares > 0 then
        token = table.remove(spares, 1)
      elseif not broken then
        broken = true -- nothing left to present: this connection is done
        token = nil
        finish()
        return
      end
    end
  end
  if finished or (mode == "duration" and t >= window_end)
    or (mode == "count" and sent >= limit) then
    finish()
  end
end
