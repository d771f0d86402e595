/*
 * antifraud - the Redis backend of the store (cluster mode).
 *
 * One af_store_exec() call is one EVALSHA of one Lua script: the ops are
 * checked in C (the same checks as the shm backend), serialized into
 * KEYS and ARGV with the caller's clock (now_ms: the nodes' clocks, not
 * the server's, so that every node and the tests agree on slices and
 * expiries), run in order by the script, which answers with each op's
 * outputs. The script mirrors af_store_shm.c step by step, so both
 * backends give the same results op by op (test_store_redis.c runs
 * random batches against both).
 *
 * Keys, each with a TTL set as expiry - now_ms (PEXPIRE, not PEXPIREAT:
 * the server's clock need not agree with the nodes', and injected clocks
 * in tests work):
 *
 *   <prefix>ban:{s}   hash s (since), u (until), h (hits), r (reason);
 *                     expires at until
 *   <prefix>win:{s}   hash w (window_s), l (newest slice), e (expiry),
 *                     and one field per slice number -> count; expires
 *                     when its newest slice leaves the window
 *   <prefix>hist:{s}  string: 20-digit expiry, then up to AF_HIST_MAX
 *                     records of 43 bytes (family, 16 address bytes,
 *                     country, continent, 20-digit ts_ms), newest first;
 *                     expires ttl_s after the newest push (a read_only
 *                     push only reads it)
 *   <prefix>conc:{s}  zset member -> expiry ms; expires with its latest
 *                     member (an empty zset is gone at once)
 *   <prefix>bans      zset subject -> until, to list the bans
 *   <prefix>concs     zset subject -> latest member expiry, to list sets
 *
 * Entries also expire logically: each record carries its expiry and the
 * script treats an expired one as absent (and drops it) exactly when the
 * shm backend would, whatever Redis has reclaimed yet; Redis's own TTLs
 * only bound memory. Expired index entries are pruned by the scripts.
 *
 * Connections are per process (and per store): a small table of
 * contexts, each with the pid that made it; a process that finds one
 * made by its parent closes its copy and connects again. A failure
 * (connect, timeout, I/O, an error reply such as -READONLY, -LOADING,
 * -MASTERDOWN or -BUSY, a reply of the wrong shape) drops the connection
 * and fails the whole call with AF_STORE_UNAVAILABLE; the next call
 * connects again (through the sentinels, asked in turn, when configured;
 * the address they give must answer ROLE as a master). The only retry
 * within a call is EVALSHA after -NOSCRIPT (SCRIPT LOAD, then once more).
 * A mutex serializes the threads of a process on the table.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/time.h>
#include <hiredis/hiredis.h>
#include "af_host.h"
#include "af_store_redis.h"

#define RDS_DEF_PORT 6379
#define RDS_DEF_SENTINEL_PORT 26379
#define RDS_DEF_CONNECT_MS 1000
#define RDS_DEF_COMMAND_MS 250
#define RDS_DEF_POLL_MS 100
#define RDS_SLOTS 8           /* stores with a connection per process */
#define RDS_CONC_MAX 16       /* CONC_ADD ops in one batch (as shm) */
#define RDS_HIST_REC 43       /* bytes of a history record */
#define RDS_HIST_IP 23        /* of which address, country, continent */
#define RDS_DB_MAX 1000000    /* the largest db number a URL may give */

/* op codes in ARGV; 0: an invalid op, 9: a CONC_ADD of an invalid group */
enum rds_code {
	RDS_C_INVALID = 0,
	RDS_C_BAN_GET = 1,
	RDS_C_BAN_SET = 2,
	RDS_C_BAN_DEL = 3,
	RDS_C_WIN_HIT = 4,
	RDS_C_HIST_PUSH = 5,
	RDS_C_CONC_ADD = 6,
	RDS_C_CONC_DEL = 7,
	RDS_C_CONC_COUNT = 8,
	RDS_C_CONC_SKIP = 9,
	/* invalid, outputs left as they are (NULL key, unknown type); never
	 * sent: goes as RDS_C_INVALID */
	RDS_C_INVALID_KEEP = -1
};

/*
 * The batch script. ARGV: now_ms, prefix length, pregated (1: an invalid
 * WIN_HIT already went over its gate), op count, then per op a packed
 * argument (its code in a byte, then its numbers as big-endian doubles,
 * exact below 2^53, read with one struct.unpack) and its strings (reason,
 * member or history record); KEYS: the ban and set indexes, then per op
 * its key (and, for a WIN_HIT that may ban, the ban's key). Answers
 * done, stopped, r1..rdone with ri = {status, outputs...}: a stop
 * leaves the ops after done out, and a CONC_ADD not run (stop, invalid
 * group) answers {1}. All of it in one string (read by rds_parse):
 * each number as decimal text and ',', each string (ban since, until
 * and reason, history record: any bytes) as its length, ':' and its
 * bytes, and each ri as its field count (a number) and its fields.
 */
