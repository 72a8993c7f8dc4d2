-- mod_ctibus_watch: written by prosodytest for its tests. It tells the
-- host's component (pubsub.<host>) the outcome of every SASL
-- authentication, so that a test counts an agent's XMPP sign-ins and
-- proves that a wrong password was never retried.
local st = require "util.stanza";

local component = "pubsub." .. module.host;

local function report(outcome, session)
	local handler = session.sasl_handler;
	local user = (handler and handler.username) or session.username or "";
	module:send(st.message({ from = module.host, to = component, type = "headline" })
		:tag("sasl", { xmlns = "urn:ctibus:prosodytest", outcome = outcome, user = tostring(user) }));
end

module:hook("authentication-failure", function(event) report("failure", event.session); end);
module:hook("authentication-success", function(event) report("success", event.session); end);
