-- antifraud - the sample routing of etc/kamailio.cfg as a KEMI Lua
-- script (app_lua, Debian package kamailio-lua-modules): every request is
-- checked with the antifraud module before it is routed to the next hop.
-- Run with: kamailio -f etc/kamailio.cfg -A AF_KEMI
--           -A 'AF_KEMI_SCRIPT="/path/to/antifraud.lua"'
-- The next hop is the cfg's AF_NEXT_HOP (custom parameter
-- antifraud.next_hop); alerts reach ksr_antifraud_event (modparam
-- antifraud event_callback) and are logged as JSON lines.
--
-- SPDX-License-Identifier: GPL-2.0-or-later

local next_hop_uri = nil

local function next_hop()
	if not next_hop_uri then
		next_hop_uri = KSR.pv.get("$sel(cfg_get.antifraud.next_hop)")
	end
	return next_hop_uri
end

-- relays statefully and ends the routing
local function relay()
	if KSR.tm.t_relay() < 0 then
		KSR.sl.sl_reply_error()
	end
	KSR.x.exit()
end

-- SIP requests
function ksr_request_route()
	if KSR.maxfwd.process_maxfwd(10) < 0 then
		KSR.sl.send_reply(483, "Too Many Hops")
		return
	end
	if KSR.sanity.sanity_check(17895, 7) < 0 then
		return
	end

	-- scanners, denied addresses and countries, unknown domains and
	-- users, country hopping, banned sources: -2 is dropped unanswered
	local rc = KSR.antifraud.af_check_source()
	if rc == -2 then
		KSR.x.drop()
		return
	elseif rc == -3 then
		KSR.sl.send_reply(500, "Server Error")
		return
	end
	-- attack tools by what they send
	rc = KSR.antifraud.af_check_fingerprint_profile("default")
	if rc == -2 then
		KSR.x.drop()
		return
	end

	if KSR.siputils.has_totag() > 0 then
		if KSR.rr.loose_route() > 0 then
			relay()
			return
		end
		if KSR.is_ACK() then
			if KSR.tm.t_check_trans() > 0 then
				KSR.tm.t_relay()
			end
			return
		end
		KSR.sl.send_reply(404, "Not here")
		return
	end
	if KSR.is_CANCEL() then
		if KSR.tm.t_check_trans() > 0 then
			relay()
		end
		return
	end
	KSR.tm.t_check_trans()

	if KSR.is_OPTIONS() and KSR.is_myself_ruri() and KSR.pv.is_null("$rU") then
		KSR.sl.send_reply(200, "Keepalive")
		return
	end

	if KSR.is_INVITE() then
		-- toll fraud: class of service, plan, schedule, rates,
		-- repetition, concurrent international calls
		rc = KSR.antifraud.af_check_dest()
		if rc == -2 then
			KSR.sl.send_reply(403, "Forbidden")
			return
		elseif rc == -3 then
			KSR.sl.send_reply(500, "Server Error")
			return
		end
		-- after af_check_dest: the call's slots go back when it ends
		KSR.dialog.dlg_manage()
	end
	if KSR.is_method_in("IS") then
		KSR.rr.record_route()
	end
	KSR.setdsturi(next_hop())
	relay()
end

-- antifraud's events: every alert and block, Redis going down or up
function ksr_antifraud_event(evname)
	if evname == "antifraud:alert" then
		KSR.log("warn", "antifraud-kemi: " .. KSR.pv.get("$antifraud(json)") .. "\n")
	elseif evname == "antifraud:redis" then
		KSR.log("warn", "antifraud-kemi: redis " .. KSR.pv.get("$antifraud(redis)") .. "\n")
	end
end