static const char rds_lua_exec[] =
		"local now = tonumber(ARGV[1])\n"
		"local plen = tonumber(ARGV[2])\n"
		"local pregated = ARGV[3] == '1'\n"
		"local nops = tonumber(ARGV[4])\n"
		"local bans, concs = KEYS[1], KEYS[2]\n"
		"local MAXU = 4294967295\n"
		"local ai, ki = 5, 3\n"
		"local res, ty, st, nn, cnt, ifn, gate = {}, {}, {}, {}, {}, {}, {}\n"
		"local adds = {}\n"
		"local done, stopped = 0, 0\n"
		"local sformat, sbyte, sunpack = string.format, string.byte,"
		" struct.unpack\n"
		"local function fmt(x)\n"
		"  return sformat('%d', x)\n"
		"end\n"
		"local snow = fmt(now)\n"
		/* the number after an op's code byte */
		"local function unpack1(p)\n"
		"  local v = sunpack('>d', p, 2)\n"
		"  return v\n"
		"end\n"
		"local function subj(k, skip)\n"
		"  return string.sub(k, plen + skip, -2)\n"
		"end\n"
		"local function ztop(z)\n"
		"  local t = redis.call('ZRANGE', z, -1, -1, 'WITHSCORES')\n"
		"  if t[2] then return tonumber(t[2]) end\n"
		"  return nil\n"
		"end\n"
		/* an index entry: score, prune, TTL to the latest score */
		"local function zindex(z, score, member)\n"
		"  redis.call('ZADD', z, fmt(score), member)\n"
		"  redis.call('ZREMRANGEBYSCORE', z, '-inf', snow)\n"
		"  local top = ztop(z)\n"
		"  if top then redis.call('PEXPIRE', z, fmt(top - now)) end\n"
		"end\n"
		/* the live ban of bk as {since, until, hits, reason}, or nil */
		"local function ban_live(bk)\n"
		"  local v = redis.call('HMGET', bk, 's', 'u', 'h', 'r')\n"
		"  if not (v[1] and v[2] and v[3] and v[4]) then return nil end\n"
		"  if now >= tonumber(v[2]) then\n"
		"    redis.call('DEL', bk)\n"
		"    redis.call('ZREM', bans, subj(bk, 6))\n"
		"    return nil\n"
		"  end\n"
		"  return v\n"
		"end\n"
		"local function ban_put(bk, u, r)\n"
		"  redis.call('HSET', bk, 's', snow, 'u', fmt(u), 'h', '0',"
		" 'r', r)\n"
		"  redis.call('PEXPIRE', bk, fmt(u - now))\n"
		"  zindex(bans, u, subj(bk, 6))\n"
		"end\n"
		/* a sliding window, as shm_op_win_hit: returns the total */
		"local function win(wk, ws, sms, slice, n)\n"
		"  local h = redis.call('HGETALL', wk)\n"
		"  local live = #h > 0\n"
		"  local w, l, e\n"
		"  local sl = {}\n"
		"  for i = 1, #h, 2 do\n"
		"    local f = h[i]\n"
		"    if f == 'w' then w = tonumber(h[i + 1])\n"
		"    elseif f == 'l' then l = tonumber(h[i + 1])\n"
		"    elseif f == 'e' then e = tonumber(h[i + 1])\n"
		"    else sl[f] = tonumber(h[i + 1]) end\n"
		"  end\n"
		"  if live and (not e or not l or now >= e) then\n"
		"    redis.call('DEL', wk)\n"
		"    live = false\n"
		"  end\n"
		"  if not live then\n"
		"    if n == 0 then return 0 end\n"
		"    sl = {}\n"
		"    w = nil\n"
		"    e = nil\n"
		"  end\n"
		"  local hset, hdel = {}, {}\n"
		"  if w ~= ws then\n"
		"    for f in pairs(sl) do hdel[#hdel + 1] = f end\n"
		"    sl = {}\n"
		"    w = ws\n"
		"    l = slice\n"
		"    hset[#hset + 1] = 'w'\n"
		"    hset[#hset + 1] = fmt(ws)\n"
		"    hset[#hset + 1] = 'l'\n"
		"    hset[#hset + 1] = fmt(l)\n"
		"  elseif slice > l then\n"
		"    for f in pairs(sl) do\n"
		"      if tonumber(f) <= slice - 16 then\n"
		"        hdel[#hdel + 1] = f\n"
		"        sl[f] = nil\n"
		"      end\n"
		"    end\n"
		"    l = slice\n"
		"    hset[#hset + 1] = 'l'\n"
		"    hset[#hset + 1] = fmt(l)\n"
		"  end\n"
		"  local ne = nil\n"
		"  if n > 0 then\n"
		"    local f = fmt(l)\n"
		"    local c = (sl[f] or 0) + n\n"
		"    if c > MAXU then c = MAXU end\n"
		"    sl[f] = c\n"
		"    hset[#hset + 1] = f\n"
		"    hset[#hset + 1] = fmt(c)\n"
		/* the expiry (and TTL) move only with the newest slice */
		"    if e ~= (l + 16) * sms then\n"
		"      ne = (l + 16) * sms\n"
		"      hset[#hset + 1] = 'e'\n"
		"      hset[#hset + 1] = fmt(ne)\n"
		"    end\n"
		"  end\n"
		"  if #hdel > 0 then redis.call('HDEL', wk, unpack(hdel)) end\n"
		"  if #hset > 0 then redis.call('HSET', wk, unpack(hset)) end\n"
		"  if ne then redis.call('PEXPIRE', wk, fmt(ne - now)) end\n"
		"  local total = 0\n"
		"  for _, c in pairs(sl) do total = total + c end\n"
		"  if total > MAXU then total = MAXU end\n"
		"  return total\n"
		"end\n"
		/* whether WIN_HIT i adds its n (shm_win_if_new) */
		"local function if_new(i)\n"
		"  local j = i\n"
		"  while ifn[j] and ifn[j] > 0 do\n"
		"    local r = ifn[j]\n"
		"    if r < 1 or r >= j then return false end\n"
		"    if ty[r] ~= 4 or st[r] ~= 0 or nn[r] == 0 or cnt[r] ~= nn[r]"
		" then\n"
		"      return false\n"
		"    end\n"
		"    j = r\n"
		"  end\n"
		"  return true\n"
		"end\n"
		"local function ipkey(rec)\n"
		"  if string.byte(rec, 1) == 4 then return string.sub(rec, 1, 5) end\n"
		"  return string.sub(rec, 1, 17)\n"
		"end\n"
		/* a history push, as shm_op_hist_push: returns the kept records;
		 * read_only (ro) returns them and writes nothing, not even the
		 * records it leaves out (shm keeps them too) */
		"local function hist(hk, ttl, rec, ro)\n"
		"  local v = redis.call('GET', hk)\n"
		"  local keep = {}\n"
		"  if v and now < tonumber(string.sub(v, 1, 20)) then\n"
		"    for p = 21, #v - 42, 43 do\n"
		"      local e = string.sub(v, p, p + 42)\n"
		"      local ts = tonumber(string.sub(e, 24, 43))\n"
		"      if not (ts <= now and now - ts >= ttl) then\n"
		"        keep[#keep + 1] = e\n"
		"      end\n"
		"    end\n"
		"  end\n"
		"  if ro then return keep end\n"
		"  local k = ipkey(rec)\n"
		"  local idx = #keep + 1\n"
		"  for i = 1, #keep do\n"
		"    if ipkey(keep[i]) == k then\n"
		"      idx = i\n"
		"      break\n"
		"    end\n"
		"  end\n"
		"  if idx > #keep and #keep >= 4 then idx = #keep end\n"
		"  local nv = {string.format('%020d', now + ttl), rec}\n"
		"  for i = 1, #keep do\n"
		"    if i ~= idx then nv[#nv + 1] = keep[i] end\n"
		"  end\n"
		"  redis.call('SET', hk, table.concat(nv), 'PX', fmt(ttl))\n"
		"  return keep\n"
		"end\n"
		/* the count of set ck; an empty set leaves the index */
		"local function ccount(ck)\n"
		"  local c = redis.call('ZCARD', ck)\n"
		"  if c == 0 then redis.call('ZREM', concs, subj(ck, 7)) end\n"
		"  return c\n"
		"end\n"
		/* prunes set ck of its expired members; its count */
		"local function cprune(ck)\n"
		"  redis.call('ZREMRANGEBYSCORE', ck, '-inf', snow)\n"
		"  return ccount(ck)\n"
		"end\n"
		"for i = 1, nops do\n"
		"  local p = ARGV[ai]\n"
		"  ai = ai + 1\n"
		"  local t = sbyte(p, 1)\n"
		"  ty[i] = t\n"
		"  st[i] = 0\n"
		"  if t == 0 then\n"
		"    st[i] = -1\n"
		"    res[i] = {-1}\n"
		"  elseif t == 1 then\n"
		"    local bk = KEYS[ki]\n"
		"    ki = ki + 1\n"
		"    local v = ban_live(bk)\n"
		"    if v then\n"
		"      local h = tonumber(v[3]) + 1\n"
		"      if h > MAXU then h = MAXU end\n"
		"      redis.call('HSET', bk, 'h', fmt(h))\n"
		"      res[i] = {0, 1, v[1], v[2], h, v[4]}\n"
		"      if sbyte(p, 2) == 1 then\n"
		"        done = i\n"
		"        stopped = 1\n"
		"        break\n"
		"      end\n"
		"    else\n"
		"      res[i] = {0, 0}\n"
		"    end\n"
		"  elseif t == 2 then\n"
		"    local bk = KEYS[ki]\n"
		"    ki = ki + 1\n"
		"    ban_put(bk, unpack1(p), ARGV[ai])\n"
		"    ai = ai + 1\n"
		"    res[i] = {0}\n"
		"  elseif t == 3 then\n"
		"    local bk = KEYS[ki]\n"
		"    ki = ki + 1\n"
		"    if ban_live(bk) then\n"
		"      redis.call('DEL', bk)\n"
		"      redis.call('ZREM', bans, subj(bk, 6))\n"
		"      res[i] = {0, 1}\n"
		"    else\n"
		"      res[i] = {0, 0}\n"
		"    end\n"
		"  elseif t == 4 then\n"
		"    local wk = KEYS[ki]\n"
		"    ki = ki + 1\n"
		"    local ws, sms, slice, n, thr, bu, g, f ="
		" sunpack('>dddddddd', p, 2)\n"
		"    local br = ARGV[ai]\n"
		"    ai = ai + 1\n"
		"    gate[i] = g\n"
		"    ifn[i] = f\n"
		"    local bk = nil\n"
		"    if thr > 0 then\n"
		"      bk = KEYS[ki]\n"
		"      ki = ki + 1\n"
		"    end\n"
		"    nn[i] = n\n"
		"    if f > 0 and not if_new(i) then n = 0 end\n"
		"    local c = win(wk, ws, sms, slice, n)\n"
		"    cnt[i] = c\n"
		"    local banned = 0\n"
		"    if thr > 0 and n > 0 and c >= thr and not ban_live(bk) then\n"
		"      ban_put(bk, bu, br)\n"
		"      banned = 1\n"
		"    end\n"
		"    res[i] = {0, c, banned}\n"
		"  elseif t == 5 then\n"
		"    local hk = KEYS[ki]\n"
		"    ki = ki + 1\n"
		"    local ttl, ro = sunpack('>dd', p, 2)\n"
		"    local prev = hist(hk, ttl, ARGV[ai], ro == 1)\n"
		"    ai = ai + 1\n"
		"    local r = {0, #prev}\n"
		"    for j = 1, #prev do r[j + 2] = prev[j] end\n"
		"    res[i] = r\n"
		"  elseif t == 6 then\n"
		"    local lim, exp = sunpack('>dd', p, 2)\n"
		"    adds[#adds + 1] = {i = i, k = KEYS[ki], m = ARGV[ai], lim = lim,"
		" exp = exp, full = 0}\n"
		"    ki = ki + 1\n"
		"    ai = ai + 1\n"
		"    res[i] = {1}\n"
		"  elseif t == 7 then\n"
		"    local ck = KEYS[ki]\n"
		"    ki = ki + 1\n"
		"    redis.call('ZREMRANGEBYSCORE', ck, '-inf', snow)\n"
		"    local f = redis.call('ZREM', ck, ARGV[ai])\n"
		"    ai = ai + 1\n"
		"    res[i] = {0, ccount(ck), f}\n"
		"  elseif t == 8 then\n"
		"    res[i] = {0, cprune(KEYS[ki])}\n"
		"    ki = ki + 1\n"
		"  else\n"
		"    res[i] = {1}\n"
		"  end\n"
		"  done = i\n"
		"end\n"
		/* the index's expiry, read once (PTTL) when first needed */
		"local iexp = nil\n"
		"local function index_put(sub, score, fresh)\n"
		"  redis.call('ZADD', concs, fmt(score), sub)\n"
		"  if fresh then redis.call('ZREMRANGEBYSCORE', concs, '-inf',"
		" snow) end\n"
		"  if iexp == nil then\n"
		"    local t = redis.call('PTTL', concs)\n"
		"    iexp = 0\n"
		"    if t > 0 then iexp = now + t end\n"
		"  end\n"
		"  if score > iexp then\n"
		"    redis.call('PEXPIRE', concs, fmt(score - now))\n"
		"    iexp = score\n"
		"  end\n"
		"end\n"
		/* the CONC_ADD group, as shm_conc_add_group */
		"if stopped == 0 and #adds > 0 then\n"
		"  local admit = not pregated\n"
		"  for i = 1, done do\n"
		"    if ty[i] == 4 and st[i] == 0 and gate[i] > 0"
		" and cnt[i] > gate[i] then\n"
		"      admit = false\n"
		"    end\n"
		"  end\n"
		"  local cn, sets = {}, {}\n"
		"  for x = 1, #adds do\n"
		"    local c = adds[x]\n"
		"    if cn[c.k] == nil then\n"
		"      redis.call('ZREMRANGEBYSCORE', c.k, '-inf', snow)\n"
		"      cn[c.k] = redis.call('ZCARD', c.k)\n"
		"      sets[#sets + 1] = {k = c.k, n = cn[c.k], mx = 0}\n"
		"    end\n"
		"    c.present = redis.call('ZSCORE', c.k, c.m) ~= false\n"
		"  end\n"
		"  local added = {}\n"
		"  for x = 1, #adds do\n"
		"    local c = adds[x]\n"
		"    if not c.present then\n"
		"      local v = cn[c.k]\n"
		"      for y = 1, x - 1 do\n"
		"        local d = adds[y]\n"
		"        if not d.present and not d.dup and d.k == c.k then\n"
		"          if d.m == c.m then\n"
		"            c.dup = y\n"
		"            break\n"
		"          end\n"
		"          v = v + 1\n"
		"        end\n"
		"      end\n"
		"      if not c.dup then\n"
		"        added[c.k] = (added[c.k] or 0) + 1\n"
		"        if c.lim > 0 and v >= c.lim then\n"
		"          c.full = 1\n"
		"          admit = false\n"
		"        end\n"
		"      end\n"
		"    end\n"
		"  end\n"
		"  local fin = {}\n"
		"  for x = 1, #sets do\n"
		"    local e = sets[x]\n"
		"    fin[e.k] = e.n\n"
		"    if admit then fin[e.k] = e.n + (added[e.k] or 0) end\n"
		"  end\n"
		"  if admit then\n"
		"    for x = 1, #adds do\n"
		"      local c = adds[x]\n"
		"      redis.call('ZADD', c.k, fmt(c.exp), c.m)\n"
		"      for y = 1, #sets do\n"
		"        if sets[y].k == c.k and c.exp > sets[y].mx then\n"
		"          sets[y].mx = c.exp\n"
		"        end\n"
		"      end\n"
		"    end\n"
		"  end\n"
		/* TTLs: a set's expiry (its index score) only grows; an empty
		 * set leaves the index */
		"  for x = 1, #sets do\n"
		"    local e = sets[x]\n"
		"    local sub = subj(e.k, 7)\n"
		"    if fin[e.k] == 0 then\n"
		"      redis.call('ZREM', concs, sub)\n"
		"    elseif admit then\n"
		"      local top = nil\n"
		"      if e.n == 0 then\n"
		"        top = e.mx\n"
		"      else\n"
		"        local old = redis.call('ZSCORE', concs, sub)\n"
		"        if not old then top = ztop(e.k)\n"
		"        elseif e.mx > tonumber(old) then top = e.mx end\n"
		"      end\n"
		"      if top then\n"
		"        redis.call('PEXPIRE', e.k, fmt(top - now))\n"
		"        index_put(sub, top, e.n == 0)\n"
		"      end\n"
		"    end\n"
		"  end\n"
		"  for x = 1, #adds do\n"
		"    local c = adds[x]\n"
		"    local a = 0\n"
		"    if admit then a = 1 end\n"
		"    res[c.i] = {0, fin[c.k], a, c.full}\n"
		"  end\n"
		"end\n"
		/* one bulk string, not nested arrays: hiredis makes one object
		 * of it instead of one per element (see rds_parse) */
		"local out = {fmt(done), ',', fmt(stopped), ','}\n"
		"local o = 4\n"
		"for i = 1, done do\n"
		"  local r = res[i]\n"
		"  out[o + 1] = fmt(#r)\n"
		"  out[o + 2] = ','\n"
		"  o = o + 2\n"
		"  for j = 1, #r do\n"
		"    local x = r[j]\n"
		"    if type(x) == 'number' then\n"
		"      out[o + 1] = fmt(x)\n"
		"      out[o + 2] = ','\n"
		"      o = o + 2\n"
		"    else\n"
		"      out[o + 1] = fmt(#x)\n"
		"      out[o + 2] = ':'\n"
		"      out[o + 3] = x\n"
		"      o = o + 3\n"
		"    end\n"
		"  end\n"
		"end\n"
		"return table.concat(out)\n";

/*
 * The list script. ARGV: now_ms, key prefix, 'b' (bans) or 'c' (sets)
 * and for sets the subject prefix; KEYS[1]: the index. Returns a flat
 * array: per ban subject, since, until, hits, reason; per set subject,
 * count. Prunes the index and the sets it lists.
 */
static const char rds_lua_list[] =
		"local now = tonumber(ARGV[1])\n"
		"local pfx = ARGV[2]\n"
		"local out = {}\n"
		"redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])\n"
		"local m = redis.call('ZRANGE', KEYS[1], 0, -1)\n"
		"if ARGV[3] == 'b' then\n"
		"  for i = 1, #m do\n"
		"    local v = redis.call('HMGET', pfx .. 'ban:{' .. m[i] .. '}',"
		" 's', 'u', 'h', 'r')\n"
		"    if v[1] and v[2] and v[3] and v[4] and now < tonumber(v[2])"
		" then\n"
		"      out[#out + 1] = m[i]\n"
		"      out[#out + 1] = v[1]\n"
		"      out[#out + 1] = v[2]\n"
		"      out[#out + 1] = v[3]\n"
		"      out[#out + 1] = v[4]\n"
		"    end\n"
		"  end\n"
		"else\n"
		"  local p = ARGV[4]\n"
		"  for i = 1, #m do\n"
		"    if string.sub(m[i], 1, #p) == p then\n"
		"      local ck = pfx .. 'conc:{' .. m[i] .. '}'\n"
		"      redis.call('ZREMRANGEBYSCORE', ck, '-inf', ARGV[1])\n"
		"      local n = redis.call('ZCARD', ck)\n"
		"      if n > 0 then\n"
		"        out[#out + 1] = m[i]\n"
		"        out[#out + 1] = n\n"
		"      else\n"
		"        redis.call('ZREM', KEYS[1], m[i])\n"
		"      end\n"
		"    end\n"
		"  end\n"
		"end\n"
		"return out\n";

typedef struct af_store_redis {
	af_store_t base;
	uint64_t id;       /* names this store in the per-process table */
	uint64_t failures; /* atomic */
	size_t plen;       /* strlen(cfg.prefix) */
	af_redis_cfg_t cfg;
} af_store_redis_t;

/* a process's connection for one store */
typedef struct rds_conn {
	uint64_t id; /* the store's, 0: free slot */
	pid_t pid;   /* the process that made c */
	redisContext *c;
	uint64_t used; /* last use (tick), for reuse of the slot */
	int down;      /* the last attempt failed (logged once) */
	char sha_exec[41];
	char sha_list[41];
} rds_conn_t;

/* an argument list built in one growing byte buffer */
typedef struct rds_argv {
	char *buf;
	size_t len, cap;
	size_t *off, *alen;
	int n, ncap;
	int oom;
} rds_argv_t;

