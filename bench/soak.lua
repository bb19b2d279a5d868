-- bench/soak.lua - the wrk script of bench/soak.sh: rotates over the request
-- paths of $SOAK_PATHS ('|'-separated, with their query strings), POSTs the
-- file $SOAK_BODY when set (a token for /dataselect/restricted), counts the
-- answers by status and prints them with the p50 and p99 latencies:
--   status CODE N / p50_ms X / p99_ms X / errors connect=N read=N write=N timeout=N
local threads = {}
local paths = {}
for p in string.gmatch(os.getenv("SOAK_PATHS") or "/", "[^|]+") do
	table.insert(paths, p)
end
local body_file = os.getenv("SOAK_BODY")
local body = nil
if body_file and body_file ~= "" then
	local f = assert(io.open(body_file, "rb"))
	body = f:read("*a")
	f:close()
end
local n = 0
statuses = {}

function setup(thread)
	table.insert(threads, thread)
end

function request()
	n = n + 1
	local p = paths[n % #paths + 1]
	if body then
		return wrk.format("POST", p, { ["Content-Type"] = "application/octet-stream" }, body)
	end
	return wrk.format("GET", p)
end

function response(status, headers, b)
	statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
	local all = {}
	for _, t in ipairs(threads) do
		for k, v in pairs(t:get("statuses")) do
			all[k] = (all[k] or 0) + v
		end
	end
	for k, v in pairs(all) do
		io.write(string.format("status %d %d\n", k, v))
	end
	io.write(string.format("p50_ms %.2f\np99_ms %.2f\n", latency:percentile(50) / 1000,
		latency:percentile(99) / 1000))
	io.write(string.format("errors connect=%d read=%d write=%d timeout=%d\n", summary.errors.connect,
		summary.errors.read, summary.errors.write, summary.errors.timeout))
end
