-- bench/wrk/post_order.lua: POST the JSON Schema workload's 1 KiB valid
-- order (order-1k-valid.json, beside this script) with Content-Type
-- application/json, plus the harness's WRKJSON summary line (report.lua,
-- which bench/targets.d/93-portcullis-schema.sh copies beside it).
--   wrk -t2 -c50 -d10s --latency -s bench/wrk/post_order.lua http://127.0.0.1:18461/orders
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local f = assert(io.open(dir .. "order-1k-valid.json", "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
dofile(dir .. "report.lua")
