-- antifraud - the list script of the Redis store (af_store_redis.c: rds_list).
--
-- The list script. ARGV: now_ms, key prefix, 'b' (bans) or 'c' (sets)
-- and for sets the subject prefix; KEYS[1]: the index. Returns a flat
-- array: per ban subject, since, until, hits, reason; per set subject,
-- count. Prunes the index and the sets it lists.
--
-- Embedded into the module at build time (utils/lua2c.sh): lines that
-- are only a comment, and empty lines, are left out of what Redis gets.
--
-- Copyright (C) 2026 antifraud authors
-- SPDX-License-Identifier: GPL-2.0-or-later

local now = tonumber(ARGV[1])
local pfx = ARGV[2]
local out = {}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local m = redis.call('ZRANGE', KEYS[1], 0, -1)
if ARGV[3] == 'b' then
  for i = 1, #m do
    local v = redis.call('HMGET', pfx .. 'ban:{' .. m[i] .. '}', 's', 'u', 'h', 'r')
    if v[1] and v[2] and v[3] and v[4] and now < tonumber(v[2]) then
      out[#out + 1] = m[i]
      out[#out + 1] = v[1]
      out[#out + 1] = v[2]
      out[#out + 1] = v[3]
      out[#out + 1] = v[4]
    end
  end
else
  local p = ARGV[4]
  for i = 1, #m do
    if string.sub(m[i], 1, #p) == p then
      local ck = pfx .. 'conc:{' .. m[i] .. '}'
      redis.call('ZREMRANGEBYSCORE', ck, '-inf', ARGV[1])
      local n = redis.call('ZCARD', ck)
      if n > 0 then
        out[#out + 1] = m[i]
        out[#out + 1] = n
      else
        redis.call('ZREM', KEYS[1], m[i])
      end
    end
  end
end
return out
