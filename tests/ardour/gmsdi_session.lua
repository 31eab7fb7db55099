-- A GMSDI session in Ardour, driven headless by `ardour7-lua` (see README.md).
--
--   ardour7-lua gmsdi_session.lua create  SESSION_DIR SECONDS
--   ardour7-lua gmsdi_session.lua export  SESSION_DIR EXPORT_DIR
--   ardour7-lua gmsdi_session.lua generate SESSION_DIR OUTPUT_DIR TIMEOUT_S
--   ardour7-lua gmsdi_session.lua verify  SESSION_DIR EXPORT_DIR
--
-- Every fact the Python test checks is printed as one line
-- `GMSDI <key> <value>`; a failed step prints `GMSDI error <what>` and
-- `GMSDI done` is printed last only when every step ran.

local SNAPSHOT = "gmsdi"
local RATE = 44100
local PLUGIN = "GMSDI"
local MAIN, GUITAR = "main", "guitar"
-- Parameter values set in `create` and expected after a reload, in Ardour's
-- units: steps for Task (1 = Separate) and Monitor (0 = Input only), dB for
-- Output Gain.
local PARAMS = { ["Task"] = 1, ["Monitor"] = 0, ["Output Gain"] = 0.5 }

local mode, dir = arg[1], arg[2]

-- Facts also go to the file $GMSDI_ARDOUR_FACTS, flushed line by line:
-- stdout is a pipe whose buffer is lost if Ardour aborts later on.
local facts = os.getenv("GMSDI_ARDOUR_FACTS") and io.open(os.getenv("GMSDI_ARDOUR_FACTS"), "a")

