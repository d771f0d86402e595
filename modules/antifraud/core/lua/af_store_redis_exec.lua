#!lua name=af_@ID@
-- antifraud - the batch function of the Redis store (af_store_redis.c,
-- af_store_redis_batch.c: af_rds_encode / af_rds_decode).
--
-- A function library (FUNCTION LOAD once per connection, FCALL per
-- batch, af_store_redis_net.c): what is below runs once when loaded (no
-- string or struct library then), exec once per batch. Library and
-- function are both named af_<16 hex digits of this file's SHA-1>
-- (utils/lua2c.sh fills @ID@), so two releases on one server each keep
-- theirs. Registered with allow-cross-slot-keys (a Redis Cluster master
-- may run one call over keys of several of its slots).
--
-- FCALL af_<id> nkeys KEYS... ARGV...: ARGV: now_ms, then in one
-- argument pregated (a byte, 1: an invalid WIN_HIT already went over
-- its gate), now_ms again (a double) and the ops packed one after another (each its code in a byte, then its
-- numbers as big-endian doubles, exact below 2^53, read with one
-- struct.unpack: OPSZ bytes; a BAN_GET's stop in a byte; a WIN_MULTI's
-- or FIG_MULTI's window count in a byte before them), then the
-- ops' strings in their order (a ban reason, only where the op may
-- ban: BAN_SET, a WIN_HIT or WIN_MULTI with a threshold; a CONC_ADD's
-- or CONC_DEL's member; a HIST_PUSH's record); KEYS: per op its key
-- (and, for a WIN_HIT or WIN_MULTI that may ban, the ban's key),
-- nothing else: no global index, every key a batch touches is in KEYS.
-- Answers done, stopped, r1..rdone with ri = {status, outputs...}: a
-- stop leaves the ops after done out, and a CONC_ADD not run (stop,
-- invalid group) answers {1}. All of it in one string (read by
-- rds_parse): each number as decimal text and ',', each string (ban
-- since, until and reason, history record, a figure's counts: any
-- bytes) as its length, ':' and its bytes, and each ri as its field
-- count (a number) and its fields. A FIG_MULTI answers its figures as
-- stored after the op (see fig): the module finds its windows' slots
-- and sums their rows (rp_fig).
--
-- Embedded into the module at build time (utils/lua2c.sh): lines that
-- are only a comment, empty lines and indentation are left out of what
-- Redis gets (loaded once AUTH said OK: af_rds_setup).
--
-- Copyright (C) 2026 antifraud authors
-- SPDX-License-Identifier: GPL-2.0-or-later

-- a call's time and state, set by exec and read by the helpers
local now, nows
-- per op, by index: made once when loaded and overwritten by each call
-- (no table made per call; an entry past the call's ops is never read)
local ty, nn, cnt, ifn = {}, {}, {}, {}
-- the answer's parts in order (res[0] its head; an op's one part, or
-- a FIG_MULTI's two)
local res = {}
-- the call's CONC_ADDs (nadd of them), one table per field
local nadd
local a_i, a_k, a_m, a_lim, a_exp, a_full, a_pr, a_dup = {}, {}, {}, {}, {}, {}, {}, {}
-- per CONC_ADD x, its set: a_s[x] the first CONC_ADD of its key; by
-- that index, the set's live members before (s_cn), the group's members
-- for it (s_nk), its count after (s_fin), the latest expiry added (s_mx)
local a_s, s_cn, s_nk, s_fin, s_mx = {}, {}, {}, {}, {}
local MAXU = 4294967295
-- (set by exec's first call: a library's top, run when it is loaded,
-- has no string or struct)
local sformat, sbyte, sunpack, spack, ssub, rcall, tonum, unpk, mmin, tconcat, mmax
-- answers by count c (0 to 63, made when loaded; sformat past them: a
-- larger table costs more than it saves, each of Redis's periodic GC
-- steps walking it):
-- R30[c] '3,0,c,0,' and R31[c] '3,0,c,1,' (a WIN_HIT, a CONC_DEL), R4[c]
-- '4,0,c,1,0,' (an admitted CONC_ADD of a set not full), HD[c] 'c,0,'
-- (the head of the answer of c ops not stopped)
local R30, R31, R4, HD = {}, {}, {}, {}
for c = 0, 63 do
  R30[c], R31[c], R4[c] = '3,0,' .. c .. ',0,', '3,0,' .. c .. ',1,', '4,0,' .. c .. ',1,0,'
  HD[c] = c .. ',0,'
end
-- '3,0,c,b,' (b 0 or 1)
local function r3(c, b)
  local r
  if b == 0 then r = R30[c] else r = R31[c] end
  return r or sformat('3,0,%d,%d,', c, b)
end
-- an op's answer is rendered when it is made (one string.format for
-- its numbers): see the end
-- the bytes of an op's numbers after its code (ARGV[2]), by code (a
-- WIN_MULTI's and FIG_MULTI's: see exec)
local OPSZ = {[0] = 0, 1, 8, 0, 64, 16, 16, 0, 0, 0}
-- the number after the code byte of the op at q
local function unpack1(P, q)
  local v = sunpack('>d', P, q + 1)
  return v
