-- wrk script of the soak (bench/soak): password grants, refreshes and
-- resource calls, each connection following its own grant.
--
-- Run by bench/soakrun/wrkload.py as
--   SOAK_WRK_SPEC=SPEC wrk -t N -c N -d SECONDS --timeout 30s -s soak.lua URL
-- with one thread per connection, so each wrk thread (its own Lua state) owns
-- one connection and request()/response() alternate for it.
--
-- SPEC is a text file, one "key value" per line:
--   auth1 Basic ...        the HTTP Basic header of the odd connections' client
--   auth2 Basic ...        the same for the even connections' client
--   password FORM          the password grant's form body
--   out FILE               where done() writes the JSON result
--
-- Each connection: a password grant, then refresh, GET /api/me, refresh, …
-- A 400/401 from a refresh (the grant was revoked or reused) or from
-- /api/me starts over with a new password grant; any other failure (a 503
-- while the database restarts, a 5xx) retries the same step. A response
-- that never came (a worker killed under it) is re-sent by wrk: a
-- rotation that was written before the kill is retried with the same token,
-- which the client's grace period answers with the same response.
--
-- Every response is counted by wall-clock second, step, status, error code
-- and, for a 503, whether it carried Retry-After: the soak tells outages
-- from the rest by time.

local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } soak_timespec;
int clock_gettime(int clk_id, soak_timespec *tp);
]])
local CLOCK_REALTIME = 0
local timespec = ffi.new("soak_timespec")

local function wall()
  ffi.C.clock_gettime(CLOCK_REALTIME, timespec)
  return tonumber(timespec.tv_sec) + tonumber(timespec.tv_nsec) * 1e-9
end

local function read_spec(path)
  local spec = {}
  for line in io.lines(path) do
    local key, rest = line:match("^(%S+)%s*(.-)%s*$")
    if key then
      spec[key] = rest
    end
  end
  return spec
end

local spec_path = os.getenv("SOAK_WRK_SPEC")
if not spec_path then
  error("SOAK_WRK_SPEC is not set")
end
local spec = read_spec(spec_path)

-- -- the main Lua state: one thread per connection, then the report ---------

local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
  thread:set("index", #threads)
end

function done(summary, latency, requests)
  local out = assert(io.open(spec.out, "w"))
  out:write('{"socket_errors": {')
  out:write(string.format(
    '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d',
    summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout))
  out:write('}, "requests": ', summary.requests, ', "buckets": {')
  local first = true
  for _, thread in ipairs(threads) do
    local buckets = thread:get("buckets") or {}
    for key, count in pairs(buckets) do
      if not first then
        out:write(", ")
      end
      first = false
      out:write(string.format('"%d|%s": %d', thread:get("index"), key, count))
    end
  end
  out:write("}}\n")
  out:close()
end

-- -- each thread's Lua state: one connection and its grant --------------------

buckets = {}
local step = "password"
local refresh_token, access_token

local function form_escape(value)
  return (value:gsub("[^%w%-%._~]", function(c)
    return string.format("%%%02X", c:byte())
  end))
end

local function authorization()
  return (index % 2 == 1) and spec.auth1 or spec.auth2
end

function request()
  if step == "password" then
    return wrk.format("POST", "/oauth2/token", {
      ["Authorization"] = authorization(),
      ["Content-Type"] = "application/x-www-form-urlencoded",
    }, spec.password)
  elseif step == "refresh" then
    return wrk.format("POST", "/oauth2/token", {
      ["Authorization"] = authorization(),
      ["Content-Type"] = "application/x-www-form-urlencoded",
    }, "grant_type=refresh_token&refresh_token=" .. form_escape(refresh_token))
  end
  return wrk.format("GET", "/api/me", {
    ["Authorization"] = "Bearer " .. access_token,
  })
end

local function count(status, headers, body)
  local code = body:match('"error"%s*:%s*"([%w_]+)"') or ""
  local retry = ""
  if status == 503 then
    local value = headers["Retry-After"] or headers["retry-after"]
    retry = value and "retry-after" or "no-retry-after"
  end
  local key = string.format("%d|%s|%d|%s|%s", math.floor(wall()), step, status, code, retry)
  buckets[key] = (buckets[key] or 0) + 1
end

function response(status, headers, body)
  count(status, headers, body)
  if status == 200 then
    if step == "me" then
      step = "refresh"
      return
    end
    access_token = body:match('"access_token"%s*:%s*"([^"]+)"') or access_token
    refresh_token = body:match('"refresh_token"%s*:%s*"([^"]+)"') or refresh_token
    step = "me"
  elseif status == 400 or status == 401 then
    step = "password"
  end
end
