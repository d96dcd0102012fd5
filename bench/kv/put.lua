-- wrk script for bench/kv.sh: every request is a PUT of a new random key under /v2/keys/bench/ with a
-- 64-byte form-encoded value, i.e. an etcd v2 "set" that creates a node (and is fsynced before the answer).
--
--   wrk -t1 -c1 -d10s --latency -s bench/kv/put.lua http://127.0.0.1:PORT

local threads = 0

-- Runs in the main Lua state once per wrk thread, before init: give each thread its own seed source.
function setup(thread)
    thread:set("thread_id", threads)
    threads = threads + 1
end

local body = "value=" .. string.rep("0123456789abcdef", 4) -- 64 bytes
local headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }

function init(args)
    -- Each wrk thread has its own Lua state; without distinct seeds every thread would PUT the same keys.
    math.randomseed(os.time() * 1000 + (thread_id or 0) * 7919 + math.floor(os.clock() * 1000000))
end

function request()
    -- 62 random bits in hex: collisions are negligible over millions of requests.
    local key = string.format("%08x%08x", math.random(0, 0x7fffffff), math.random(0, 0x7fffffff))
    return wrk.format("PUT", "/v2/keys/bench/" .. key, headers, body)
end