end
-- a ban is a string: since and until (20 digits each), hits (10
-- digits), then the reason; the live ban of bk as {since, until, hits,
-- reason}, or nil
-- SET k v PX ttl (at least 1 ms); numbers go to redis.call as text
-- made here: Redis would print them with %.17g, which costs more. With
-- GET: Redis answers a SET's OK as a table made for it, the old value
-- (none for a new key) costs less
local function setpx(k, v, ttl)
  if ttl < 1 then ttl = 1 end
  rcall('SET', k, v, 'PX', sformat('%d', ttl), 'GET')
end
local function ban_live(bk)
  local v = rcall('GET', bk)
  if not v or #v < 50 then return nil end
  local u = ssub(v, 21, 40)
  if now >= tonum(u) then
    rcall('DEL', bk)
    return nil
  end
  return {ssub(v, 1, 20), u, tonum(ssub(v, 41, 50)),
    ssub(v, 51)}
end
local function ban_put(bk, u, r)
  setpx(bk, sformat('%020d%020d%010d', now, u, 0) .. r, u - now)
end
-- windows are strings packed with struct: window_s (I4), expiry ms,
-- newest slice (doubles), then a ring of AF_WIN_BUCKETS counts (I4)
-- indexed by slice number modulo the ring's size (formats written
-- out: the script's top runs on every call)
local WF = '>I4ddI4I4I4I4I4I4I4I4I4I4I4I4I4I4I4I4'
local WLEN = 84
local HF = '>I4dd'
-- the value v of key k (format f, len bytes, its expiry at t[ei]) as
-- a table, or nil when absent, of another size or expired (then
-- deleted)
local function ring_load(k, v, f, len, ei)
  if not v or #v ~= len then return nil end
  local t = {sunpack(f, v)}
  if now >= t[ei] then
    rcall('DEL', k)
    return nil
  end
  return t
end
-- the window of key k (its value v, GET by the caller) as a table
-- {window_s, expiry, slice, counts...}, moved to slice and emptied as
-- shm does (a live window of another window_s starts again, keeping
-- its expiry), or nil when absent and not to be made (a read); changed
-- tells whether it differs from what is stored
local function ring(k, v, ws, slice, make)
  local t = ring_load(k, v, WF, WLEN, 2)
  local l = slice - 16
  if not t then
    if not make then return nil, false end
    t = {ws, 0, slice}
  elseif t[1] ~= ws then
    t[1], t[3] = ws, slice
  else
    l = t[3]
    if slice <= l then return t, false end
    if slice - l > 16 then l = slice - 16 end
  end
  for x = l + 1, slice do t[4 + x % 16] = 0 end
  t[3] = slice
  return t, true
end
-- stores window t of key k: with a new expiry when it got an addition,
-- else keeping its TTL
local function ring_put(k, t, added)
  local p = spack(WF, unpk(t, 1, 19))
  if added then
    setpx(k, p, t[2] - now)
  else
    rcall('SET', k, p, 'KEEPTTL', 'GET')
  end
end
-- the fast path of a window: v live, of window_s ws, its newest slice
-- not behind slice (nothing to empty) and, for an addition (add), its
-- expiry where the addition puts it (16 slices of sms after the
-- newest): returns the newest slice, nil otherwise
local function ring_fast(v, ws, slice, add, sms)
  if not v or #v ~= WLEN then return nil end
  local w, e, l = sunpack(HF, v)
  if now < e and w == ws and slice <= l
      and (not add or e == (l + 16) * sms) then
    return l
  end
  return nil