/* everything per process; rds_mx serializes the threads */
static pthread_mutex_t rds_mx = PTHREAD_MUTEX_INITIALIZER;
static int rds_atfork_done;
static rds_conn_t rds_conns[RDS_SLOTS];
static uint64_t rds_tick;
static rds_argv_t rds_keys, rds_args;
static const char **rds_av;
static size_t *rds_avlen;
static int rds_avcap;
static signed char *rds_code;
static int rds_code_cap;

/* a locked section: the mutex, SIGPIPE blocked in this thread */
typedef struct rds_guard {
	sigset_t old;
	int pending; /* a SIGPIPE was pending before */
} rds_guard_t;

/*
 * Blocks SIGPIPE in this thread (a write to a connection the server
 * closed must not kill the process, whatever the host does with the
 * signal) and, when lock, takes rds_mx.
 */
static void rds_enter(rds_guard_t *g, int lock)
{
	sigset_t set, pend;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, &g->old);
	sigemptyset(&pend);
	sigpending(&pend);
	g->pending = sigismember(&pend, SIGPIPE) == 1;
	if(lock)
		pthread_mutex_lock(&rds_mx);
}

/* Undoes rds_enter: a SIGPIPE raised inside is consumed. */
static void rds_leave(rds_guard_t *g, int lock)
{
	struct timespec zero = {0, 0};
	sigset_t set, pend;

	if(lock)
		pthread_mutex_unlock(&rds_mx);
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	sigemptyset(&pend);
	if(!g->pending && sigpending(&pend) == 0
			&& sigismember(&pend, SIGPIPE) == 1)
		sigtimedwait(&set, NULL, &zero);
	pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

/* In a child after fork: a mutex held by another thread of the parent
 * would stay locked. */
static void rds_atfork_child(void)
{
	pthread_mutex_init(&rds_mx, NULL);
}

/* Milliseconds as a timeval. */
static struct timeval rds_tv(uint32_t ms)
{
	struct timeval tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	return tv;
}

/* snprintf into err when there is one. */
static void rds_err(char *err, size_t errlen, const char *fmt, ...)
		__attribute__((format(printf, 3, 4)));

static void rds_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if(!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---- argument lists ---- */

/* Empties a. */
static void av_reset(rds_argv_t *a)
{
	a->len = 0;
	a->n = 0;
	a->oom = 0;
}

/*
 * Appends an argument of len bytes to a and returns where to write them,
 * or NULL when out of memory (a->oom is then set: later calls fail too).
 */
static char *av_room(rds_argv_t *a, size_t len)
{
	size_t cap;
	char *nb;
	size_t *no, *nl;
	int nc;

	if(a->oom)
		return NULL;
	if(a->n == a->ncap) {
		nc = a->ncap ? a->ncap * 2 : 64;
		no = realloc(a->off, nc * sizeof(*no));
		if(!no)
			goto oom;
		a->off = no;
		nl = realloc(a->alen, nc * sizeof(*nl));
		if(!nl)
			goto oom;
		a->alen = nl;
		a->ncap = nc;
	}
	if(!a->buf || a->cap - a->len < len) {
		cap = a->cap ? a->cap : 1024;
		while(cap - a->len < len) {
			if(cap > SIZE_MAX / 2)
				goto oom;
			cap *= 2;
		}
		nb = realloc(a->buf, cap);
		if(!nb)
			goto oom;
		a->buf = nb;
		a->cap = cap;
	}
	a->off[a->n] = a->len;
	a->alen[a->n] = len;
	a->n++;
	a->len += len;
	return a->buf + a->off[a->n - 1];
oom:
	a->oom = 1;
	return NULL;
}

/* Appends the bytes s[0..len) (s may be NULL when len is 0). */
static void av_add(rds_argv_t *a, const char *s, size_t len)
{
	char *p = av_room(a, len);

	if(p && len)
		memcpy(p, s, len);
}

/* Appends v in decimal. */
static void av_addu(rds_argv_t *a, uint64_t v)
{
	char num[24];
	int len = snprintf(num, sizeof(num), "%" PRIu64, v);

	av_add(a, num, (size_t)len);
}

/* Appends the key <prefix><kind>:{<subject>}. */
static void av_key(rds_argv_t *a, const af_store_redis_t *st,
		const char *kind, const char *subj, size_t len)
{
	size_t kl = strlen(kind);
	char *p;

	if(len > SIZE_MAX - st->plen - kl - 3) {
		a->oom = 1;
		return;
	}
	p = av_room(a, st->plen + kl + 3 + len);
	if(!p)
		return;
	memcpy(p, st->cfg.prefix, st->plen);
	p += st->plen;
	memcpy(p, kind, kl);
	p += kl;
	*p++ = ':';
	*p++ = '{';
	if(len)
		memcpy(p, subj, len);
	p[len] = '}';
}

/* Appends the key <prefix><name> (an index or the events channel). */
static void av_name(rds_argv_t *a, const af_store_redis_t *st,
		const char *name)
{
	size_t nl = strlen(name);
	char *p = av_room(a, st->plen + nl);

	if(!p)
		return;
	memcpy(p, st->cfg.prefix, st->plen);
	memcpy(p + st->plen, name, nl);
}

/*
 * Lays out the command head[0..nhead), then the keys and args lists,
 * into rds_av/rds_avlen. Returns the argument count, -1 when out of
 * memory.
 */
static int av_final(const char **head, const size_t *headlen, int nhead,
		rds_argv_t *keys, rds_argv_t *args)
{
	int total, i, j = 0;
	const char **nav;
	size_t *nlen;

	if(keys->oom || args->oom)
		return -1;
	total = nhead + keys->n + args->n;
	if(total > rds_avcap) {
		nav = realloc(rds_av, total * sizeof(*nav));
		if(!nav)
			return -1;
		rds_av = nav;
		nlen = realloc(rds_avlen, total * sizeof(*nlen));
		if(!nlen)
			return -1;
		rds_avlen = nlen;
		rds_avcap = total;
	}
	for(i = 0; i < nhead; i++, j++) {
		rds_av[j] = head[i];
		rds_avlen[j] = headlen[i];
	}
	for(i = 0; i < keys->n; i++, j++) {
		rds_av[j] = keys->buf + keys->off[i];
		rds_avlen[j] = keys->alen[i];
	}
	for(i = 0; i < args->n; i++, j++) {
		rds_av[j] = args->buf + args->off[i];
		rds_avlen[j] = args->alen[i];
	}
	return total;
}

/* ---- connections ---- */

/*
 * Splits "host:port", "[v6]:port", "host" or "[v6]" into host and port
 * (def_port when absent). Returns 0, -1 when malformed.
 */
static int rds_split_hostport(const char *s, size_t len, char *host,
		size_t hostlen, int *port, int def_port)
{
	const char *h = s, *end = s + len, *colon = NULL, *p;
	size_t hl;
	long v;

	if(len && s[0] == '[') {
		p = memchr(s, ']', len);
		if(!p)
			return -1;
		h = s + 1;
		hl = (size_t)(p - h);
		p++;
		if(p < end) {
			if(*p != ':')
				return -1;
			colon = p;
		}
	} else {
		for(p = s; p < end; p++) {
			if(*p == ':') {
				if(colon)
					return -1; /* an IPv6 address needs brackets */
				colon = p;
			}
		}
		hl = colon ? (size_t)(colon - s) : len;
	}
	if(hl == 0 || hl >= hostlen)
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = def_port;
	if(colon) {
		p = colon + 1;
		if(p == end || end - p > 5)
			return -1;
		for(v = 0; p < end; p++) {
			if(*p < '0' || *p > '9')
				return -1;
			v = v * 10 + (*p - '0');
		}
		if(v < 1 || v > 65535)
			return -1;
		*port = (int)v;
	}
	return 0;
}

/* Connects to host:port (or the unix socket path when host is NULL) with
 * the timeouts of cfg. Returns the context, NULL with err. */
static redisContext *rds_connect(const af_redis_cfg_t *cfg, const char *host,
		int port, const char *path, char *err, size_t errlen)
{
	struct timeval tv = rds_tv(cfg->connect_timeout_ms);
	redisContext *c;

	if(host)
		c = redisConnectWithTimeout(host, port, tv);
	else
		c = redisConnectUnixWithTimeout(path, tv);
	if(!c) {
		rds_err(err, errlen, "out of memory");
		return NULL;
	}
	if(c->err) {
		if(host)
			rds_err(err, errlen, "connect %s:%d: %s", host, port, c->errstr);
		else
			rds_err(err, errlen, "connect %s: %s", path, c->errstr);
		redisFree(c);
		return NULL;
	}
	if(redisSetTimeout(c, rds_tv(cfg->command_timeout_ms)) != REDIS_OK) {
		rds_err(err, errlen, "cannot set the command timeout: %s", c->errstr);
		redisFree(c);
		return NULL;
	}
	if(host && redisEnableKeepAlive(c) != REDIS_OK) {
		rds_err(err, errlen, "cannot enable keepalive: %s", c->errstr);
		redisFree(c);
		return NULL;
	}
	return c;
}

/*
 * Asks the sentinels of cfg in turn for the master's address. Returns 0
 * with host and port, -1 with err (the last sentinel's error).
 */
static int rds_sentinel_master(const af_redis_cfg_t *cfg, char *host,
		size_t hostlen, int *port, char *err, size_t errlen)
{
	char sh[256];
	int sp, i;
	redisContext *c;
	redisReply *r;
	long v;
	char *end;

	rds_err(err, errlen, "no sentinel");
	for(i = 0; i < cfg->n_sentinels && i < AF_REDIS_SENTINELS_MAX; i++) {
		if(rds_split_hostport(cfg->sentinels[i],
				   strnlen(cfg->sentinels[i], sizeof(cfg->sentinels[i])),
				   sh, sizeof(sh), &sp, RDS_DEF_SENTINEL_PORT)
				< 0) {
			rds_err(err, errlen, "bad sentinel address '%s'",
					cfg->sentinels[i]);
			continue;
		}
		c = rds_connect(cfg, sh, sp, NULL, err, errlen);
		if(!c)
			continue;
		r = redisCommand(
				c, "SENTINEL get-master-addr-by-name %s", cfg->master_name);
		if(!r) {
			rds_err(err, errlen, "sentinel %s:%d: %s", sh, sp, c->errstr);
		} else if(r->type == REDIS_REPLY_ARRAY && r->elements == 2
				  && r->element[0]->type == REDIS_REPLY_STRING
				  && r->element[1]->type == REDIS_REPLY_STRING
				  && r->element[0]->len > 0
				  && r->element[0]->len < hostlen) {
			errno = 0;
			v = strtol(r->element[1]->str, &end, 10);
			if(errno == 0 && *end == '\0' && v > 0 && v <= 65535) {
				memcpy(host, r->element[0]->str, r->element[0]->len);
				host[r->element[0]->len] = '\0';
				*port = (int)v;
				freeReplyObject(r);
				redisFree(c);
				return 0;
			}
			rds_err(err, errlen, "sentinel %s:%d: bad master port", sh, sp);
		} else if(r->type == REDIS_REPLY_ERROR) {
			rds_err(err, errlen, "sentinel %s:%d: %s", sh, sp, r->str);
		} else {
			rds_err(err, errlen, "sentinel %s:%d: master '%s' unknown", sh,
					sp, cfg->master_name);
		}
		if(r)
			freeReplyObject(r);
		redisFree(c);
	}
	return -1;
}

/* Opens a connection to the server of cfg (through the sentinels when
 * there are). Returns it, NULL with err. *via_sentinel tells how. */
static redisContext *rds_open(const af_redis_cfg_t *cfg, int *via_sentinel,
		char *err, size_t errlen)
{
	char host[256];
	int port;

	*via_sentinel = 0;
	if(cfg->n_sentinels > 0) {
		if(rds_sentinel_master(cfg, host, sizeof(host), &port, err, errlen)
				< 0)
			return NULL;
		*via_sentinel = 1;
		return rds_connect(cfg, host, port, NULL, err, errlen);
	}
	if(cfg->unix_path[0] && !cfg->host[0])
		return rds_connect(cfg, NULL, 0, cfg->unix_path, err, errlen);
	return rds_connect(cfg, cfg->host[0] ? cfg->host : "127.0.0.1",
			cfg->port ? cfg->port : RDS_DEF_PORT, NULL, err, errlen);
}

/* Whether r is the status or string s. */
static int rds_is(const redisReply *r, const char *s)
{
	return r
		   && (r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_STRING)
		   && r->len == strlen(s) && strcasecmp(r->str, s) == 0;
}

/* Copies a SCRIPT LOAD reply into sha; 0, or -1 when it is not one. */
static int rds_take_sha(const redisReply *r, char *sha)
{
	if(!r || r->type != REDIS_REPLY_STRING || r->len != 40)
		return -1;
	memcpy(sha, r->str, 40);
	sha[40] = '\0';
	return 0;
}

/*
 * Readies a new connection, in one round trip: AUTH, SELECT, ROLE (when
 * found through a sentinel: must be a master) and, when slot is given,
 * SCRIPT LOAD of both scripts. Returns 0, -1 with err.
 */
static int rds_setup(redisContext *c, const af_redis_cfg_t *cfg, int role,
		int select, rds_conn_t *slot, char *err, size_t errlen)
{
	const char *what[5];
	redisReply *r;
	void *rv;
	int nq = 0, i, rc = 0;

	if(cfg->username[0]) {
		redisAppendCommand(c, "AUTH %s %s", cfg->username, cfg->password);
		what[nq++] = "AUTH";
	} else if(cfg->password[0]) {
		redisAppendCommand(c, "AUTH %s", cfg->password);
		what[nq++] = "AUTH";
	}
	if(select && cfg->db) {
		redisAppendCommand(c, "SELECT %d", cfg->db);
		what[nq++] = "SELECT";
	}
	if(role) {
		redisAppendCommand(c, "ROLE");
		what[nq++] = "ROLE";
	}
	if(slot) {
		redisAppendCommand(c, "SCRIPT LOAD %s", rds_lua_exec);
		what[nq++] = "SCRIPT LOAD";
		redisAppendCommand(c, "SCRIPT LOAD %s", rds_lua_list);
		what[nq++] = "SCRIPT LOAD";
	}
	for(i = 0; i < nq; i++) {
		if(redisGetReply(c, &rv) != REDIS_OK) {
			rds_err(err, errlen, "%s: %s", what[i], c->errstr);
			return -1;
		}
		r = rv;
		if(rc == 0 && r->type == REDIS_REPLY_ERROR) {
			rds_err(err, errlen, "%s: %s", what[i], r->str);
			rc = -1;
		} else if(rc == 0 && strcmp(what[i], "ROLE") == 0) {
			if(r->type != REDIS_REPLY_ARRAY || r->elements < 1
					|| !rds_is(r->element[0], "master")) {
				rds_err(err, errlen, "the sentinels' master is not a master"
									 " (ROLE)");
				rc = -1;
			}
		} else if(rc == 0 && strcmp(what[i], "SCRIPT LOAD") == 0) {
			if(rds_take_sha(r, i == nq - 1 ? slot->sha_list : slot->sha_exec)
					< 0) {
				rds_err(err, errlen, "SCRIPT LOAD: unexpected reply");
				rc = -1;
			}
		} else if(rc == 0 && !rds_is(r, "OK")) {
			rds_err(err, errlen, "%s: unexpected reply", what[i]);
			rc = -1;
		}
		freeReplyObject(r);
	}
	return rc;
}

/*
 * This process's slot for store st (made when there is none, reusing the
 * least recently used one when all are taken). A slot inherited from the
 * parent process loses its connection (the child's copy of the socket is
 * closed; the parent's stays). Lock: rds_mx.
 */
static rds_conn_t *rds_slot(const af_store_redis_t *st)
{
	pid_t pid = getpid();
	rds_conn_t *slot = NULL, *unused = NULL, *lru = NULL, *x;
	int i;

	for(i = 0; i < RDS_SLOTS && !slot; i++) {
		x = &rds_conns[i];
		if(x->id == st->id)
			slot = x;
		else if(x->id == 0 && !unused)
			unused = x;
		else if(x->id != 0 && (!lru || x->used < lru->used))
			lru = x;
	}
	if(!slot) {
		slot = unused ? unused : lru;
		if(slot->c)
			redisFree(slot->c);
		memset(slot, 0, sizeof(*slot));
		slot->id = st->id;
		slot->pid = pid;
	}
	if(slot->pid != pid) {
		if(slot->c)
			redisFree(slot->c);
		slot->c = NULL;
		slot->pid = pid;
		slot->down = 0;
	}
	slot->used = ++rds_tick;
	return slot;
}

/* Drops slot's connection after a failure; logs the first one. Lock:
 * rds_mx. */
static void rds_fail(rds_conn_t *slot, const char *why)
{
	if(slot->c) {
		redisFree(slot->c);
		slot->c = NULL;
	}
	if(!slot->down)
		AF_ERR("store: redis unavailable: %s\n", why);
	slot->down = 1;
}

/*
 * This process's connection for st, connected now when it is not.
 * Returns the slot with a connection, NULL with err (the failure is
 * logged). Lock: rds_mx.
 */
static rds_conn_t *rds_get(const af_store_redis_t *st, char *err,
		size_t errlen)
{
	rds_conn_t *slot = rds_slot(st);
	redisContext *c;
	int via;

	if(slot->c)
		return slot;
	c = rds_open(&st->cfg, &via, err, errlen);
	if(c && rds_setup(c, &st->cfg, via, 1, slot, err, errlen) < 0) {
		redisFree(c);
		c = NULL;
	}
	if(!c) {
		rds_fail(slot, err);
		return NULL;
	}
	if(slot->down)
		AF_NOTICE("store: redis available again\n");
	slot->down = 0;
	slot->c = c;
	return slot;
}

/*
 * Runs the script of sha (exec or list: which names which) with the
 * arguments in rds_av[2..argc) (rds_av[0..2) are filled here); after
 * -NOSCRIPT loads the script and runs it once more. Returns the reply
 * (not an error reply), NULL with err. Lock: rds_mx.
 */
/* the command in RESP, made here rather than by hiredis's argv
 * formatter (one sdscatfmt per argument: a third of a batch's cost in
 * Kamailio): grown as needed, kept by the process */
static char *rds_cmd;
static size_t rds_cmd_cap;

/* writes the decimal digits of v at p; returns the end */
static char *rds_udec(char *p, size_t v)
{
	char tmp[20];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while(v);
	while(n)
		*p++ = tmp[--n];
	return p;
}

/* formats rds_av[0..argc) into rds_cmd; its length, 0 out of memory */
static size_t rds_format(int argc)
{
	size_t need = 32, len; /* "*" digits CRLF */
	char *p;
	int i;

	for(i = 0; i < argc; i++)
		need += rds_avlen[i] + 26; /* "$" digits CRLF data CRLF */
	if(need > rds_cmd_cap) {
		p = realloc(rds_cmd, need);
		if(!p)
			return 0;
		rds_cmd = p;
		rds_cmd_cap = need;
	}
	p = rds_cmd;
	*p++ = '*';
	p = rds_udec(p, (size_t)argc);
	*p++ = '\r';
	*p++ = '\n';
	for(i = 0; i < argc; i++) {
		len = rds_avlen[i];
		*p++ = '$';
		p = rds_udec(p, len);
		*p++ = '\r';
		*p++ = '\n';
		memcpy(p, rds_av[i], len);
		p += len;
		*p++ = '\r';
		*p++ = '\n';
	}
	return (size_t)(p - rds_cmd);
}

/* sends rds_av[0..argc) and reads the reply; NULL on a connection error
 * (c->errstr says which) */
static redisReply *rds_call(redisContext *c, int argc)
{
	void *r = NULL;
	size_t len = rds_format(argc);

	if(!len) {
		/* out of memory here: let hiredis try with its own */
		return redisCommandArgv(c, argc, rds_av, rds_avlen);
	}
	if(redisAppendFormattedCommand(c, rds_cmd, len) != REDIS_OK
			|| redisGetReply(c, &r) != REDIS_OK)
		return NULL;
	return r;
}

static redisReply *rds_eval(rds_conn_t *slot, int list, int argc, char *err,
		size_t errlen)
{
	redisReply *r;
	char *sha = list ? slot->sha_list : slot->sha_exec;
	int tries;

	for(tries = 0; tries < 2; tries++) {
		rds_av[0] = "EVALSHA";
		rds_avlen[0] = 7;
		rds_av[1] = sha;
		rds_avlen[1] = 40;
		r = rds_call(slot->c, argc);
		if(!r) {
			rds_err(err, errlen, "EVALSHA: %s", slot->c->errstr);
			return NULL;
		}
		if(r->type != REDIS_REPLY_ERROR)
			return r;
		if(tries || strncmp(r->str, "NOSCRIPT", 8) != 0) {
			rds_err(err, errlen, "EVALSHA: %s", r->str);
			freeReplyObject(r);
			return NULL;
		}
		freeReplyObject(r);
		r = redisCommand(
				slot->c, "SCRIPT LOAD %s", list ? rds_lua_list : rds_lua_exec);
		if(!r || rds_take_sha(r, sha) < 0) {
			rds_err(err, errlen, "SCRIPT LOAD: %s",
					!r ? slot->c->errstr
					   : r->type == REDIS_REPLY_ERROR ? r->str
													  : "unexpected reply");
			if(r)
				freeReplyObject(r);
			return NULL;
		}
		freeReplyObject(r);
	}
	return NULL;
}

/* ---- exec ---- */

/* Grows rds_code to n entries; 0, -1 when out of memory. */
static int rds_code_room(int n)
{
	signed char *p;

	if(n <= rds_code_cap)
		return 0;
	p = realloc(rds_code, (size_t)n);
	if(!p)
		return -1;
	rds_code = p;
	rds_code_cap = n;
	return 0;
}

/*
 * Checks ops[0..n) as shm does: code[i] gets the op's code, or
 * RDS_C_INVALID (outputs cleared as shm clears them) or
 * RDS_C_INVALID_KEEP (outputs left); the CONC_ADDs of an invalid group
 * (over RDS_CONC_MAX, a NULL key or member with a length, ttl_s 0) all get
 * RDS_C_CONC_SKIP and *group_bad is set. *pregated tells whether an
 * invalid WIN_HIT left with its count (a NULL key) is over its gate.
 * Returns whether any op needs the server.
 */
static int rds_check(const af_op_t *ops, int n, signed char *code,
		int *group_bad, int *pregated)
{
	const af_op_t *op;
	int i, ref, nconc = 0, need = 0;

	*group_bad = 0;
	*pregated = 0;
	for(i = 0; i < n; i++) {
		op = &ops[i];
		if(op->type == AF_OP_CONC_ADD) {
			code[i] = RDS_C_CONC_ADD;
			if(++nconc > RDS_CONC_MAX || (op->key == NULL && op->key_len)
					|| (op->u.conc.member == NULL && op->u.conc.member_len)
					|| op->u.conc.ttl_s == 0)
				*group_bad = 1;
			continue;
		}
		if(op->key == NULL && op->key_len) {
			code[i] = RDS_C_INVALID_KEEP;
			if(op->type == AF_OP_WIN_HIT && op->u.win.gate > 0
					&& op->u.win.count > op->u.win.gate)
				*pregated = 1;
			continue;
		}
		code[i] = RDS_C_INVALID;
		switch(op->type) {
			case AF_OP_BAN_GET:
				code[i] = RDS_C_BAN_GET;
				break;
			case AF_OP_BAN_SET:
				if(op->u.ban_set.ttl_s)
					code[i] = RDS_C_BAN_SET;
				break;
			case AF_OP_BAN_DEL:
				code[i] = RDS_C_BAN_DEL;
				break;
			case AF_OP_WIN_HIT:
				ref = op->u.win.if_new;
				if(ref && (ref < 1 || ref > i
								  || ops[ref - 1].type != AF_OP_WIN_HIT))
					break;
				if(op->u.win.window_s == 0
						|| (op->u.win.ban_threshold && op->u.win.ban_s == 0))
					break;
				code[i] = RDS_C_WIN_HIT;
				break;
			case AF_OP_HIST_PUSH:
				if(op->u.hist.ttl_s)
					code[i] = RDS_C_HIST_PUSH;
				break;
			case AF_OP_CONC_DEL:
				if(op->u.conc.member || !op->u.conc.member_len)
					code[i] = RDS_C_CONC_DEL;
				break;
			case AF_OP_CONC_COUNT:
				code[i] = RDS_C_CONC_COUNT;
				break;
			default:
				code[i] = RDS_C_INVALID_KEEP;
				break;
		}
		if(code[i] > 0)
			need = 1;
	}
	for(i = 0; i < n; i++) {
		if(code[i] == RDS_C_CONC_ADD) {
			if(*group_bad)
				code[i] = RDS_C_CONC_SKIP;
			else
				need = 1;
		}
	}
	return need;
}

/* Appends a ban reason: up to AF_BAN_REASON - 1 bytes, to the first NUL. */
static void rds_add_reason(rds_argv_t *a, const char *reason)
{
	av_add(a, reason ? reason : "",
			reason ? strnlen(reason, AF_BAN_REASON - 1) : 0);
}

/*
 * Appends an op's packed argument: code in a byte, then the n numbers of
 * v as big-endian IEEE doubles (exact: every value is below 2^53).
 */
static void av_pack(rds_argv_t *a, int code, const uint64_t *v, int n)
{
	char *p = av_room(a, 1 + 8 * (size_t)n);
	uint64_t bits;
	double d;
	int i, j;

	if(!p)
		return;
	*p++ = (char)code;
	for(i = 0; i < n; i++) {
		d = (double)v[i];
		memcpy(&bits, &d, sizeof(bits));
		for(j = 7; j >= 0; j--) {
			p[j] = (char)(bits & 0xff);
			bits >>= 8;
		}
		p += 8;
	}
}

/*
 * Serializes ops[0..n) (codes in code) into rds_keys and rds_args for
 * the batch script.
 */
static void rds_build(const af_store_redis_t *st, const af_op_t *ops, int n,
		const signed char *code, int pregated, uint64_t now_ms)
{
	rds_argv_t *k = &rds_keys, *a = &rds_args;
	const af_op_t *op;
	uint64_t v[8], slice_ms;
	char rec[RDS_HIST_REC + 1], stop[2];
	af_hist_entry_t e;
	int i, thr;

	av_reset(k);
	av_reset(a);
	av_name(k, st, "bans");
	av_name(k, st, "concs");
	av_addu(a, now_ms);
	av_addu(a, st->plen);
	av_add(a, pregated ? "1" : "0", 1);
	av_addu(a, (uint64_t)n);
	for(i = 0; i < n; i++) {
		op = &ops[i];
		if(code[i] <= 0) {
			av_pack(a, RDS_C_INVALID, NULL, 0);
			continue;
		}
		switch(code[i]) {
			case RDS_C_BAN_GET:
				av_key(k, st, "ban", op->key, op->key_len);
				stop[0] = RDS_C_BAN_GET;
				stop[1] = op->u.ban_get.stop ? 1 : 0;
				av_add(a, stop, 2);
				break;
			case RDS_C_BAN_SET:
				av_key(k, st, "ban", op->key, op->key_len);
				v[0] = now_ms + (uint64_t)op->u.ban_set.ttl_s * 1000;
				av_pack(a, RDS_C_BAN_SET, v, 1);
				rds_add_reason(a, op->u.ban_set.reason);
				break;
			case RDS_C_BAN_DEL:
				av_key(k, st, "ban", op->key, op->key_len);
				av_pack(a, RDS_C_BAN_DEL, NULL, 0);
				break;
			case RDS_C_WIN_HIT:
				av_key(k, st, "win", op->key, op->key_len);
				thr = op->u.win.ban_threshold != 0;
				slice_ms = (uint64_t)op->u.win.window_s * 1000 / AF_WIN_BUCKETS;
				if(slice_ms == 0)
					slice_ms = 1;
				v[0] = op->u.win.window_s;
				v[1] = slice_ms;
				v[2] = now_ms / slice_ms;
				v[3] = op->u.win.n;
				v[4] = op->u.win.ban_threshold;
				v[5] = thr ? now_ms + (uint64_t)op->u.win.ban_s * 1000 : 0;
				v[6] = op->u.win.gate;
				v[7] = (uint64_t)op->u.win.if_new;
				av_pack(a, RDS_C_WIN_HIT, v, 8);
				rds_add_reason(a, thr ? op->u.win.ban_reason : NULL);
				if(thr) {
					if(op->u.win.ban_key)
						av_key(k, st, "ban", op->u.win.ban_key,
								op->u.win.ban_key_len);
					else
						av_key(k, st, "ban", op->key, op->key_len);
				}
				break;
			case RDS_C_HIST_PUSH:
				av_key(k, st, "hist", op->key, op->key_len);
				v[0] = (uint64_t)op->u.hist.ttl_s * 1000;
				v[1] = op->u.hist.read_only ? 1 : 0;
				av_pack(a, RDS_C_HIST_PUSH, v, 2);
				if(op->u.hist.read_only) {
					/* the script takes a record still, and ignores it */
					av_add(a, "", 0);
					break;
				}
				e = op->u.hist.entry;
				if(e.ts_ms == 0)
					e.ts_ms = now_ms;
				rec[0] = (char)e.ip.family;
				memcpy(rec + 1, e.ip.addr, 16);
				memcpy(rec + 17, e.country, 2);
				rec[19] = '\0';
				memcpy(rec + 20, e.continent, 2);
				rec[22] = '\0';
				snprintf(rec + RDS_HIST_IP, sizeof(rec) - RDS_HIST_IP,
						"%020" PRIu64, e.ts_ms);
				av_add(a, rec, RDS_HIST_REC);
				break;
			case RDS_C_CONC_ADD:
				av_key(k, st, "conc", op->key, op->key_len);
				v[0] = op->u.conc.limit;
				v[1] = now_ms + (uint64_t)op->u.conc.ttl_s * 1000;
				av_pack(a, RDS_C_CONC_ADD, v, 2);
				av_add(a, op->u.conc.member, op->u.conc.member_len);
				break;
			case RDS_C_CONC_DEL:
				av_key(k, st, "conc", op->key, op->key_len);
				av_pack(a, RDS_C_CONC_DEL, NULL, 0);
				av_add(a, op->u.conc.member, op->u.conc.member_len);
				break;
			case RDS_C_CONC_COUNT:
				av_key(k, st, "conc", op->key, op->key_len);
				av_pack(a, RDS_C_CONC_COUNT, NULL, 0);
				break;
			default: /* RDS_C_CONC_SKIP */
				av_pack(a, RDS_C_CONC_SKIP, NULL, 0);
				break;
		}
	}
}

/* a field of a reply: an integer, a string, or anything else (rejected
 * by every reader below) */
enum rds_ftype { RDS_F_OTHER = 0, RDS_F_INT, RDS_F_STR };

typedef struct rds_fld {
	int type;       /* enum rds_ftype */
	long long v;    /* RDS_F_INT */
	const char *s;  /* RDS_F_STR: len bytes, not NUL-terminated */
	size_t len;
} rds_fld_t;

/* the fields of one op's result that rds_parse keeps: a BAN_GET found
 * (6) or a HIST_PUSH with all its records */
#define RDS_FIELDS (AF_HIST_MAX + 2 > 6 ? AF_HIST_MAX + 2 : 6)

/* The field of a hiredis reply element (the list script's replies). */
static void rp_reply(const redisReply *r, rds_fld_t *f)
{
	f->type = RDS_F_OTHER;
	if(!r)
		return;
	if(r->type == REDIS_REPLY_INTEGER) {
		f->type = RDS_F_INT;
		f->v = r->integer;
	} else if(r->type == REDIS_REPLY_STRING) {
		f->type = RDS_F_STR;
		f->s = r->str;
		f->len = r->len;
	}
}

/*
 * Reads the next field of the batch script's string at *p (before end):
 * a number ('-'?, digits, ',') or a string (its length in digits, ':',
 * its bytes). Numbers of more than 18 digits are refused: every number
 * read is then range-checked far below that. Advances *p; 0, -1 when
 * the text is not a field.
 */
static int rp_next(const char **p, const char *end, rds_fld_t *f)
{
	const char *q = *p;
	unsigned long long x = 0;
	int neg = 0, nd = 0;

	if(q < end && *q == '-') {
		neg = 1;
		q++;
	}
	for(; q < end && *q >= '0' && *q <= '9' && nd <= 18; q++, nd++)
		x = x * 10 + (unsigned)(*q - '0');
	if(nd == 0 || nd > 18 || q == end)
		return -1;
	if(*q == ',') {
		f->type = RDS_F_INT;
		f->v = neg ? -(long long)x : (long long)x;
		*p = q + 1;
		return 0;
	}
	if(*q != ':' || neg || x > (unsigned long long)(end - q - 1))
		return -1;
	f->type = RDS_F_STR;
	f->s = q + 1;
	f->len = (size_t)x;
	*p = q + 1 + x;
	return 0;
}

/* Reads an integer field into *v; 0, -1 when f is not one. */
static int rp_int(const rds_fld_t *f, long long *v)
{
	if(f->type != RDS_F_INT)
		return -1;
	*v = f->v;
	return 0;
}

/* Reads an integer field in [lo, hi] into *v; 0, -1 when not so. */
static int rp_range(const rds_fld_t *f, long long lo, long long hi,
		long long *v)
{
	if(rp_int(f, v) < 0 || *v < lo || *v > hi)
		return -1;
	return 0;
}

/* Reads a decimal string field into *v; 0, -1 when f is not one. */
static int rp_u64str(const rds_fld_t *f, uint64_t *v)
{
	char num[24], *end;
	unsigned long long x;

	if(f->type != RDS_F_STR || f->len == 0 || f->len >= sizeof(num))
		return -1;
	memcpy(num, f->s, f->len);
	num[f->len] = '\0';
	if(num[0] < '0' || num[0] > '9')
		return -1;
	errno = 0;
	x = strtoull(num, &end, 10);
	if(errno || *end)
		return -1;
	*v = x;
	return 0;
}

/* Fills ban from the fields since, until, hits and reason; 0 or -1. */
static int rp_ban(const rds_fld_t *e, af_ban_t *ban)
{
	uint64_t hits;
	size_t len;

	if(rp_u64str(&e[0], &ban->since_ms) < 0
			|| rp_u64str(&e[1], &ban->until_ms) < 0)
		return -1;
	if(e[2].type == RDS_F_INT) {
		if(e[2].v < 0 || e[2].v > UINT32_MAX)
			return -1;
		hits = (uint64_t)e[2].v;
	} else if(rp_u64str(&e[2], &hits) < 0 || hits > UINT32_MAX) {
		return -1;
	}
	ban->hits = (uint32_t)hits;
	if(e[3].type != RDS_F_STR)
		return -1;
	len = e[3].len < AF_BAN_REASON - 1 ? e[3].len : AF_BAN_REASON - 1;
	memset(ban->reason, 0, sizeof(ban->reason));
	if(len)
		memcpy(ban->reason, e[3].s, len);
	return 0;
}

/* Fills entry from a history record of RDS_HIST_REC bytes; 0 or -1. */
static int rp_hist(const rds_fld_t *f, af_hist_entry_t *entry)
{
	char num[21], *end;
	unsigned long long ts;

	if(f->type != RDS_F_STR || f->len != RDS_HIST_REC)
		return -1;
	memset(entry, 0, sizeof(*entry));
	entry->ip.family = (uint8_t)f->s[0];
	memcpy(entry->ip.addr, f->s + 1, 16);
	memcpy(entry->country, f->s + 17, 3);
	memcpy(entry->continent, f->s + 20, 3);
	memcpy(num, f->s + RDS_HIST_IP, 20);
	num[20] = '\0';
	errno = 0;
	ts = strtoull(num, &end, 10);
	if(errno || *end)
		return -1;
	entry->ts_ms = ts;
	return 0;
}

/*
 * Reads the batch script's reply (one string, see rds_lua_exec) into
 * ops[0..n): the outputs of the ops done, each op's status as the script
 * gave it (fixed by rds_finish). Reads in place, nothing allocated: an
 * op's fields are kept in e[] (those past RDS_FIELDS are read and
 * dropped: no op looks at them) and checked as they were when the reply
 * was an array per op. Returns 0 with *done and *stopped, -1 when the
 * reply is not what the script answers.
 */
static int rds_parse(const redisReply *r, af_op_t *ops, int n,
		const signed char *code, int *done, int *stopped)
{
	rds_fld_t f, e[RDS_FIELDS];
	const char *p, *end;
	af_op_t *op;
	long long v, status, k, j;
	int i;

	if(!r || r->type != REDIS_REPLY_STRING)
		return -1;
	p = r->str;
	end = r->str + r->len;
	if(rp_next(&p, end, &f) < 0 || rp_range(&f, 0, n, &v) < 0)
		return -1;
	*done = (int)v;
	if(rp_next(&p, end, &f) < 0 || rp_range(&f, 0, 1, &v) < 0)
		return -1;
	*stopped = (int)v;
	if(!*stopped && *done != n)
		return -1;
	for(i = 0; i < *done; i++) {
		op = &ops[i];
		if(rp_next(&p, end, &f) < 0 || rp_range(&f, 1, LLONG_MAX, &k) < 0)
			return -1;
		for(j = 0; j < k; j++)
			if(rp_next(&p, end, j < RDS_FIELDS ? &e[j] : &f) < 0)
				return -1;
		if(rp_range(&e[0], -1, 1, &status) < 0)
			return -1;
		op->status = (int)status;
		if(code[i] <= 0) {
			if(status != -1)
				return -1;
			continue;
		}
		if(code[i] == RDS_C_CONC_SKIP
				|| (code[i] == RDS_C_CONC_ADD && *stopped)) {
			if(status != 1 || k != 1)
				return -1;
			continue;
		}
		if(status != 0)
			return -1;
		switch(code[i]) {
			case RDS_C_BAN_GET:
				if(k < 2 || rp_range(&e[1], 0, 1, &v) < 0)
					return -1;
				op->u.ban_get.found = (int)v;
				if(v && (k != 6 || rp_ban(e + 2, &op->u.ban_get.ban) < 0))
					return -1;
				break;
			case RDS_C_BAN_SET:
				break;
			case RDS_C_BAN_DEL:
				if(k != 2 || rp_range(&e[1], 0, 1, &v) < 0)
					return -1;
				op->u.ban_del.found = (int)v;
				break;
			case RDS_C_WIN_HIT:
				if(k != 3 || rp_range(&e[1], 0, UINT32_MAX, &v) < 0)
					return -1;
				op->u.win.count = (uint32_t)v;
				if(rp_range(&e[2], 0, 1, &v) < 0)
					return -1;
				op->u.win.banned = (int)v;
				break;
			case RDS_C_HIST_PUSH:
				if(k < 2 || rp_range(&e[1], 0, AF_HIST_MAX, &v) < 0
						|| k != v + 2)
					return -1;
				op->u.hist.n_prev = (int)v;
				for(j = 0; j < v; j++)
					if(rp_hist(&e[2 + j], &op->u.hist.prev[j]) < 0)
						return -1;
				break;
			case RDS_C_CONC_ADD:
				if(k != 4 || rp_range(&e[1], 0, UINT32_MAX, &v) < 0)
					return -1;
				op->u.conc.count = (uint32_t)v;
				if(rp_range(&e[2], 0, 1, &v) < 0)
					return -1;
				op->u.conc.admitted = (int)v;
				if(rp_range(&e[3], 0, 1, &v) < 0)
					return -1;
				op->u.conc.full = (int)v;
				op->u.conc.found = 0;
				break;
			case RDS_C_CONC_DEL:
				if(k != 3 || rp_range(&e[1], 0, UINT32_MAX, &v) < 0)
					return -1;
				op->u.conc.count = (uint32_t)v;
				if(rp_range(&e[2], 0, 1, &v) < 0)
					return -1;
				op->u.conc.found = (int)v;
				break;
			case RDS_C_CONC_COUNT:
				if(k != 2 || rp_range(&e[1], 0, UINT32_MAX, &v) < 0)
					return -1;
				op->u.conc.count = (uint32_t)v;
				break;
			default:
				return -1;
		}
	}
	return p == end ? 0 : -1;
}

/* Clears the outputs of a CONC_ADD op. */
static void rds_conc_clear(af_op_t *op)
{
	op->u.conc.count = 0;
	op->u.conc.admitted = 0;
	op->u.conc.full = 0;
	op->u.conc.found = 0;
}

/* Clears the outputs of op as shm does for an invalid op of its type. */
static void rds_invalid_clear(af_op_t *op)
{
	switch(op->type) {
		case AF_OP_BAN_GET:
			op->u.ban_get.found = 0;
			break;
		case AF_OP_BAN_DEL:
			op->u.ban_del.found = 0;
			break;
		case AF_OP_WIN_HIT:
			op->u.win.count = 0;
			op->u.win.banned = 0;
			break;
		case AF_OP_HIST_PUSH:
			op->u.hist.n_prev = 0;
			break;
		case AF_OP_CONC_DEL:
			op->u.conc.count = 0;
			op->u.conc.found = 0;
			break;
		case AF_OP_CONC_COUNT:
			op->u.conc.count = 0;
			break;
		default:
			break;
	}
}

/*
 * Sets the final status of ops[0..n) after the script (or none) ran
 * done of them: ops after a stop are skipped (1), and so is the CONC_ADD
 * group (outputs cleared, unless no CONC_ADD came before the stop: then,
 * as in shm, they are left as they are); an invalid group fails (-1);
 * invalid ops fail. Returns 0, or -1 when an op failed (each counted in
 * failures).
 */
static int rds_finish(af_store_redis_t *st, af_op_t *ops, int n,
		const signed char *code, int done, int stopped, int group_bad)
{
	af_op_t *op;
	int i, rc = 0, clear = !stopped;

	for(i = 0; stopped && i < done; i++)
		if(ops[i].type == AF_OP_CONC_ADD)
			clear = 1;
	for(i = 0; i < n; i++) {
		op = &ops[i];
		if(op->type == AF_OP_CONC_ADD) {
			if(stopped || group_bad) {
				op->status = stopped ? 1 : -1;
				if(clear)
					rds_conc_clear(op);
			}
		} else if(i >= done) {
			op->status = 1;
		} else if(code[i] <= 0) {
			op->status = -1;
			if(code[i] == RDS_C_INVALID)
				rds_invalid_clear(op);
		}
		if(op->status < 0) {
			__atomic_add_fetch(&st->failures, 1, __ATOMIC_RELAXED);
			rc = -1;
		}
	}
	return rc;
}

/* Fails every op of ops[0..n) (the server could not be used). */
static int rds_unavailable(af_store_redis_t *st, af_op_t *ops, int n)
{
	int i;

	for(i = 0; i < n; i++) {
		ops[i].status = -1;
		switch(ops[i].type) {
			case AF_OP_CONC_ADD:
				rds_conc_clear(&ops[i]);
				break;
			default:
				rds_invalid_clear(&ops[i]);
				break;
		}
	}
	__atomic_add_fetch(&st->failures, (uint64_t)n, __ATOMIC_RELAXED);
	return AF_STORE_UNAVAILABLE;
}

/*
 * exec: checks ops[0..n), runs them as one EVALSHA of the batch script
 * and reads their outputs. Returns 0, -1 when an op was invalid (its
 * status is -1), AF_STORE_UNAVAILABLE when the server could not be used
 * (every status -1, the connection dropped).
 */
static int rds_exec(af_store_t *s, af_op_t *ops, int n, uint64_t now_ms)
{
	af_store_redis_t *st = (af_store_redis_t *)s;
	const char *head[3];
	size_t headlen[3];
	char nkeys[16], err[256];
	rds_conn_t *slot;
	rds_guard_t g;
	redisReply *r;
	int need, group_bad, pregated, argc, done, stopped = 0, rc = 0;

	if(n > 0 && ops == NULL)
		return -1;
	if(n <= 0)
		return 0;
	rds_enter(&g, 1);
	if(rds_code_room(n) < 0) {
		AF_ERR("store: redis: out of memory\n");
		rc = AF_STORE_UNAVAILABLE;
		goto done;
	}
	need = rds_check(ops, n, rds_code, &group_bad, &pregated);
	done = n;
	if(need) {
		slot = rds_get(st, err, sizeof(err));
		if(!slot) {
			rc = AF_STORE_UNAVAILABLE;
			goto done;
		}
		rds_build(st, ops, n, rds_code, pregated, now_ms);
		head[0] = head[1] = NULL;
		headlen[0] = headlen[1] = 0;
		headlen[2] = (size_t)snprintf(nkeys, sizeof(nkeys), "%d", rds_keys.n);
		head[2] = nkeys;
		argc = av_final(head, headlen, 3, &rds_keys, &rds_args);
		if(argc < 0) {
			AF_ERR("store: redis: out of memory\n");
			rc = AF_STORE_UNAVAILABLE;
			goto done;
		}
		r = rds_eval(slot, 0, argc, err, sizeof(err));
		if(r && rds_parse(r, ops, n, rds_code, &done, &stopped) < 0) {
			freeReplyObject(r);
			r = NULL;
			snprintf(err, sizeof(err), "EVALSHA: unexpected reply");
		}
		if(!r) {
			rds_fail(slot, err);
			rc = AF_STORE_UNAVAILABLE;
			goto done;
		}
		freeReplyObject(r);
	}
	rc = rds_finish(st, ops, n, rds_code, done, stopped, group_bad);
done:
	rds_leave(&g, 1);
	if(rc == AF_STORE_UNAVAILABLE)
		return rds_unavailable(st, ops, n);
	return rc;
}

/*
 * Runs the list script (mode 'b' bans, 'c' sets under prefix) on this
 * process's connection. Returns the reply (an array), NULL when the
 * server could not be used. Lock: none held on entry.
 */
static redisReply *rds_list(af_store_redis_t *st, char mode,
		const char *prefix, size_t prefix_len, uint64_t now_ms)
{
	const char *head[3];
	size_t headlen[3];
	char err[256];
	rds_conn_t *slot;
	redisReply *r = NULL;
	rds_guard_t g;
	int argc;

	rds_enter(&g, 1);
	slot = rds_get(st, err, sizeof(err));
	if(!slot)
		goto done;
	av_reset(&rds_keys);
	av_reset(&rds_args);
	av_name(&rds_keys, st, mode == 'b' ? "bans" : "concs");
	av_addu(&rds_args, now_ms);
	av_add(&rds_args, st->cfg.prefix, st->plen);
	av_add(&rds_args, &mode, 1);
	av_add(&rds_args, prefix, prefix_len);
	head[0] = head[1] = NULL;
	headlen[0] = headlen[1] = 0;
	head[2] = "1";
	headlen[2] = 1;
	argc = av_final(head, headlen, 3, &rds_keys, &rds_args);
	if(argc < 0) {
		AF_ERR("store: redis: out of memory\n");
		goto done;
	}
	r = rds_eval(slot, 1, argc, err, sizeof(err));
	if(r && (r->type != REDIS_REPLY_ARRAY
					|| r->elements % (mode == 'b' ? 5 : 2) != 0)) {
		freeReplyObject(r);
		r = NULL;
		snprintf(err, sizeof(err), "EVALSHA: unexpected reply");
	}
	if(!r)
		rds_fail(slot, err);
done:
	rds_leave(&g, 1);
	return r;
}

/*
 * ban_list: calls cb for every live ban (key: the whole subject, even
 * when longer than AF_KEY_MAX). The bans are read in one round trip and
 * cb runs without any lock held (it may use the store). Returns 0, -1
 * when the server could not be used.
 */
static int rds_ban_list(af_store_t *s, af_ban_cb cb, void *arg,
		uint64_t now_ms)
{
	af_store_redis_t *st = (af_store_redis_t *)s;
	redisReply *r = rds_list(st, 'b', NULL, 0, now_ms);
	af_ban_t ban;
	rds_fld_t e[4];
	size_t i, j;
	int rc = 0;

	if(!r)
		return -1;
	for(i = 0; i + 5 <= r->elements; i += 5) {
		memset(&ban, 0, sizeof(ban));
		for(j = 0; j < 4; j++)
			rp_reply(r->element[i + 1 + j], &e[j]);
		if(r->element[i]->type != REDIS_REPLY_STRING || rp_ban(e, &ban) < 0) {
			rc = -1;
			break;
		}
		if(cb(r->element[i]->str, r->element[i]->len, &ban, arg))
			break;
	}
	freeReplyObject(r);
	return rc;
}

/*
 * conc_list: calls cb for every live set whose key (the whole subject)
 * starts with prefix, with its count; sets are pruned on the way. cb runs
 * without any lock held. Returns 0, -1 when prefix is NULL with a length
 * or the server could not be used.
 */
static int rds_conc_list(af_store_t *s, const char *prefix,
		size_t prefix_len, af_conc_cb cb, void *arg, uint64_t now_ms)
{
	af_store_redis_t *st = (af_store_redis_t *)s;
	redisReply *r;
	rds_fld_t f;
	long long c;
	size_t i;
	int rc = 0;

	if(prefix == NULL && prefix_len)
		return -1;
	r = rds_list(st, 'c', prefix, prefix_len, now_ms);
	if(!r)
		return -1;
	for(i = 0; i + 2 <= r->elements; i += 2) {
		rp_reply(r->element[i + 1], &f);
		if(r->element[i]->type != REDIS_REPLY_STRING
				|| rp_range(&f, 1, UINT32_MAX, &c) < 0) {
			rc = -1;
			break;
		}
		if(cb(r->element[i]->str, r->element[i]->len, (uint32_t)c, arg))
			break;
	}
	freeReplyObject(r);
	return rc;
}

#define RDS_FORGET_COUNT "200"    /* keys a SCAN looks at per call */
#define RDS_FORGET_CALLS 100000   /* SCAN calls per pattern at most */

/* Appends s[0..len) to buf at *n with the glob specials escaped; 0, -1
 * when it does not fit. */
static int rds_glob_escape(char *buf, size_t size, size_t *n, const char *s,
		size_t len)
{
	size_t i;

	for(i = 0; i < len; i++) {
		if(*n + 2 >= size)
			return -1;
		if(s[i] == '*' || s[i] == '?' || s[i] == '[' || s[i] == ']'
				|| s[i] == '\\')
			buf[(*n)++] = '\\';
		buf[(*n)++] = s[i];
	}
	buf[*n] = '\0';
	return 0;
}

/*
 * Removes the keys of one kind matching pattern pat (the whole Redis key)
 * on connection slot: SCAN ... MATCH, then UNLINK of each page's keys (a
 * ban also leaves the ban index). Returns 0, -1 with why set.
 */
static int rds_forget_scan(af_store_redis_t *st, rds_conn_t *slot,
		const char *pat, int ban, uint64_t *removed, char *why,
		size_t whylen)
{
	char cursor[32] = "0", index[sizeof(st->cfg.prefix) + 8];
	const char **argv = NULL;
	size_t *argl = NULL, i, subj;
	redisReply *r, *u, *keys;
	long calls = 0;
	int rc = -1;

	snprintf(index, sizeof(index), "%sbans", st->cfg.prefix);
	subj = st->plen + sizeof("ban:{") - 1;
	do {
		r = redisCommand(slot->c, "SCAN %s MATCH %s COUNT " RDS_FORGET_COUNT,
				cursor, pat);
		if(!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2
				|| r->element[0]->type != REDIS_REPLY_STRING
				|| r->element[0]->len >= sizeof(cursor)
				|| r->element[1]->type != REDIS_REPLY_ARRAY) {
			snprintf(why, whylen, "SCAN: %s",
					!r ? slot->c->errstr
					   : r->type == REDIS_REPLY_ERROR ? r->str
													  : "unexpected reply");
			if(r)
				freeReplyObject(r);
			goto done;
		}
		memcpy(cursor, r->element[0]->str, r->element[0]->len);
		cursor[r->element[0]->len] = '\0';
		keys = r->element[1];
		if(keys->elements) {
			free(argv);
			free(argl);
			argv = malloc((keys->elements + 1) * sizeof(*argv));
			argl = malloc((keys->elements + 1) * sizeof(*argl));
			if(!argv || !argl) {
				freeReplyObject(r);
				snprintf(why, whylen, "out of memory");
				goto done;
			}
			argv[0] = "UNLINK";
			argl[0] = 6;
			for(i = 0; i < keys->elements; i++) {
				argv[i + 1] = keys->element[i]->str ? keys->element[i]->str
													: "";
				argl[i + 1] = keys->element[i]->len;
			}
			u = redisCommandArgv(slot->c, (int)keys->elements + 1, argv, argl);
			if(!u || u->type != REDIS_REPLY_INTEGER) {
				snprintf(why, whylen, "UNLINK: %s",
						!u ? slot->c->errstr
						   : u->type == REDIS_REPLY_ERROR ? u->str
														  : "unexpected reply");
				if(u)
					freeReplyObject(u);
				freeReplyObject(r);
				goto done;
			}
			if(removed)
				*removed += (uint64_t)u->integer;
			freeReplyObject(u);
			for(i = 0; ban && i < keys->elements; i++) {
				if(keys->element[i]->len <= subj)
					continue;
				u = redisCommand(slot->c, "ZREM %s %b", index,
						keys->element[i]->str + subj,
						keys->element[i]->len - subj - 1);
				if(u)
					freeReplyObject(u);
			}
		}
		freeReplyObject(r);
	} while(strcmp(cursor, "0") != 0 && ++calls < RDS_FORGET_CALLS);
	rc = 0;
done:
	free(argv);
	free(argl);
	return rc;
}

/*
 * forget: for each pattern and each of its kinds, the Redis keys
 * <prefix><kind>:{<glob>} are found with SCAN (bounded) and unlinked.
 * Returns 0, -1 when the server could not be used (some keys may be
 * gone). Lock: none held on entry.
 */
static int rds_forget(af_store_t *s, const af_forget_pat_t *pats, int n,
		uint64_t now_ms, uint64_t *removed)
{
	static const struct {
		unsigned kind;
		const char *name;
	} kinds[] = {{AF_FORGET_BAN, "ban"}, {AF_FORGET_WIN, "win"},
			{AF_FORGET_HIST, "hist"}};
	af_store_redis_t *st = (af_store_redis_t *)s;
	char pat[AF_KEY_MAX * 2 + 128], why[256];
	rds_conn_t *slot;
	rds_guard_t g;
	size_t len;
	int i, k, rc = -1;

	rds_enter(&g, 1);
	slot = rds_get(st, why, sizeof(why));
	if(!slot)
		goto done;
	for(i = 0; i < n; i++) {
		for(k = 0; k < 3; k++) {
			if(!(pats[i].kinds & kinds[k].kind))
				continue;
			len = 0;
			if(rds_glob_escape(pat, sizeof(pat), &len, st->cfg.prefix,
					   st->plen)
					< 0
					|| strlen(pats[i].glob) + len + 16 >= sizeof(pat)) {
				AF_ERR("store: redis: forget: pattern too long\n");
				goto done;
			}
			len += (size_t)snprintf(pat + len, sizeof(pat) - len, "%s:{%s}",
					kinds[k].name, pats[i].glob);
			if(rds_forget_scan(st, slot, pat, kinds[k].kind == AF_FORGET_BAN,
					   removed, why, sizeof(why))
					< 0) {
				rds_fail(slot, why);
				goto done;
			}
		}
	}
	rc = 0;
done:
	rds_leave(&g, 1);
	if(rc < 0)
		__atomic_add_fetch(&st->failures, 1, __ATOMIC_RELAXED);
	return rc;
}

/* gc: nothing to do, every key has a TTL and the scripts prune. */
static void rds_gc(af_store_t *s, uint64_t now_ms, unsigned budget)
{
}

/* The unsigned value of "name:" in an INFO reply, 0 when absent. */
static uint64_t rds_info_field(const char *info, const char *name)
{
	size_t nl = strlen(name);
	const char *p = info;

	while(p && *p) {
		if(strncmp(p, name, nl) == 0 && p[nl] == ':')
			return strtoull(p + nl + 1, NULL, 10);
		p = strchr(p, '\n');
		if(p)
			p++;
	}
	return 0;
}

/*
 * stats: entries are the keys of the db (DBSIZE: give the store a db of
 * its own), evictions and expired Redis's evicted_keys and expired_keys
 * (INFO stats, server-wide), capacity 0 (bounded by Redis's maxmemory),
 * failures this store's (all processes). One round trip; the server's
 * figures are 0 when it cannot be reached.
 */
static void rds_stats(af_store_t *s, af_store_stats_t *out)
{
	rds_guard_t g;
	af_store_redis_t *st = (af_store_redis_t *)s;
	rds_conn_t *slot;
	redisReply *r = NULL;
	void *rv;
	char err[256];
	int ok = 0;

	memset(out, 0, sizeof(*out));
	rds_enter(&g, 1);
	slot = rds_get(st, err, sizeof(err));
	if(slot) {
		redisAppendCommand(slot->c, "DBSIZE");
		redisAppendCommand(slot->c, "INFO stats");
		if(redisGetReply(slot->c, &rv) == REDIS_OK) {
			r = rv;
			if(r->type == REDIS_REPLY_INTEGER && r->integer >= 0) {
				out->entries = (uint64_t)r->integer;
				ok++;
			}
			freeReplyObject(r);
			if(redisGetReply(slot->c, &rv) == REDIS_OK) {
				r = rv;
				if(r->type == REDIS_REPLY_STRING) {
					out->evictions = rds_info_field(r->str, "evicted_keys");
					out->expired = rds_info_field(r->str, "expired_keys");
					ok++;
				}
				freeReplyObject(r);
			}
		}
		if(ok != 2) {
			snprintf(err, sizeof(err), "stats: %s",
					slot->c->err ? slot->c->errstr : "unexpected reply");
			rds_fail(slot, err);
		}
	}
	rds_leave(&g, 1);
	out->failures = __atomic_load_n(&st->failures, __ATOMIC_RELAXED);
}

/* Drops this process's connection for st. Lock: rds_mx. */
static void rds_drop(const af_store_redis_t *st)
{
	int i;

	for(i = 0; i < RDS_SLOTS; i++) {
		if(rds_conns[i].id != st->id)
			continue;
		if(rds_conns[i].c)
			redisFree(rds_conns[i].c);
		rds_conns[i].c = NULL;
		rds_conns[i].pid = getpid();
		rds_conns[i].down = 0;
	}
}

/* destroy: drops this process's connection and frees the store; no
 * process may use s after. */
static void rds_destroy(af_store_t *s)
{
	af_store_redis_t *st = (af_store_redis_t *)s;
	int i;

	if(!st)
		return;
	pthread_mutex_lock(&rds_mx);
	for(i = 0; i < RDS_SLOTS; i++) {
		if(rds_conns[i].id != st->id)
			continue;
		if(rds_conns[i].c)
			redisFree(rds_conns[i].c);
		memset(&rds_conns[i], 0, sizeof(rds_conns[i]));
	}
	pthread_mutex_unlock(&rds_mx);
	af_host->shm_free(st);
}

static const af_store_ops_t rds_ops = {
	.name = "redis",
	.exec = rds_exec,
	.ban_list = rds_ban_list,
	.conc_list = rds_conc_list,
	.forget = rds_forget,
	.gc = rds_gc,
	.stats = rds_stats,
	.destroy = rds_destroy,
};

/*
 * Creates a Redis store for cfg (copied into af_host->shm_alloc memory):
 * timeouts of 0 become 1000 ms (connect) and 250 ms (command), an empty
 * prefix "af:". Does not connect. Returns NULL when cfg is NULL or out of
 * memory.
 */
af_store_t *af_store_redis_new(const af_redis_cfg_t *cfg)
{
	af_store_redis_t *st;
	uint64_t id = 0;

	if(!cfg)
		return NULL;
	st = af_host->shm_alloc(sizeof(*st));
	if(!st) {
		AF_ERR("store: out of shared memory (%zu bytes)\n", sizeof(*st));
		return NULL;
	}
	memset(st, 0, sizeof(*st));
	st->base.ops = &rds_ops;
	st->cfg = *cfg;
	st->cfg.host[sizeof(st->cfg.host) - 1] = '\0';
	st->cfg.unix_path[sizeof(st->cfg.unix_path) - 1] = '\0';
	st->cfg.username[sizeof(st->cfg.username) - 1] = '\0';
	st->cfg.password[sizeof(st->cfg.password) - 1] = '\0';
	st->cfg.master_name[sizeof(st->cfg.master_name) - 1] = '\0';
	st->cfg.prefix[sizeof(st->cfg.prefix) - 1] = '\0';
	if(st->cfg.n_sentinels < 0)
		st->cfg.n_sentinels = 0;
	if(st->cfg.n_sentinels > AF_REDIS_SENTINELS_MAX)
		st->cfg.n_sentinels = AF_REDIS_SENTINELS_MAX;
	if(!st->cfg.prefix[0])
		strcpy(st->cfg.prefix, "af:");
	if(!st->cfg.connect_timeout_ms)
		st->cfg.connect_timeout_ms = RDS_DEF_CONNECT_MS;
	if(!st->cfg.command_timeout_ms)
		st->cfg.command_timeout_ms = RDS_DEF_COMMAND_MS;
	st->plen = strlen(st->cfg.prefix);
	while(id == 0) {
		if(getrandom(&id, sizeof(id), GRND_NONBLOCK) != sizeof(id))
			id = af_now_ms() ^ (uint64_t)(uintptr_t)st ^ (uint64_t)getpid();
	}
	st->id = id;
	pthread_mutex_lock(&rds_mx);
	if(!rds_atfork_done) {
		pthread_atfork(NULL, NULL, rds_atfork_child);
		rds_atfork_done = 1;
	}
	pthread_mutex_unlock(&rds_mx);
	return &st->base;
}

/*
 * Connects this process now if it is not, and PINGs. Returns 0, -1 with
 * the reason in err (the connection is dropped).
 */
int af_store_redis_ping(af_store_t *s, char *err, size_t errlen)
{
	rds_guard_t g;
	af_store_redis_t *st = (af_store_redis_t *)s;
	rds_conn_t *slot;
	redisReply *r;
	char why[256];
	int rc = -1;

	rds_enter(&g, 1);
	slot = rds_get(st, why, sizeof(why));
	if(slot) {
		r = redisCommand(slot->c, "PING");
		if(rds_is(r, "PONG")) {
			rc = 0;
		} else {
			snprintf(why, sizeof(why), "PING: %s",
					!r ? slot->c->errstr
					   : r->type == REDIS_REPLY_ERROR ? r->str
													  : "unexpected reply");
			rds_fail(slot, why);
		}
		if(r)
			freeReplyObject(r);
	}
	rds_leave(&g, 1);
	if(rc < 0)
		rds_err(err, errlen, "%s", why);
	return rc;
}

/*
 * PUBLISHes msg on <prefix>events. Returns the number of receivers, -1
 * when the server could not be used (the connection is dropped).
 */
int af_store_redis_publish(af_store_t *s, const char *msg, size_t len)
{
	rds_guard_t g;
	af_store_redis_t *st = (af_store_redis_t *)s;
	rds_conn_t *slot;
	redisReply *r;
	char chan[sizeof(st->cfg.prefix) + 8], why[256];
	int rc = -1;

	snprintf(chan, sizeof(chan), "%sevents", st->cfg.prefix);
	rds_enter(&g, 1);
	slot = rds_get(st, why, sizeof(why));
	if(slot) {
		r = redisCommand(slot->c, "PUBLISH %s %b", chan, msg ? msg : "",
				msg ? len : 0);
		if(r && r->type == REDIS_REPLY_INTEGER && r->integer >= 0) {
			rc = r->integer > INT_MAX ? INT_MAX : (int)r->integer;
		} else {
			snprintf(why, sizeof(why), "PUBLISH: %s",
					!r ? slot->c->errstr
					   : r->type == REDIS_REPLY_ERROR ? r->str
													  : "unexpected reply");
			rds_fail(slot, why);
		}
		if(r)
			freeReplyObject(r);
	}
	rds_leave(&g, 1);
	return rc;
}

/* Hands a pub/sub reply to cb when it is a message. */
static void rds_sub_deliver(const redisReply *r,
		void (*cb)(const char *msg, size_t len, void *arg), void *arg)
{
	if(cb && r->type == REDIS_REPLY_ARRAY && r->elements == 3
			&& rds_is(r->element[0], "message")
			&& r->element[2]->type == REDIS_REPLY_STRING)
		cb(r->element[2]->str, r->element[2]->len, arg);
}

/*
 * Subscribes a connection of its own to <prefix>events and hands every
 * message to cb. Between messages waits at most poll_ms (0: 100) for the
 * socket, then asks stop(). Returns 0 when stop() said so, -1 when the
 * connection could not be made or failed (logged).
 */
int af_store_redis_subscribe(af_store_t *s,
		void (*cb)(const char *msg, size_t len, void *arg), void *arg,
		int (*stop)(void *arg), uint32_t poll_ms)
{
	af_store_redis_t *st = (af_store_redis_t *)s;
	char chan[sizeof(st->cfg.prefix) + 8], err[256];
	struct pollfd pfd;
	redisContext *c;
	redisReply *r;
	void *rv;
	rds_guard_t g;
	int via, pr, rc = -1;

	if(!poll_ms)
		poll_ms = RDS_DEF_POLL_MS;
	if(poll_ms > INT_MAX)
		poll_ms = INT_MAX;
	snprintf(chan, sizeof(chan), "%sevents", st->cfg.prefix);
	rds_enter(&g, 0);
	c = rds_open(&st->cfg, &via, err, sizeof(err));
	if(!c) {
		rds_leave(&g, 0);
		AF_WARN("store: redis subscriber: %s\n", err);
		return -1;
	}
	if(rds_setup(c, &st->cfg, 0, 0, NULL, err, sizeof(err)) < 0)
		goto fail;
	r = redisCommand(c, "SUBSCRIBE %s", chan);
	if(!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1
			|| !rds_is(r->element[0], "subscribe")) {
		snprintf(err, sizeof(err), "SUBSCRIBE: %s",
				!r ? c->errstr
				   : r->type == REDIS_REPLY_ERROR ? r->str
												  : "unexpected reply");
		if(r)
			freeReplyObject(r);
		goto fail;
	}
	freeReplyObject(r);
	for(;;) {
		if(stop && stop(arg)) {
			rc = 0;
			break;
		}
		/* the replies already read, then wait for more */
		rv = NULL;
		if(redisReaderGetReply(c->reader, &rv) != REDIS_OK) {
			snprintf(err, sizeof(err), "protocol error");
			goto fail;
		}
		if(rv) {
			rds_sub_deliver(rv, cb, arg);
			freeReplyObject(rv);
			continue;
		}
		pfd.fd = c->fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		pr = poll(&pfd, 1, (int)poll_ms);
		if(pr < 0 && errno != EINTR) {
			snprintf(err, sizeof(err), "poll: %s", strerror(errno));
			goto fail;
		}
		if(pr > 0 && redisBufferRead(c) != REDIS_OK) {
			snprintf(err, sizeof(err), "%s", c->errstr);
			goto fail;
		}
	}
	redisFree(c);
	rds_leave(&g, 0);
	return rc;
fail:
	redisFree(c);
	rds_leave(&g, 0);
	AF_WARN("store: redis subscriber: %s\n", err);
	return -1;
}

/* Drops this process's connection for s; the next call connects again. */
void af_store_redis_disconnect(af_store_t *s)
{
	pthread_mutex_lock(&rds_mx);
	rds_drop((af_store_redis_t *)s);
	pthread_mutex_unlock(&rds_mx);
}

/* ---- URLs ---- */

/* The value of hex digit ch, -1 when it is not one. */
static int url_hex(char ch)
{
	if(ch >= '0' && ch <= '9')
		return ch - '0';
	if(ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if(ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/*
 * Copies s[0..len) percent-decoded into out (size outlen, NUL-terminated).
 * Returns 0, -1 when a %XX is malformed, decodes to NUL or out is too
 * small.
 */
static int url_decode(const char *s, size_t len, char *out, size_t outlen)
{
	size_t i, o = 0;
	int hi, lo;

	for(i = 0; i < len; i++) {
		if(o + 1 >= outlen)
			return -1;
		if(s[i] != '%') {
			out[o++] = s[i];
			continue;
		}
		if(i + 2 >= len)
			return -1;
		hi = url_hex(s[i + 1]);
		lo = url_hex(s[i + 2]);
		if(hi < 0 || lo < 0 || (hi == 0 && lo == 0))
			return -1;
		out[o++] = (char)(hi * 16 + lo);
		i += 2;
	}
	if(outlen == 0)
		return -1;
	out[o] = '\0';
	return 0;
}

/* Parses a db number s[0..len) into *db; 0, -1 when not a number. */
static int url_db(const char *s, size_t len, int *db)
{
	long v = 0;
	size_t i;

	if(len == 0 || len > 7)
		return -1;
	for(i = 0; i < len; i++) {
		if(s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if(v > RDS_DB_MAX)
		return -1;
	*db = (int)v;
	return 0;
}

/*
 * Splits the user info off s[0..*len) (up to its last '@'): "[user]:pass"
 * into c's username and password, percent-decoded; s and len move past
 * it. Returns 0 (also when there is none), -1 with err.
 */
static int url_userinfo(const char **s, size_t *len, af_redis_cfg_t *c,
		char *err, size_t errlen)
{
	const char *at = NULL, *colon, *p;

	for(p = *s; p < *s + *len; p++)
		if(*p == '@')
			at = p;
	if(!at)
		return 0;
	colon = memchr(*s, ':', (size_t)(at - *s));
	if(!colon) {
		rds_err(err, errlen, "the user info must be [user]:password");
		return -1;
	}
	if(url_decode(*s, (size_t)(colon - *s), c->username, sizeof(c->username))
			< 0) {
		rds_err(err, errlen, "bad or too long user name");
		return -1;
	}
	if(url_decode(colon + 1, (size_t)(at - colon - 1), c->password,
			   sizeof(c->password))
			< 0) {
		rds_err(err, errlen, "bad or too long password");
		return -1;
	}
	*len -= (size_t)(at + 1 - *s);
	*s = at + 1;
	return 0;
}

/* The redis:// part after the scheme: [[user]:password@]host[:port][/db] */
static int url_redis(const char *s, size_t len, af_redis_cfg_t *c, char *err,
		size_t errlen)
{
	const char *slash;
	size_t hl;
	int port;

	if(url_userinfo(&s, &len, c, err, errlen) < 0)
		return -1;
	slash = memchr(s, '/', len);
	hl = slash ? (size_t)(slash - s) : len;
	if(hl == 0) {
		rds_err(err, errlen, "missing host");
		return -1;
	}
	if(memchr(s, '?', len)) {
		rds_err(err, errlen, "unexpected '?' in a redis:// URL");
		return -1;
	}
	if(rds_split_hostport(s, hl, c->host, sizeof(c->host), &port,
			   c->port ? c->port : RDS_DEF_PORT)
			< 0) {
		rds_err(err, errlen, "bad host or port '%.*s'", (int)hl, s);
		return -1;
	}
	c->port = (uint16_t)port;
	if(slash && (size_t)(s + len - slash) > 1
			&& url_db(slash + 1, (size_t)(s + len - slash - 1), &c->db) < 0) {
		rds_err(err, errlen, "db is not a number: '%.*s'",
				(int)(s + len - slash - 1), slash + 1);
		return -1;
	}
	c->unix_path[0] = '\0';
	c->n_sentinels = 0;
	return 0;
}

/* The unix:// part after the scheme: /path[?db=N] */
static int url_unix(const char *s, size_t len, af_redis_cfg_t *c, char *err,
		size_t errlen)
{
	const char *q = memchr(s, '?', len);
	size_t pl = q ? (size_t)(q - s) : len;

	if(pl == 0 || s[0] != '/') {
		rds_err(err, errlen, "the socket path must be absolute");
		return -1;
	}
	if(pl >= sizeof(c->unix_path)) {
		rds_err(err, errlen, "socket path too long");
		return -1;
	}
	if(q) {
		if(len - pl < 4 || strncmp(q, "?db=", 4) != 0) {
			rds_err(err, errlen, "unknown parameter '%.*s' (only db=N)",
					(int)(len - pl - 1), q + 1);
			return -1;
		}
		if(url_db(q + 4, len - pl - 4, &c->db) < 0) {
			rds_err(err, errlen, "db is not a number: '%.*s'",
					(int)(len - pl - 4), q + 4);
			return -1;
		}
	}
	memcpy(c->unix_path, s, pl);
	c->unix_path[pl] = '\0';
	c->host[0] = '\0';
	c->n_sentinels = 0;
	return 0;
}

/* The sentinel:// part: [[user]:password@]host:port[,...]/master[/db] */
static int url_sentinel(const char *s, size_t len, af_redis_cfg_t *c,
		char *err, size_t errlen)
{
	const char *slash, *p, *end, *comma, *mn, *db;
	char host[256];
	size_t hl, ml;
	int port, n = 0;

	if(url_userinfo(&s, &len, c, err, errlen) < 0)
		return -1;
	slash = memchr(s, '/', len);
	if(!slash || slash + 1 == s + len) {
		rds_err(err, errlen, "missing master name");
		return -1;
	}
	end = slash;
	for(p = s; p <= end; p = comma + 1) {
		comma = memchr(p, ',', (size_t)(end - p));
		if(!comma)
			comma = end;
		hl = (size_t)(comma - p);
		if(hl == 0) {
			rds_err(err, errlen, "missing sentinel address");
			return -1;
		}
		if(n == AF_REDIS_SENTINELS_MAX) {
			rds_err(err, errlen, "more than %d sentinels",
					AF_REDIS_SENTINELS_MAX);
			return -1;
		}
		if(rds_split_hostport(p, hl, host, sizeof(host), &port,
				   RDS_DEF_SENTINEL_PORT)
				< 0) {
			rds_err(err, errlen, "bad sentinel host or port '%.*s'", (int)hl,
					p);
			return -1;
		}
		snprintf(c->sentinels[n], sizeof(c->sentinels[n]),
				strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
		n++;
	}
	mn = slash + 1;
	db = memchr(mn, '/', (size_t)(s + len - mn));
	ml = db ? (size_t)(db - mn) : (size_t)(s + len - mn);
	if(ml == 0) {
		rds_err(err, errlen, "missing master name");
		return -1;
	}
	if(url_decode(mn, ml, c->master_name, sizeof(c->master_name)) < 0) {
		rds_err(err, errlen, "bad or too long master name");
		return -1;
	}
	if(db && (size_t)(s + len - db) > 1
			&& url_db(db + 1, (size_t)(s + len - db - 1), &c->db) < 0) {
		rds_err(err, errlen, "db is not a number: '%.*s'",
				(int)(s + len - db - 1), db + 1);
		return -1;
	}
	c->n_sentinels = n;
	c->host[0] = '\0';
	c->unix_path[0] = '\0';
	return 0;
}

/*
 * Parses url into cfg (see af_store_redis.h); cfg is changed only when
 * the whole URL is good. Returns 0, -1 with a message in err.
 */
int af_redis_parse_url(const char *url, af_redis_cfg_t *cfg, char *err,
		size_t errlen)
{
	af_redis_cfg_t c;
	const char *sep;
	size_t sl, len;
	int rc;

	if(!url || !cfg) {
		rds_err(err, errlen, "no URL");
		return -1;
	}
	sep = strstr(url, "://");
	if(!sep) {
		rds_err(err, errlen, "not a URL: '%s'", url);
		return -1;
	}
	sl = (size_t)(sep - url);
	c = *cfg;
	len = strlen(sep + 3);
	if(sl == 5 && strncasecmp(url, "redis", 5) == 0)
		rc = url_redis(sep + 3, len, &c, err, errlen);
	else if((sl == 4 && strncasecmp(url, "unix", 4) == 0)
			|| (sl == 10 && strncasecmp(url, "redis+unix", 10) == 0))
		rc = url_unix(sep + 3, len, &c, err, errlen);
	else if(sl == 8 && strncasecmp(url, "sentinel", 8) == 0)
		rc = url_sentinel(sep + 3, len, &c, err, errlen);
	else {
		rds_err(err, errlen,
				"bad scheme '%.*s' (redis://, unix://, redis+unix://,"
				" sentinel://)",
				(int)sl, url);
		return -1;
	}
	if(rc == 0)
		*cfg = c;
	return rc;
}
