-- antifraud - the batch script of the Redis store (af_store_redis.c: rds_exec).
--
-- The batch script. ARGV: now_ms, pregated (1: an invalid WIN_HIT
-- already went over its gate), op count, then per op a packed argument
-- (its code in a byte, then its numbers as big-endian doubles, exact
-- below 2^53, read with one struct.unpack) and its strings (reason,
-- member or history record); KEYS: per op its key (and, for a WIN_HIT
-- that may ban, the ban's key), nothing else: no global index, so the
-- keys of a batch on one subject share its hash slot. Answers
-- done, stopped, r1..rdone with ri = {status, outputs...}: a stop
-- leaves the ops after done out, and a CONC_ADD not run (stop, invalid
-- group) answers {1}. All of it in one string (read by rds_parse):
-- each number as decimal text and ',', each string (ban since, until
-- and reason, history record: any bytes) as its length, ':' and its
-- bytes, and each ri as its field count (a number) and its fields.
--
-- Embedded into the module at build time (utils/lua2c.sh): lines that
-- are only a comment, and empty lines, are left out of what Redis gets.
--
-- Copyright (C) 2026 antifraud authors
-- SPDX-License-Identifier: GPL-2.0-or-later

local now = tonumber(ARGV[1])
local pregated = ARGV[2] == '1'
local nops = tonumber(ARGV[3])
local MAXU = 4294967295
local ai, ki = 4, 1
local res, ty, st, nn, cnt, ifn, gate = {}, {}, {}, {}, {}, {}, {}
local adds = {}
local done, stopped = 0, 0
local sformat, sbyte, sunpack = string.format, string.byte, struct.unpack
local function fmt(x)
  return sformat('%d', x)
end
local snow = fmt(now)
-- the number after an op's code byte
local function unpack1(p)
  local v = sunpack('>d', p, 2)
  return v
end
-- a ban is a string: since and until (20 digits each), hits (10
-- digits), then the reason; the live ban of bk as {since, until, hits,
-- reason}, or nil
local function ban_live(bk)
  local v = redis.call('GET', bk)
  if not v or #v < 50 then return nil end
  local u = string.sub(v, 21, 40)
  if now >= tonumber(u) then
    redis.call('DEL', bk)
    return nil
  end
  return {string.sub(v, 1, 20), u, tonumber(string.sub(v, 41, 50)),
    string.sub(v, 51)}
end
local function ban_put(bk, u, r)
  redis.call('SET', bk, sformat('%020d%020d%010d', now, u, 0) .. r,
    'PX', fmt(u - now))
end
-- a sliding window, as shm_op_win_hit: returns the total
local function win(wk, ws, sms, slice, n)
  local h = redis.call('HGETALL', wk)
  local live = #h > 0
  local w, l, e
  local sl = {}
  for i = 1, #h, 2 do
    local f = h[i]
    if f == 'w' then w = tonumber(h[i + 1])
    elseif f == 'l' then l = tonumber(h[i + 1])
    elseif f == 'e' then e = tonumber(h[i + 1])
    else sl[f] = tonumber(h[i + 1]) end
  end
  if live and (not e or not l or now >= e) then
    redis.call('DEL', wk)
    live = false
  end
  if not live then
    if n == 0 then return 0 end
    sl = {}
    w = nil
    e = nil
  end
  local hset, hdel = {}, {}
  if w ~= ws then
    for f in pairs(sl) do hdel[#hdel + 1] = f end
    sl = {}
    w = ws
    l = slice
    hset[#hset + 1] = 'w'
    hset[#hset + 1] = fmt(ws)
    hset[#hset + 1] = 'l'
    hset[#hset + 1] = fmt(l)
  elseif slice > l then
    for f in pairs(sl) do
      if tonumber(f) <= slice - 16 then
        hdel[#hdel + 1] = f
        sl[f] = nil
      end
    end
    l = slice
    hset[#hset + 1] = 'l'
    hset[#hset + 1] = fmt(l)
  end
  local ne = nil
  if n > 0 then
    local f = fmt(l)
    local c = (sl[f] or 0) + n
    if c > MAXU then c = MAXU end
    sl[f] = c
    hset[#hset + 1] = f
    hset[#hset + 1] = fmt(c)
    -- the expiry (and TTL) move only with the newest slice
    if e ~= (l + 16) * sms then
      ne = (l + 16) * sms
      hset[#hset + 1] = 'e'
      hset[#hset + 1] = fmt(ne)
    end
  end
  if #hdel > 0 then redis.call('HDEL', wk, unpack(hdel)) end
  if #hset > 0 then redis.call('HSET', wk, unpack(hset)) end
  if ne then redis.call('PEXPIRE', wk, fmt(ne - now)) end
  local total = 0
  for _, c in pairs(sl) do total = total + c end
  if total > MAXU then total = MAXU end
  return total
end
-- a figure (shm_op_fig_hit): hash w (window_s), l (newest slice), e
-- (expiry) and per slice number its 8 counts joined by ','; adds n (a
-- table of 8) to the newest slice, returns the 8 totals
local function fig(fk, ws, sms, slice, n)
  local add = false
  for j = 1, 8 do if n[j] > 0 then add = true end end
  local h = redis.call('HGETALL', fk)
  local live = #h > 0
  local w, l, e
  local sl = {}
  for i = 1, #h, 2 do
    local f = h[i]
    if f == 'w' then w = tonumber(h[i + 1])
    elseif f == 'l' then l = tonumber(h[i + 1])
    elseif f == 'e' then e = tonumber(h[i + 1])
    else sl[f] = h[i + 1] end
  end
  if live and (not e or not l or now >= e) then
    redis.call('DEL', fk)
    live = false
  end
  local tot = {0, 0, 0, 0, 0, 0, 0, 0}
  if not live then
    if not add then return tot end
    sl = {}
    w = nil
    e = nil
  end
  local hset, hdel = {}, {}
  if w ~= ws then
    for f in pairs(sl) do hdel[#hdel + 1] = f end
    sl = {}
    w = ws
    l = slice
    hset[#hset + 1] = 'w'
    hset[#hset + 1] = fmt(ws)
    hset[#hset + 1] = 'l'
    hset[#hset + 1] = fmt(l)
  elseif slice > l then
    for f in pairs(sl) do
      if tonumber(f) <= slice - 4 then
        hdel[#hdel + 1] = f
        sl[f] = nil
      end
    end
    l = slice
    hset[#hset + 1] = 'l'
    hset[#hset + 1] = fmt(l)
  end
  local ne = nil
  if add then
    local f = fmt(l)
    local c = {0, 0, 0, 0, 0, 0, 0, 0}
    if sl[f] then
      local j = 1
      for x in string.gmatch(sl[f], '[^,]+') do c[j] = tonumber(x); j = j + 1 end
    end
    local out = {}
    for j = 1, 8 do
      local v = c[j] + n[j]
      if v > MAXU then v = MAXU end
      out[j] = fmt(v)
    end
    sl[f] = table.concat(out, ',')
    hset[#hset + 1] = f
    hset[#hset + 1] = sl[f]
    if e ~= (l + 4) * sms then
      ne = (l + 4) * sms
      hset[#hset + 1] = 'e'
      hset[#hset + 1] = fmt(ne)
    end
  end
  if #hdel > 0 then redis.call('HDEL', fk, unpack(hdel)) end
  if #hset > 0 then redis.call('HSET', fk, unpack(hset)) end
  if ne then redis.call('PEXPIRE', fk, fmt(ne - now)) end
  for _, v in pairs(sl) do
    local j = 1
    for x in string.gmatch(v, '[^,]+') do
      tot[j] = tot[j] + tonumber(x)
      j = j + 1
    end
  end
  for j = 1, 8 do if tot[j] > MAXU then tot[j] = MAXU end end
  return tot
end
-- whether WIN_HIT i adds its n (shm_win_if_new)
local function if_new(i)
  local j = i
  while ifn[j] and ifn[j] > 0 do
    local r = ifn[j]
    if r < 1 or r >= j then return false end
    if ty[r] ~= 4 or st[r] ~= 0 or nn[r] == 0 or cnt[r] ~= nn[r] then
      return false
    end
    j = r
  end
  return true
end
local function ipkey(rec)
  if string.byte(rec, 1) == 4 then return string.sub(rec, 1, 5) end
  return string.sub(rec, 1, 17)
end
-- a history push, as shm_op_hist_push: returns the kept records;
-- read_only (ro) returns them and writes nothing, not even the
-- records it leaves out (shm keeps them too)
local function hist(hk, ttl, rec, ro)
  local v = redis.call('GET', hk)
  local keep = {}
  if v and now < tonumber(string.sub(v, 1, 20)) then
    for p = 21, #v - 42, 43 do
      local e = string.sub(v, p, p + 42)
      local ts = tonumber(string.sub(e, 24, 43))
      if not (ts <= now and now - ts >= ttl) then
        keep[#keep + 1] = e
      end
    end
  end
  if ro then return keep end
  local k = ipkey(rec)
  local idx = #keep + 1
  for i = 1, #keep do
    if ipkey(keep[i]) == k then
      idx = i
      break
    end
  end
  if idx > #keep and #keep >= 4 then idx = #keep end
  local nv = {string.format('%020d', now + ttl), rec}
  for i = 1, #keep do
    if i ~= idx then nv[#nv + 1] = keep[i] end
  end
  redis.call('SET', hk, table.concat(nv), 'PX', fmt(ttl))
  return keep
end
-- prunes set ck of its expired members; its count
local function cprune(ck)
  redis.call('ZREMRANGEBYSCORE', ck, '-inf', snow)
  return redis.call('ZCARD', ck)
end
for i = 1, nops do
  local p = ARGV[ai]
  ai = ai + 1
  local t = sbyte(p, 1)
  ty[i] = t
  st[i] = 0
  if t == 0 then
    st[i] = -1
    res[i] = {-1}
  elseif t == 1 then
    local bk = KEYS[ki]
    ki = ki + 1
    local v = ban_live(bk)
    if v then
      local h = v[3] + 1
      if h > MAXU then h = MAXU end
      redis.call('SETRANGE', bk, 40, sformat('%010d', h))
      res[i] = {0, 1, v[1], v[2], h, v[4]}
      if sbyte(p, 2) == 1 then
        done = i
        stopped = 1
        break
      end
    else
      res[i] = {0, 0}
    end
  elseif t == 2 then
    local bk = KEYS[ki]
    ki = ki + 1
    ban_put(bk, unpack1(p), ARGV[ai])
    ai = ai + 1
    res[i] = {0}
  elseif t == 3 then
    local bk = KEYS[ki]
    ki = ki + 1
    if ban_live(bk) then
      redis.call('DEL', bk)
      res[i] = {0, 1}
    else
      res[i] = {0, 0}
    end
  elseif t == 4 then
    local wk = KEYS[ki]
    ki = ki + 1
    local ws, sms, slice, n, thr, bu, g, f = sunpack('>dddddddd', p, 2)
    local br = ARGV[ai]
    ai = ai + 1
    gate[i] = g
    ifn[i] = f
    local bk = nil
    if thr > 0 then
      bk = KEYS[ki]
      ki = ki + 1
    end
    nn[i] = n
    if f > 0 and not if_new(i) then n = 0 end
    local c = win(wk, ws, sms, slice, n)
    cnt[i] = c
    local banned = 0
    if thr > 0 and n > 0 and c >= thr and not ban_live(bk) then
      ban_put(bk, bu, br)
      banned = 1
    end
    res[i] = {0, c, banned}
  elseif t == 5 then
    local hk = KEYS[ki]
    ki = ki + 1
    local ttl, ro = sunpack('>dd', p, 2)
    local prev = hist(hk, ttl, ARGV[ai], ro == 1)
    ai = ai + 1
    local r = {0, #prev}
    for j = 1, #prev do r[j + 2] = prev[j] end
    res[i] = r
  elseif t == 6 then
    local lim, exp = sunpack('>dd', p, 2)
    adds[#adds + 1] = {i = i, k = KEYS[ki], m = ARGV[ai], lim = lim, exp = exp, full = 0}
    ki = ki + 1
    ai = ai + 1
    res[i] = {1}
  elseif t == 7 then
    local ck = KEYS[ki]
    ki = ki + 1
    redis.call('ZREMRANGEBYSCORE', ck, '-inf', snow)
    local f = redis.call('ZREM', ck, ARGV[ai])
    ai = ai + 1
    res[i] = {0, redis.call('ZCARD', ck), f}
  elseif t == 8 then
    res[i] = {0, cprune(KEYS[ki])}
    ki = ki + 1
  elseif t == 10 then
    local fk = KEYS[ki]
    ki = ki + 1
    local ws, sms, slice, n1, n2, n3, n4, n5, n6, n7, n8 =
      sunpack('>ddddddddddd', p, 2)
    local tot = fig(fk, ws, sms, slice, {n1, n2, n3, n4, n5, n6, n7, n8})
    res[i] = {0, tot[1], tot[2], tot[3], tot[4], tot[5], tot[6], tot[7], tot[8]}
  else
    res[i] = {1}
  end
  done = i
end
-- the CONC_ADD group, as shm_conc_add_group
if stopped == 0 and #adds > 0 then
  local admit = not pregated
  for i = 1, done do
    if ty[i] == 4 and st[i] == 0 and gate[i] > 0 and cnt[i] > gate[i] then
      admit = false
    end
  end
  local cn, sets = {}, {}
  for x = 1, #adds do
    local c = adds[x]
    if cn[c.k] == nil then
      redis.call('ZREMRANGEBYSCORE', c.k, '-inf', snow)
      cn[c.k] = redis.call('ZCARD', c.k)
      sets[#sets + 1] = {k = c.k, n = cn[c.k], mx = 0}
    end
    c.present = redis.call('ZSCORE', c.k, c.m) ~= false
  end
  local added = {}
  for x = 1, #adds do
    local c = adds[x]
    if not c.present then
      local v = cn[c.k]
      for y = 1, x - 1 do
        local d = adds[y]
        if not d.present and not d.dup and d.k == c.k then
          if d.m == c.m then
            c.dup = y
            break
          end
          v = v + 1
        end
      end
      if not c.dup then
        added[c.k] = (added[c.k] or 0) + 1
        if c.lim > 0 and v >= c.lim then
          c.full = 1
          admit = false
        end
      end
    end
  end
  local fin = {}
  for x = 1, #sets do
    local e = sets[x]
    fin[e.k] = e.n
    if admit then fin[e.k] = e.n + (added[e.k] or 0) end
  end
  if admit then
    for x = 1, #adds do
      local c = adds[x]
      redis.call('ZADD', c.k, fmt(c.exp), c.m)
      for y = 1, #sets do
        if sets[y].k == c.k and c.exp > sets[y].mx then
          sets[y].mx = c.exp
        end
      end
    end
  end
  -- TTLs: a set expires with its latest member (GT: only grows; a
  -- set that was empty has no TTL yet)
  if admit then
    for x = 1, #sets do
      local e = sets[x]
      if e.n == 0 then
        redis.call('PEXPIRE', e.k, fmt(e.mx - now))
      else
        redis.call('PEXPIRE', e.k, fmt(e.mx - now), 'GT')
      end
    end
  end
  for x = 1, #adds do
    local c = adds[x]
    local a = 0
    if admit then a = 1 end
    res[c.i] = {0, fin[c.k], a, c.full}
  end
end
-- one bulk string, not nested arrays: hiredis makes one object
-- of it instead of one per element (see rds_parse)
local out = {fmt(done), ',', fmt(stopped), ','}
local o = 4
for i = 1, done do
  local r = res[i]
  out[o + 1] = fmt(#r)
  out[o + 2] = ','
  o = o + 2
  for j = 1, #r do
    local x = r[j]
    if type(x) == 'number' then
      out[o + 1] = fmt(x)
      out[o + 2] = ','
      o = o + 2
    else
      out[o + 1] = fmt(#x)
      out[o + 2] = ':'
      out[o + 3] = x
      o = o + 3
    end
  end
end
return table.concat(out)
