-- POST /api/v1/otp/verify with a fresh stored code per request (bench/auth.ts stores them).
-- Thread t of a run sends the numbers BENCH_PHONE_FROM + t*BENCH_PHONES_PER_THREAD, +1, +2, ...
local from = tonumber(os.getenv("BENCH_PHONE_FROM"))
local per_thread = tonumber(os.getenv("BENCH_PHONES_PER_THREAD"))
local code = os.getenv("BENCH_CODE")
local threads = 0

function setup(thread)
  thread:set("first", from + threads * per_thread)
  threads = threads + 1
end

local next_phone
function init(args)
  next_phone = first
end

function request()
  local phone = next_phone
  next_phone = next_phone + 1
  local body = '{"phone":"+3620' .. phone .. '","code":"' .. code .. '"}'
  return wrk.format("POST", nil, { ["content-type"] = "application/json" }, body)
end
