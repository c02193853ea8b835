-- wrk script for the FlowForge "sum" webhook benchmark.
-- POSTs {"a":4,"b":9} to the path given on the wrk command line (/webhook/sum)
-- and counts non-200 responses and bodies other than {"total":13}.
wrk.method = "POST"
wrk.body   = '{"a":4,"b":9}'
wrk.headers["Content-Type"] = "application/json"

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   non200 = 0
   badbody = 0
   statuses = {}
end

function response(status, headers, body)
   if status ~= 200 then
      non200 = non200 + 1
      statuses[status] = (statuses[status] or 0) + 1
   elseif body ~= '{"total":13}' then
      badbody = badbody + 1
   end
end

function done(summary, latency, requests)
   local n, b = 0, 0
   local all = {}
   for _, t in ipairs(threads) do
      n = n + t:get("non200")
      b = b + t:get("badbody")
      local s = t:get("statuses")
      -- statuses is a table inside the thread; read it field by field
      for code = 100, 599 do
         local c = s and s[code]
         if c then all[code] = (all[code] or 0) + c end
      end
   end
   io.write(string.format("lua: non-200 responses: %d, 200 with unexpected body: %d\n", n, b))
   for code, c in pairs(all) do
      io.write(string.format("lua:   status %d: %d\n", code, c))
   end
   io.write(string.format("lua: total requests %d, socket errors connect %d read %d write %d timeout %d status %d\n",
      summary.requests, summary.errors.connect, summary.errors.read, summary.errors.write,
      summary.errors.timeout, summary.errors.status))
   io.write(string.format("lua: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n",
      latency:percentile(50)/1000, latency:percentile(90)/1000, latency:percentile(99)/1000, latency.max/1000))
end