end
-- the 0-based offset of a count as text, by its 1-based position
local WOFF = {}
for x = 0, 15 do WOFF[21 + 4 * x] = '' .. 20 + 4 * x end
local C16 = '>I4I4I4I4I4I4I4I4I4I4I4I4I4I4I4I4'
-- zero bytes by count: ZW[x] 4 * x (a window's x counts), ZF[x] 32 * x
-- (a figure's x rows); made when loaded (.. only: no string library)
local ZW, ZF = {[0] = ''}, {[0] = ''}
for x = 1, 15 do ZW[x] = ZW[x - 1] .. '\0\0\0\0' end
for x = 1, 4 do ZF[x] = ZF[x - 1] .. ZW[8] end
-- a new window for key k, its newest slice sl counting c: one string
-- packed (the zero counts before and after as strings), one SET PX
local function win_new(k, ws, sms, sl, c)
  local e = (sl + 16) * sms
  local x = sl % 16
  setpx(k, spack('>I4ddc0I4c0', ws, e, sl, ZW[x], c, ZW[15 - x]), e - now)
end
-- a sliding window, as shm_op_win_hit: returns the total
local function win(wk, ws, sms, slice, n)
  local v = rcall('GET', wk)
  if not v and n > 0 then
    -- the common case of a new subject
    local c = n
    if c > MAXU then c = MAXU end
    win_new(wk, ws, sms, slice, c)
    return c
  end
  local l = ring_fast(v, ws, slice, n > 0, sms)
  if l then
    -- the common case: one count changed in place (SETRANGE)
    local a, b, c, d, e, f, g, h, i, j, k, m, o, p, q, r = sunpack(C16, v, 21)
    local tot = a + b + c + d + e + f + g + h + i + j + k + m + o + p + q + r
    if n > 0 then
      local off = 21 + (l % 16) * 4
      local x = sunpack('>I4', v, off)
      local y = x + n
      if y > MAXU then y = MAXU end
      rcall('SETRANGE', wk, WOFF[off], spack('>I4', y))
      tot = tot + y - x
    end
    if tot > MAXU then tot = MAXU end
    return tot
  end
  local t, changed = ring(wk, v, ws, slice, n > 0)
  if not t then return 0 end
  if n > 0 then
    local j = 4 + t[3] % 16
    local c = t[j] + n
    if c > MAXU then c = MAXU end
    t[j] = c
    t[2] = (t[3] + 16) * sms
  end
  if n > 0 or changed then ring_put(wk, t, n > 0) end
  local total = 0
  for j = 4, 19 do total = total + t[j] end
  if total > MAXU then total = MAXU end
  return total
end
local R8 = '>I4I4I4I4I4I4I4I4'
-- the figures of a subject (shm_op_fig_multi): a string of its expiry
-- (a double) and a slot per window (1 to 3), each window_s (I4),
-- newest slice (double) and AF_FIG_SLICES rows of AF_FIG_N counts (I4)
-- indexed by slice modulo 4. The op's n (Fn), and per window j its
-- window_s, slice ms, now's slice (Fw, Fm, Fl); per slot x its bytes,
-- window_s, whether taken (Fp, Fs, Fu), by window its slot (Fb); the
-- rows of the slot being moved (FR)
local Fn, Fw, Fm, Fl, Fp, Fs, Fu, Fb, FR = {}, {}, {}, {}, {}, {}, {}, {}, {}
-- a FIG_MULTI's windows' numbers by window count, unpacked at once
local FWU = {'>ddd', '>dddddd', '>ddddddddd'}
-- a FIG_MULTI's answer's head by the length of the figures (1 to 3
-- slots)
local FH = {[148] = '2,0,148:', [288] = '2,0,288:', [428] = '2,0,428:'}
-- the row at i of s with Fn added (saturated: compared here, a call of
-- math.min costs more than the addition)
local function radd(s, i)
  local a, b, c, d, e, f, g, h = sunpack(R8, s, i)
  local m = MAXU
  a, b, c, d = a + Fn[1], b + Fn[2], c + Fn[3], d + Fn[4]
  e, f, g, h = e + Fn[5], f + Fn[6], g + Fn[7], h + Fn[8]
  if a > m then a = m end
  if b > m then b = m end
  if c > m then c = m end
  if d > m then d = m end
  if e > m then e = m end
  if f > m then f = m end
  if g > m then g = m end
  if h > m then h = m end
  return spack(R8, a, b, c, d, e, f, g, h)
end
-- slot p moved to slice sl (the rows left behind emptied) and, when
-- add, Fn added to its newest row: the slot, its newest slice
local function fslot(p, sl, add)
  local ws, l = sunpack('>I4d', p)
  for x = 0, 3 do FR[x] = ssub(p, 13 + 32 * x, 44 + 32 * x) end
  if sl > l then
    if sl - l >= 4 then l = sl - 4 end
    for x = l + 1, sl do FR[x % 4] = ZF[1] end
    l = sl
  end
  if add then FR[l % 4] = radd(FR[l % 4], 1) end
  return spack('>I4d', ws, l) .. FR[0] .. FR[1] .. FR[2] .. FR[3], l
end
-- the figures of a new subject (a FIG_MULTI that adds, on a key with
-- none): its windows in slots 1..nw in order, each with Fn in its row
-- of now's slice, in one pack (as fig's slots would make them), and
-- their expiry
local FNEW = {'>dI4dc0c0c0', '>dI4dc0c0c0I4dc0c0c0',
  '>dI4dc0c0c0I4dc0c0c0I4dc0c0c0'}
local function fig_new(nw)
  local nr, e = radd(ZF[1], 1), 0
  for j = 1, nw do
    local x = (Fl[j] + 4) * Fm[j]
    if x > e then e = x end
  end
  local a = Fl[1] % 4
  if nw == 1 then
    return spack(FNEW[1], e, Fw[1], Fl[1], ZF[a], nr, ZF[3 - a]), e
  end
  local b = Fl[2] % 4
  if nw == 2 then
    return spack(FNEW[2], e, Fw[1], Fl[1], ZF[a], nr, ZF[3 - a], Fw[2],
      Fl[2], ZF[b], nr, ZF[3 - b]), e
  end
  local c = Fl[3] % 4
  return spack(FNEW[3], e, Fw[1], Fl[1], ZF[a], nr, ZF[3 - a], Fw[2], Fl[2],
    ZF[b], nr, ZF[3 - b], Fw[3], Fl[3], ZF[c], nr, ZF[3 - c]), e
end
-- FIG_MULTI on key k (nw windows): answers the figures as stored after
-- it (the module sums its windows' rows), in two parts (no long string
-- made: Lua 5.1 hashes a long string from a few of its bytes, and
-- strings that differ elsewhere pile up in one bucket), or nothing for
-- a read of none
local function fig(r, k, nw, add)
  local v = rcall('GET', k)
  local e, ns, L = 0, 0, v and #v or 0
  if L >= 148 and L <= 428 and (L - 8) % 140 == 0 then
    e = sunpack('>d', v)
    if now >= e then
      rcall('DEL', k)
      e = 0
    else
      ns = (L - 8) / 140
    end
  end
  if ns == 0 and not add then
    res[r] = '1,0,'
    return r
  end
  local nv
  if ns == 0 then
    nv, e = fig_new(nw)
  else
    -- (a new slot's row when it adds: Fn, made once per op)
    local P, c, nr = Fp, ns, nil
    if add and ns == nw then
      -- the common case: each window in its slot, in its newest slice:
      -- its row changed, the bytes around it kept (P: the parts)
      local o = 9
      c = 1
      for j = 1, nw do
        local w, l = sunpack('>I4d', v, 140 * j - 131)
        if w ~= Fw[j] or l ~= Fl[j] then
          c = nil
          break
        end
        local b = 140 * j - 119 + l % 4 * 32
        FR[c], FR[c + 1], o, c = ssub(v, o, b - 1), radd(v, b), b + 32, c + 2
        e = mmax(e, (l + 4) * Fm[j])
      end
      if c then FR[c], P = ssub(v, o), FR end
    end
    if P == Fp then
      for x = 1, ns do
        local b = 140 * x - 131
        Fp[x], Fs[x], Fu[x] = ssub(v, b, b + 139), sunpack('>I4', v, b), false
      end
      -- each window its slot, else a new one (the entry grows), else one
      -- of a window the op does not name: it starts again (a stored entry
      -- has no empty slot)
      local miss = 0
      for j = 1, nw do
        Fb[j] = nil
        for x = 1, ns do
          if not Fu[x] and Fs[x] == Fw[j] then
            Fu[x], Fb[j] = true, x
            break
          end
        end
        if not Fb[j] then miss = miss + 1 end
      end
      if miss > 0 then
        for x = ns + 1, mmin(ns + miss, 3) do
          Fs[x], Fu[x], ns = 0, false, x
        end
        for j = 1, nw do
          if not Fb[j] then
            local x = 1
            while x <= ns and (Fu[x] or Fs[x] ~= 0) do x = x + 1 end
            if x > ns then
              x = 1
              while Fu[x] do x = x + 1 end
            end
            -- (a new slot made with n added: not moved below)
            local l = Fl[j]
            Fu[x], Fb[j], Fs[x] = true, -x, Fw[j]
            if add and not nr then nr = radd(ZF[1], 1) end
            Fp[x] = spack('>I4d', Fw[j], l) .. ZF[l % 4]
              .. (add and nr or ZF[1]) .. ZF[3 - l % 4]
          end
        end
      end
      for j = 1, nw do
        local x, l = Fb[j], Fl[j]
        if x > 0 then Fp[x], l = fslot(Fp[x], l, add) end
        if add then e = mmax(e, (l + 4) * Fm[j]) end
      end
      c = ns
    end
    P[0] = spack('>d', e)
    nv = tconcat(P, '', 0, c)
  end
  -- (a read leaves the expiry as it was: its TTL too)
  rcall('SET', k, nv, 'PX', sformat('%d', e - now))
  res[r], res[r + 1] = FH[#nv] or sformat('2,0,%d:', #nv), nv
  return r + 1
end
-- a WIN_MULTI counter (shm_op_win_multi): a string of its expiry (a
-- double) and AF_WIN_MULTI_MAX slots, each window_s (I4, 0: unused),
-- newest slice (double) and 16 counts (I4)
local MF = '>dI4dI4I4I4I4I4I4I4I4I4I4I4I4I4I4I4I4I4dI4I4I4I4I4I4I4I4I4I4I4I4I4I4I4I4I4dI4I4I4I4I4I4I4I4I4I4I4I4I4I4I4I4'
local MLEN = 236
-- a new counter: each slot with its counts as zero bytes before and
-- after its one count (a slot not used: all zero)
local MN = '>dI4dc0I4c0I4dc0I4c0I4dc0I4c0'
-- the answer's head by window count, a window's answer by count c (0 to
-- 63) when it set no ban: WA1[c] added, WA0[c] not
local MH, WA0, WA1 = {'4,0,', '7,0,', '10,0,'}, {}, {}
for c = 0, 63 do WA0[c], WA1[c] = c .. ',0,0,', c .. ',0,1,' end
-- per WIN_MULTI op i (made once): WMn[i] its windows, and at i * 4 + j
-- window j's window_s (WMw), count (WMc) and whether it added (WMa)
local WMn, WMw, WMc, WMa = {}, {}, {}, {}
-- the windows of the op being run, by j: window_s, slice ms, slice,
-- gate, threshold (Ww, Wm, Wl, Wg, Wt), whether n is added (Wa), slot
-- base (Wb); slots taken (Wu)
local Ww, Wm, Wl, Wg, Wt, Wa, Wb, Wu = {}, {}, {}, {}, {}, {}, {}, {}
-- a WIN_MULTI's numbers (n, if_new, a ban's until, then its windows')
-- by window count, unpacked at once
local WU = {'>dddddddd', '>ddddddddddddd', '>dddddddddddddddddd'}
-- whether WIN_MULTI i (n > 0, an if_new) adds in its window of window_s
-- ws: the op its if_new names added there and counted its key new
local function wm_adds(i, ws)
  local r = ifn[i]
  if ty[r] ~= 11 then return false end
  for j = 1, WMn[r] do
    local x = r * 4 + j
    if WMw[x] == ws then return WMa[x] and WMc[x] == nn[r] end
  end
  return false
end
-- window j of WIN_MULTI i counts c: judged (ban, gate), recorded for a
-- later if_new; returns its answer and whether its gate was passed
local function wm_one(i, j, c, bk, bu, br)
  if c > MAXU then c = MAXU end
  local x, a, banned = i * 4 + j, Wa[j], 0
  WMw[x], WMc[x], WMa[x] = Ww[j], c, a
  if Wt[j] > 0 and a and c >= Wt[j] and not ban_live(bk) then
    ban_put(bk, bu, br)
    banned = 1
  end
  local r
  if banned == 0 then
    if a then r = WA1[c] else r = WA0[c] end
  end
  return r or sformat('%d,%d,%d,', c, banned, a and 1 or 0),
    Wg[j] > 0 and c > Wg[j]
end
-- the 0-based offset of count x (0 to 15) of slot j (1 to 3) of a
-- WIN_MULTI counter as text, at (j - 1) * 16 + x
local MOFF = {}
for x = 0, 47 do MOFF[x] = '' .. 20 + 76 * (x - x % 16) / 16 + 4 * (x % 16) end
-- the fast path of a WIN_MULTI counter v of key k: live, slots 1..nw
-- its windows in order, each at its newest slice Wl[j] and, where it
-- adds, with an expiry that already covers that slice's counts (16
-- slices on: until then the addition counts, as shm's later expiry
-- does). Each added count changed in place (SETRANGE, the TTL kept) and
-- each window's total in Wl; false (nothing done) otherwise. v is a
-- string of MLEN bytes
local function wm_fast(k, v, n, nw)
  -- (the expiry and slot 1 in one unpack: most that fail, fail there)
  local e, w, l = sunpack('>dI4d', v)
  for j = 1, nw do
    if j > 1 then w, l = sunpack('>I4d', v, 76 * j - 67) end
    if w ~= Ww[j] or l ~= Wl[j] or (Wa[j] and (l + 16) * Wm[j] > e) then
      return false
    end
  end
  if now >= e then return false end
  if n > MAXU then n = MAXU end
  for j = 1, nw do
    local b = 76 * j - 55
    local a, c, d, f, g, h, m, o, p, q, r, s, t, u, w, y = sunpack(C16, v, b)
    local tot = a + c + d + f + g + h + m + o + p + q + r + s + t + u + w + y
    if Wa[j] then
      local x = Wl[j] % 16
      local z = sunpack('>I4', v, b + 4 * x)
      local z2 = z + n
      if z2 > MAXU then z2 = MAXU end
      rcall('SETRANGE', k, MOFF[j * 16 - 16 + x], spack('>I4', z2))
      tot = tot + z2 - z
    end
    if tot > MAXU then tot = MAXU end
    Wl[j] = tot
  end
  return true
end
-- WIN_MULTI op i (nw windows in Ww...: see exec); returns the answer
-- and whether a gate was passed
local function wmulti(i, k, bk, n, nw, bu, br, nv, nt)
  local any, all = false, true
  for j = 1, nw do
    Wa[j] = n > 0 and (ifn[i] == 0 or wm_adds(i, Ww[j]))
    any = any or Wa[j]
    all = all and Wa[j]
  end
  WMn[i] = nw
  -- every window adds: the module's new counter nv (TTL nt) is set
  -- if there is none (a new subject: one call)
  local v
  if all then
    v = rcall('SET', k, nv, 'PX', nt, 'NX', 'GET')
  else
    v = rcall('GET', k)
  end
  local o1, o2, o3, g1, g2, g3
  if v and #v == MLEN and wm_fast(k, v, n, nw) then
    o1, g1 = wm_one(i, 1, Wl[1], bk, bu, br)
    if nw > 1 then o2, g2 = wm_one(i, 2, Wl[2], bk, bu, br) end
    if nw > 2 then o3, g3 = wm_one(i, 3, Wl[3], bk, bu, br) end
    return MH[nw] .. o1 .. (o2 or '') .. (o3 or ''), g1 or g2 or g3
  end
  local t = ring_load(k, v, MF, MLEN, 1)
  if not t then
    -- a new counter: windows in slots 1..nw, one string packed
    local e, c = 0, n
    if c > MAXU then c = MAXU end
    for j = 1, 3 do
      if j > nw then Ww[j], Wl[j], Wa[j] = 0, 0, false end
      if Wa[j] and now + Ww[j] * 1000 > e then e = now + Ww[j] * 1000 end
    end
    local c1, c2, c3 = Wa[1] and c or 0, Wa[2] and c or 0, Wa[3] and c or 0
    if all then
      if v then rcall('SET', k, nv, 'PX', nt, 'GET') end
    elseif any then
      local x, y, z = Wl[1] % 16, Wl[2] % 16, Wl[3] % 16
      setpx(k, spack(MN, e, Ww[1], Wl[1], ZW[x], c1, ZW[15 - x], Ww[2],
        Wl[2], ZW[y], c2, ZW[15 - y], Ww[3], Wl[3], ZW[z], c3, ZW[15 - z]),
        e - now)
    end
    o1, g1 = wm_one(i, 1, c1, bk, bu, br)
    if nw > 1 then o2, g2 = wm_one(i, 2, c2, bk, bu, br) end
    if nw > 2 then o3, g3 = wm_one(i, 3, c3, bk, bu, br) end
  else
    local changed = false
    -- slot base b: t[b] window_s, t[b + 1] newest slice, t[b + 2 ..]
    -- counts; a window takes its slot, else an empty one, else one of
    -- a window the op does not name
    Wu[0], Wu[1], Wu[2] = false, false, false
    for j = 1, nw do
      Wb[j] = nil
      for x = 0, 2 do
        if not Wu[x] and t[2 + x * 18] == Ww[j] then
          Wu[x], Wb[j] = true, 2 + x * 18
          break
        end
      end
    end
    for j = 1, nw do
      if not Wb[j] then
        local x = 0
        while x < 3 and (Wu[x] or t[2 + x * 18] ~= 0) do x = x + 1 end
        if x == 3 then
          x = 0
          while Wu[x] do x = x + 1 end
        end
        local b = 2 + x * 18
        Wu[x], Wb[j], t[b], t[b + 1] = true, b, Ww[j], Wl[j]
        for y = b + 2, b + 17 do t[y] = 0 end
        changed = true
      end
    end
    for j = 1, nw do
      local b, slice = Wb[j], Wl[j]
      local l = t[b + 1]
      if slice > l then
        if slice - l >= 16 then
          for y = b + 2, b + 17 do t[y] = 0 end
        else
          for x = l + 1, slice do t[b + 2 + x % 16] = 0 end
        end
        t[b + 1], l, changed = slice, slice, true
      end
      local c = 0
      for y = b + 2, b + 17 do c = c + t[y] end
      if Wa[j] then
        local y = b + 2 + l % 16
        local x = t[y] + n
        if x > MAXU then x = MAXU end
        c = c + x - t[y]
        t[y] = x
        local e = now + Ww[j] * 1000
        if e > t[1] then t[1] = e end
        changed = true
      end
      Wl[j] = c
    end
    if changed then setpx(k, spack(MF, unpk(t, 1, 55)), t[1] - now) end
    o1, g1 = wm_one(i, 1, Wl[1], bk, bu, br)
    if nw > 1 then o2, g2 = wm_one(i, 2, Wl[2], bk, bu, br) end
    if nw > 2 then o3, g3 = wm_one(i, 3, Wl[3], bk, bu, br) end
  end
  return MH[nw] .. o1 .. (o2 or '') .. (o3 or ''), g1 or g2 or g3
end
-- whether WIN_HIT i adds its n (shm_win_if_new)
local function if_new(i)
  local j = i
  while ifn[j] and ifn[j] > 0 do
    local r = ifn[j]
    if r < 1 or r >= j then return false end
    if ty[r] ~= 4 or nn[r] == 0 or cnt[r] ~= nn[r] then
      return false
    end
    j = r
  end
  return true
end
local function ipkey(rec)
  if sbyte(rec, 1) == 4 then return ssub(rec, 1, 5) end
  return ssub(rec, 1, 17)
end
-- a history push, as shm_op_hist_push: returns the kept records;
-- read_only (ro) returns them and writes nothing, not even the
-- records it leaves out (shm keeps them too)
local function hist(hk, ttl, rec, ro)
  local v = rcall('GET', hk)
  local keep = {}
  if v and now < tonum(ssub(v, 1, 20)) then
    for p = 21, #v - 42, 43 do
      local e = ssub(v, p, p + 42)
      local ts = tonum(ssub(e, 24, 43))
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
  local nv = {sformat('%020d', now + ttl), rec}
  for i = 1, #keep do
    if i ~= idx then nv[#nv + 1] = keep[i] end
  end
  setpx(hk, tconcat(nv), ttl)
  return keep
end
-- the live count of each set pruned in this call (PC), by key, and
-- those keys (PK, npk of them; emptied when the next call starts: the
-- table must not grow with every key ever seen)
local PC, PK, npk = {}, {}, 0
-- prunes set ck of its expired members; its count (one call for an
-- empty set). Once per set and call: at one now nothing else expires,
-- and the ops of the call keep PC as they change the set
local function cprune(ck)
  local c = PC[ck]
  if c then return c end
  c = rcall('ZCARD', ck)
  if c > 0 then c = c - rcall('ZREMRANGEBYSCORE', ck, '-inf', nows) end
  PC[ck] = c
  npk = npk + 1
  PK[npk] = ck
  return c
end
-- the batch (see the top)
local function exec(KEYS, ARGV)
  if not rcall then
    sformat, sbyte, sunpack = string.format, string.byte, struct.unpack
    spack, ssub, rcall = struct.pack, string.sub, redis.call
    tonum, unpk, mmin, tconcat, mmax = tonumber, unpack, math.min, table.concat, math.max
  end
  for x = 1, npk do PC[PK[x]] = nil end
  npk = 0
  nows = ARGV[1]
  local P = ARGV[2]
  local pregated
  pregated, now = sunpack('>Bd', P)
  local np, pos, ai, ki, i = #P, 10, 3, 1, 0
  nadd = 0
  local done, stopped, gated, oi = 0, 0, false, 0
  while pos <= np do
    i, oi = i + 1, oi + 1
    local q = pos
    local t, nw = sbyte(P, q, q + 1)
    if t == 11 then
      pos = q + 26 + 40 * nw
    elseif t == 10 then
      pos = q + 66 + 24 * nw
    else
      pos = q + 1 + (OPSZ[t] or 0)
    end
    ty[i] = t
    if t == 11 then
      local k = KEYS[ki]
      ki = ki + 1
      -- a ban's until (bu) only when a window may ban: then its key
      local n, f, bu
      n, f, bu, Ww[1], Wm[1], Wl[1], Wg[1], Wt[1], Ww[2], Wm[2], Wl[2],
        Wg[2], Wt[2], Ww[3], Wm[3], Wl[3], Wg[3], Wt[3] =
        sunpack(WU[nw], P, q + 2)
      local bk, br = nil, nil
      if bu > 0 then
        bk, br = KEYS[ki], ARGV[ai]
        ki, ai = ki + 1, ai + 1
      end
      local nv, nt
      if n > 0 then
        nv, nt = ARGV[ai], ARGV[ai + 1]
        ai = ai + 2
      end
      ifn[i] = f
      nn[i] = n
      local g
      res[oi], g = wmulti(i, k, bk, n, nw, bu, br, nv, nt)
      gated = gated or g
    elseif t == 4 then
      local wk = KEYS[ki]
      ki = ki + 1
      local ws, sms, slice, n, thr, bu, g, f = sunpack('>dddddddd', P, q + 1)
      local br = nil
      if thr > 0 then
        br = ARGV[ai]
        ai = ai + 1
      end
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
      gated = gated or (g > 0 and c > g)
      local banned = 0
      if thr > 0 and n > 0 and c >= thr and not ban_live(bk) then
        ban_put(bk, bu, br)
        banned = 1
      end
      res[oi] = r3(c, banned)
    elseif t == 6 then
      nadd = nadd + 1
      a_lim[nadd], a_exp[nadd] = sunpack('>dd', P, q + 1)
      a_i[nadd], a_k[nadd], a_m[nadd] = oi, KEYS[ki], ARGV[ai]
      ki = ki + 1
      ai = ai + 1
      res[oi] = '1,1,'
    elseif t == 7 then
      local ck = KEYS[ki]
      ki = ki + 1
      local c, f = cprune(ck), 0
      if c > 0 then f = rcall('ZREM', ck, ARGV[ai]) end
      ai = ai + 1
      PC[ck] = c - f
      res[oi] = r3(c - f, f)
    elseif t == 10 then
      -- (the 8 counts, then each window's 3 numbers, in one unpack each)
      local a, b, c, d, e, f, g, h = sunpack('>dddddddd', P, q + 2)
      Fn[1], Fn[2], Fn[3], Fn[4], Fn[5], Fn[6], Fn[7], Fn[8] = a, b, c, d, e, f, g, h
      Fw[1], Fm[1], Fl[1], Fw[2], Fm[2], Fl[2], Fw[3], Fm[3], Fl[3] =
        sunpack(FWU[nw], P, q + 66)
      oi = fig(oi, KEYS[ki], nw, a + b + c + d + e + f + g + h > 0)
      ki = ki + 1
    elseif t == 0 then
      res[oi] = '1,-1,'
    elseif t == 1 then
      local bk = KEYS[ki]
      ki = ki + 1
      local v = ban_live(bk)
      if v then
        local h = v[3] + 1
        if h > MAXU then h = MAXU end
        rcall('SETRANGE', bk, '40', sformat('%010d', h))
        res[oi] = '6,0,1,20:' .. v[1] .. '20:' .. v[2]
          .. sformat('%d,%d:', h, #v[4]) .. v[4]
        if sbyte(P, q + 1) == 1 then
          done = i
          stopped = 1
          break
        end
      else
        res[oi] = '2,0,0,'
      end
    elseif t == 2 then
      local bk = KEYS[ki]
      ki = ki + 1
      ban_put(bk, unpack1(P, q), ARGV[ai])
      ai = ai + 1
      res[oi] = '1,0,'
    elseif t == 3 then
      local bk = KEYS[ki]
      ki = ki + 1
      if ban_live(bk) then
        rcall('DEL', bk)
        res[oi] = '2,0,1,'
      else
        res[oi] = '2,0,0,'
      end
    elseif t == 5 then
      local hk = KEYS[ki]
      ki = ki + 1
      local ttl, ro = sunpack('>dd', P, q + 1)
      local prev = hist(hk, ttl, ARGV[ai], ro == 1)
      ai = ai + 1
      -- records are RDS_HIST_REC (43) bytes
      res[oi] = sformat('%d,0,%d,', #prev + 2, #prev)
      for j = 1, #prev do res[oi + j] = '43:' .. prev[j] end
      oi = oi + #prev
    elseif t == 8 then
      res[oi] = sformat('2,0,%d,', cprune(KEYS[ki]))
      ki = ki + 1
    else
      res[oi] = '1,1,'
    end
    done = i
  end
  -- the CONC_ADD group, as shm_conc_add_group
  if stopped == 0 and nadd > 0 then
    local admit = pregated == 0 and not gated
    for x = 1, nadd do
      local k, y = a_k[x], 1
      while a_k[y] ~= k do y = y + 1 end
      a_s[x] = y
      if y == x then s_cn[x], s_nk[x], s_mx[x] = cprune(k), 0, 0 end
      s_nk[y] = s_nk[y] + 1
      a_full[x], a_dup[x] = 0, false
    end
    -- only a set that may be full has its members looked up (a member
    -- already there is not counted twice); ZADD's answer counts the
    -- members added
    local near = false
    for x = 1, nadd do
      local y = a_s[x]
      if a_lim[x] > 0 and s_cn[y] + s_nk[y] > a_lim[x] then near = true end
    end
    for x = 1, nadd do
      a_pr[x] = not near or rcall('ZSCORE', a_k[x], a_m[x]) ~= false
      if not a_pr[x] then
        local sx, m, v = a_s[x], a_m[x], s_cn[a_s[x]]
        for y = 1, x - 1 do
          if not a_pr[y] and not a_dup[y] and a_s[y] == sx then
            if a_m[y] == m then
              a_dup[x] = true
              break
            end
            v = v + 1
          end
        end
        if not a_dup[x] and a_lim[x] > 0 and v >= a_lim[x] then
          a_full[x] = 1
          admit = false
        end
      end
    end
    for x = 1, nadd do s_fin[x] = s_cn[x] end
    if admit then
      local le, ls
      for x = 1, nadd do
        local y, e = a_s[x], a_exp[x]
        if e ~= le then le, ls = e, sformat('%d', e) end
        s_fin[y] = s_fin[y] + rcall('ZADD', a_k[x], ls, a_m[x])
        if e > s_mx[y] then s_mx[y] = e end
      end
      -- TTLs: a set expires with its latest member (GT: only grows; a
      -- set that was empty has no TTL yet)
      for x = 1, nadd do
        if a_s[x] == x then
          local t = sformat('%d', s_mx[x] - now)
          if s_cn[x] == 0 then
            rcall('PEXPIRE', a_k[x], t)
          else
            rcall('PEXPIRE', a_k[x], t, 'GT')
          end
        end
      end
    end
    local a = admit and 1 or 0
    for x = 1, nadd do
      local n = s_fin[a_s[x]]
      res[a_i[x]] = (a == 1 and a_full[x] == 0 and R4[n])
        or sformat('4,0,%d,%d,%d,', n, a, a_full[x])
    end
  end
  -- one bulk string, not nested arrays: hiredis makes one object
  -- of it instead of one per element (see rds_parse)
  local head = stopped == 0 and HD[done] or sformat('%d,%d,', done, stopped)
  res[0] = head
  return tconcat(res, '', 0, oi)
end
-- FCALL af_<id>_x 0 nk slots K1..Knk ARGV...: the batch of a Redis
-- Cluster master over keys of several of its slots
-- (af_store_redis_cluster.c, cl_xs_args). Declared keys must share a
-- slot even with allow-cross-slot-keys (else -CROSSSLOT), so it declares
-- none: its arguments are the key count, the keys' slots (2 bytes
-- each), the keys, then exec's ARGV. One EXISTS per slot comes first:
-- a key this node does not serve (its slot moved, or migrating with the
-- key gone) fails the call there, before anything is written ("non
-- local key": no slot named, no ASK).
local function exec_slots(_, a)
  local nk, ss, k, g, r = tonumber(a[1]), a[2], {}, {}, {}
  for i = 1, nk do
    local s = string.sub(ss, 2 * i - 1, 2 * i)
    k[i] = a[2 + i]
    if not g[s] then g[s] = {} end
    g[s][#g[s] + 1] = k[i]
  end
  for _, l in pairs(g) do redis.call('EXISTS', unpack(l)) end
  for i = nk + 3, #a do r[#r + 1] = a[i] end
  return exec(k, r)
end
redis.register_function{function_name = 'af_@ID@', callback = exec,
  flags = {'allow-cross-slot-keys'}}
redis.register_function{function_name = 'af_@ID@_x', callback = exec_slots,
  flags = {'allow-cross-slot-keys'}}