local function out(key, ...)
	local parts = { "GMSDI", key }
	for _, v in ipairs({ ... }) do parts[#parts + 1] = tostring(v) end
	local line = table.concat(parts, " ")
	print(line)
	if facts then
		facts:write(line, "\n")
		facts:flush()
	end
end

local function fail(what)
	out("error", what)
	error(what)
end

local function wait_until(cond, timeout_s, what)
	local t0 = ARDOUR.LuaAPI.monotonic_time()
	while not cond() do
		if (ARDOUR.LuaAPI.monotonic_time() - t0) / 1e6 > timeout_s then fail("timeout: " .. what) end
		sleep(0.02)
	end
end

local function ui() return ARDOUR.TransportRequestSource.TRS_UI end

-- The GMSDI insert on the main track (first plugin whose name matches).
local function gmsdi_insert(route)
	local i = 0
	while true do
		local proc = route:nth_plugin(i)
		if proc:isnil() then return nil end
		local pi = proc:to_insert()
		if pi:plugin(0):name() == PLUGIN then return proc, pi end
		i = i + 1
	end
end

-- parameter label -> index, for every input control of the plugin
local function param_indices(plugin)
	local map = {}
	for j = 0, plugin:parameter_count() - 1 do
		if plugin:parameter_is_control(j) and plugin:parameter_is_input(j) then
			map[plugin:parameter_label(j)] = j
		end
	end
	return map
end

local function set_param(proc, plugin, name, value)
	local j = param_indices(plugin)[name]
	if j == nil then fail("no parameter " .. name) end
	if not ARDOUR.LuaAPI.set_processor_param(proc, j, value) then
		fail(string.format("cannot set %s to %s", name, value))
	end
end

local function get_param(proc, plugin, name)
	local j = param_indices(plugin)[name]
	if j == nil then fail("no parameter " .. name) end
	local value, ok = ARDOUR.LuaAPI.get_processor_param(proc, j, true)
	return value
end

-- the output ports of every send of `route`: { {send=, port=} ... }
local function send_ports(route)
	local ports = {}
	local i = 0
	while true do
		local send = route:nth_send(i)
		if send:isnil() then break end
		local io = send:to_send():output()
		for c = 0, io:n_ports():n_audio() - 1 do
			ports[#ports + 1] = { send = send, port = io:audio(c) }
		end
		i = i + 1
	end
	return ports
end

-- Print the plugin, its I/O and parameters (checked after create and reload).
local function describe(main, guitar)
	local proc, pi = gmsdi_insert(main)
	if not proc then fail("no GMSDI insert on the main track") end
	local plugin = pi:plugin(0)
	out("plugin", plugin:name())
	out("plugin_type", pi:type())
	out("plugin_active", proc:active())
	out("strict_io", main:strict_io(), pi:strict_io_configured())
	out("inputs", pi:natural_input_streams():n_audio())
	out("outputs", pi:natural_output_streams():n_audio())
	out("has_sidechain", pi:has_sidechain())
	for label, j in pairs(param_indices(plugin)) do
		local value = ARDOUR.LuaAPI.get_processor_param(proc, j, true)
		out("param", string.format("%q", label), string.format("%.6f", value))
	end
	local sends = send_ports(guitar)
	for _, s in ipairs(sends) do
		out("guitar_send", s.send:name(), s.port:name(), s.send:active())
	end
	if pi:has_sidechain() then
		local sc = pi:sidechain_input()
		out("sidechain_ports", sc:n_ports():n_audio())
		for i = 0, sc:n_ports():n_audio() - 1 do
			local port = sc:audio(i)
			local from = {}
			for _, s in ipairs(sends) do
				if port:connected_to(s.port:name()) then from[#from + 1] = s.port:name() end
			end
			out("sidechain_port", i, string.format("%q", port:name()), string.format("%q", table.concat(from, ",")))
		end
	end
	return proc, pi, plugin
end

local function open()
	if not load_session(dir, SNAPSHOT) then fail("cannot load the session " .. dir) end
	local main, guitar = Session:route_by_name(MAIN), Session:route_by_name(GUITAR)
	if main:isnil() or guitar:isnil() then fail("tracks missing") end
	return main, guitar
end

local function connect_inputs(track, first)
	for c = 0, 1 do
		local port = track:input():audio(c)
		port:disconnect_all()
		if port:connect("system:capture_" .. (first + c)) ~= 0 then fail("cannot connect " .. port:name()) end
	end
end

local function roll_from_start(seconds)
	Session:request_locate(0, false, ARDOUR.LocateTransportDisposition.MustStop, ui())
	wait_until(function() return Session:transport_sample() == 0 end, 10, "locate to 0")
	Session:request_roll(ui())
	wait_until(function() return Session:transport_sample() >= seconds * RATE end, seconds + 30, "rolling")
	Session:request_stop(false, false, ui())
	wait_until(function() return Session:transport_stopped() end, 10, "stop")
end

local function create(seconds)
	-- Pink noise on the dummy backend's inputs, recorded on both tracks; the
	-- test replaces the recorded files with the example audio afterwards.
	AudioEngine:set_backend("None (Dummy)", "", "")
	AudioEngine:set_device_name("Pink Noise")
	if not create_session(dir, SNAPSHOT, RATE) then fail("cannot create the session " .. dir) end
	out("rate", Session:nominal_sample_rate())

	local main = Session:new_audio_track(2, 2, nil, 1, MAIN, ARDOUR.PresentationInfo.max_order, ARDOUR.TrackMode.Normal, true):front()
	local guitar = Session:new_audio_track(2, 2, nil, 1, GUITAR, ARDOUR.PresentationInfo.max_order, ARDOUR.TrackMode.Normal, true):front()
	main:set_strict_io(true)
	guitar:set_strict_io(true)
	connect_inputs(main, 1)
	connect_inputs(guitar, 3)

	-- GMSDI as an insert on the main track
	local proc = ARDOUR.LuaAPI.new_plugin(Session, PLUGIN, ARDOUR.PluginType.VST3, "")
	if proc:isnil() then fail("plugin " .. PLUGIN .. " not found (VST3 scan cache)") end
	if main:add_processor_by_index(proc, 0, nil, true) ~= 0 then fail("cannot add the plugin to the main track") end
	local pi = proc:to_insert()
	out("plugin_audio_inputs", pi:plugin(0):get_info().n_inputs:n_audio()) -- main + sidechains

	-- the guitar track -> the plugin's sidechain (Source 1): a pre-fader
	-- send whose outputs feed the sidechain input, as Ardour's pin dialog does
	if not main:add_sidechain(proc) then fail("add_sidechain failed") end
	local sc = pi:sidechain_input()
	if sc:isnil() then fail("no sidechain input") end
	local send = ARDOUR.LuaAPI.new_send(Session, guitar, guitar:amp())
	if send:isnil() then fail("cannot add a send to the guitar track") end
	local sio = send:to_send():output()
	for c = 0, math.min(sc:n_ports():n_audio(), sio:n_ports():n_audio()) - 1 do
		sc:audio(c):disconnect_all()
		if sc:audio(c):connect(sio:audio(c):name()) ~= 0 then fail("cannot connect the sidechain port " .. c) end
	end
	send:activate()
	-- only the main track reaches the master bus (the export checks it alone)
	guitar:output():disconnect_all(nil)

	for name, value in pairs(PARAMS) do set_param(proc, pi:plugin(0), name, value) end

	-- record `seconds` on both tracks (wait until Ardour has armed them:
	-- rolling at once sometimes records nothing)
	for _, t in ipairs({ main, guitar }) do
		t:rec_enable_control():set_value(1, PBD.GroupControlDisposition.NoGroup)
	end
	wait_until(function()
		return main:rec_enable_control():get_value() == 1 and guitar:rec_enable_control():get_value() == 1
	end, 10, "tracks armed")
	Session:maybe_enable_record(false)
	wait_until(function() return Session:record_status() == ARDOUR.Session.RecordState.Enabled end, 10, "record enabled")
	sleep(0.2)
	Session:request_locate(0, false, ARDOUR.LocateTransportDisposition.MustStop, ui())
	wait_until(function() return Session:transport_sample() == 0 end, 10, "locate to 0")
	Session:request_roll(ui())
	wait_until(function() return Session:actively_recording() end, 10, "recording")
	wait_until(function() return Session:transport_sample() >= seconds * RATE end, seconds + 30, "rolling")
	Session:request_stop(false, false, ui())
	wait_until(function() return Session:transport_stopped() end, 10, "stop")
	Session:disable_record(false, false)
	for _, t in ipairs({ main, guitar }) do
		t:rec_enable_control():set_value(0, PBD.GroupControlDisposition.NoGroup)
	end
	wait_until(function()
		return main:to_track():playlist():region_list():size() > 0 and guitar:to_track():playlist():region_list():size() > 0
	end, 10, "recorded regions")
	for _, t in ipairs({ main, guitar }) do
		for r in t:to_track():playlist():region_list():iter() do
			out("region", t:name(), r:position():samples(), r:length():samples())
			for c = 0, r:to_audioregion():n_channels() - 1 do
				out("source", t:name(), c, r:source(c):to_filesource():path())
			end
		end
	end

	describe(main, guitar)
	Session:save_state("", false, false, false, false, false)
	out("saved", Session:path())
end

-- Export presets: the test's own (32-bit float WAV at the session rate,
-- written into the temporary configuration by the test), else Ardour's
-- "WAV @ session-rate" (16 bit, shaped dither).
local FLOAT_PRESET = "8d6c1f35-6a51-4a57-9c1e-3c4f1e2b7a10"
local WAV16_PRESET = "75969a1c-3133-4694-864b-a1fa50e43348"

-- the session range, through the master bus, to a WAV file
local function export_to(folder, name)
	local range = Session:locations():session_range_location()
	out("session_range", range:start():samples(), range:_end():samples())
	local e = Session:simple_export()
	if e:set_preset(FLOAT_PRESET) then
		out("export_format", "float")
	elseif e:set_preset(WAV16_PRESET) then
		out("export_format", "16bit")
	else
		fail("no export preset")
	end
	e:set_folder(folder)
	e:set_name(name)
	out("export_ok", e:run_export())
end

local function export(folder)
	local main, guitar = open()
	local proc = describe(main, guitar)
	export_to(folder, "mixdown")
	out("plugin_active", proc:active())
end

local function generate(outdir, timeout_s)
	local main, guitar = open()
	local proc, pi, plugin = describe(main, guitar)
	set_param(proc, plugin, "Task", 0) -- Accompany: a bass under Source 1 (the guitar)
	set_param(proc, plugin, "Capture", 1)
	local range = Session:locations():session_range_location()
	roll_from_start((range:_end():samples() - range:start():samples()) / RATE)
	set_param(proc, plugin, "Capture", 0)
	sleep(0.2)
	set_param(proc, plugin, "Generate", 1) -- edge: starts the job
	sleep(0.2)
	set_param(proc, plugin, "Generate", 0)
	-- wait for a result file (the plugin renames it into place when complete)
	local t0 = ARDOUR.LuaAPI.monotonic_time()
	local found = nil
	while not found and (ARDOUR.LuaAPI.monotonic_time() - t0) / 1e6 < timeout_s do
		local ls = io.popen('ls -1 "' .. outdir .. '" 2>/dev/null')
		for name in ls:lines() do
			if name:match("^gmsdi%-.*%.wav$") then found = name end
		end
		ls:close()
		sleep(0.1)
	end
	out("generate_seconds", string.format("%.1f", (ARDOUR.LuaAPI.monotonic_time() - t0) / 1e6))
	out("result_file", found or "")
	sleep(0.5) -- let the plugin take the result into its state before saving
	Session:save_state("", false, false, false, false, false)
end

-- After a load the plugin reads its result clips on its worker thread: roll
-- the start of the session with Monitor = Results only until the master bus
-- meter shows them (also checks they play in real time, not only in an export).
local function wait_for_results(proc, plugin, timeout_s)
	set_param(proc, plugin, "Monitor", 2)
	local meter = Session:master_out():peak_meter()
	local t0 = ARDOUR.LuaAPI.monotonic_time()
	while true do
		Session:request_locate(0, false, ARDOUR.LocateTransportDisposition.MustStop, ui())
		wait_until(function() return Session:transport_sample() == 0 end, 10, "locate to 0")
		meter:reset_max()
		Session:request_roll(ui())
		sleep(0.3)
		local level = meter:meter_level(0, ARDOUR.MeterType.MeterPeak)
		Session:request_stop(false, false, ui())
		wait_until(function() return Session:transport_stopped() end, 10, "stop")
		local waited = (ARDOUR.LuaAPI.monotonic_time() - t0) / 1e6
		if level > -40 then
			out("results_playing", string.format("%.1f", level), string.format("%.1f", waited))
			return
		end
		if waited > timeout_s then fail(string.format("no results on the master bus after %.0f s (%.1f dBFS)", waited, level)) end
		sleep(0.2)
	end
end

-- reload; the results play on the main output too (Monitor = Input +
-- results), the first one 20 dB down
local function verify(folder)
	local main, guitar = open()
	local proc, pi, plugin = describe(main, guitar)
	wait_for_results(proc, plugin, 30)
	set_param(proc, plugin, "Monitor", 1)
	set_param(proc, plugin, "Result 1 Gain", -20) -- the fixture model's result is loud: no clipping
	Session:request_locate(0, false, ARDOUR.LocateTransportDisposition.MustStop, ui())
	wait_until(function() return Session:transport_sample() == 0 end, 10, "locate to 0")
	sleep(0.2)
	export_to(folder, "with-results")
end

local ok, err = pcall(function()
	if mode == "create" then
		create(tonumber(arg[3]))
	elseif mode == "export" then
		export(arg[3])
	elseif mode == "generate" then
		generate(arg[3], tonumber(arg[4]))
	elseif mode == "verify" then
		verify(arg[3])
	else
		fail("unknown mode " .. tostring(mode))
	end
end)
if ok then
	out("done")
else
	out("error", err)
end
if Session then Session:close() end
