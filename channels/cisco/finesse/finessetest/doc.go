// Package finessetest is a Cisco Finesse for the tests of the Finesse
// connector: each Site is one side (node) of a Finesse cluster, with its
// REST API over TLS and its notification service on a real XMPP server
// (internal/prosodytest), and the sides of a pair share one contact center,
// a sim.Simulator, as the two Finesse nodes of a site share one CTI server.
//
// What a Site simulates of a real Finesse, after cisco-finesse.md:
//
//   - the REST API the connector uses, in Finesse's XML: GET SystemInfo
//     (xmppDomain, status, deploymentType, systemAuthMode); GET and PUT
//     User/<id> (<id> a loginId or a loginName; LOGIN with an extension,
//     READY, NOT_READY and LOGOUT with a reasonCodeId, a supervisor's state
//     change of an agent); the User's ReasonCodes?category=, WrapUpReasons,
//     PhoneBooks, Media, Media/<mrdId> and Dialogs; POST User/<id>/Dialogs
//     (MAKE_CALL with call variables, SILENT_MONITOR, BARGE_CALL with
//     associatedDialogUri); PUT Dialog/<id> (requestedAction with
//     targetMediaAddress and, for a consult or a transfer, toAddress;
//     UPDATE_CALL_DATA with mediaProperties/wrapUpReason); GET Team/<id>;
//     TeamResource/<teamId>/ReasonCodes, WrapUpReasons and PhoneBooks;
//   - HTTP Basic on every request but SystemInfo, with the agent's own
//     credentials: a wrong password is 401 Authorization Failure, counted
//     (Unauthorized) so that a test proves nothing retried it, and five in
//     a row block the username for five minutes (on SiteConfig.Now's clock);
//     acting on another agent is 401 Invalid Authorization User Specified;
//   - Finesse's asynchronous model: a PUT or POST answers 202 with an empty
//     body and its outcome comes as a notification. A failure of Finesse's
//     own validation is a 4xx with an <ApiErrors><ApiError><ErrorType>...
//     body; a failure at the CTI server (the simulator's CF_ errors: Invalid
//     Device, Device Busy, Invalid State CF_INVALID_OBJECT_STATE) is a 202
//     followed by an apiErrors notification;
//   - the notifications, pushed by prosodytest's component to the agent's
//     bare JID <loginId>@<xmppDomain>: User updates (<user>, event PUT) on
//     /finesse/api/User/<id>, to the subscribers of
//     /finesse/api/Team/<teamId>/Users too; Dialogs updates on
//     /finesse/api/User/<id>/Dialogs: POST (<dialogs><Dialog>) for a new
//     dialog, PUT (<dialog>, source /finesse/api/Dialog/<id>) for a change,
//     DELETE (<dialogs><Dialog> in its last state) for a dialog the agent
//     left; apiErrors (event put, its elements in the order of the error
//     captures) on the User or Dialogs node; SystemInfo
//     updates on /finesse/api/SystemInfo when the status changes. Each
//     echoes the requestId header of the request that caused it, or carries
//     it empty (SetEchoRequestID(false)), as real Finesse is seen to do; the
//     payload form is a switch (SetPayload);
//   - the presence rule: when an agent's presence has been gone from the
//     side for SiteConfig.PresenceGrace (60 s), the side applies Finesse's
//     forced logout with reason 255 (the simulator's Disconnect). The grace
//     runs on SiteConfig.AfterFunc, and ExpirePresence applies it at once,
//     so tests never wait 60 s;
//   - the side's health: SetStatus(OutOfService) makes every API but
//     SystemInfo answer 503 Service Unavailable and stops notifications,
//     Down refuses connections on REST and XMPP, SetDelay makes each request
//     slow; MaxConcurrent and WaitInFlight tell how many requests (of each
//     action, such as LOGIN) a client had in flight at once.
//
// Every request and every presence change is recorded, in order, in the
// side's Log, without times: a test asserts that an agent's XMPP presence
// came before its LOGIN PUT.
//
// A test starts a pair and points a connector at it:
//
//	p := finessetest.StartPair(t, finessetest.PairConfig{}) // ciscotest.SuiteDirectory's agents
//	// side A: REST p.A.URL(), XMPP p.A.XMPPURL(), domain p.A.Domain(); side B likewise
//	// trust: p.XMPP.CA().Pool(), or the file p.A.CAFile() for -finesse-ca
//	// drive the contact center: p.Sim.Ring(ctx, loginID, sim.IncomingCall{From: "4085551234"})
//	// fail a side: p.A.Down(), p.A.SetStatus(finessetest.OutOfService), p.XMPP.Proxy(finessetest.DomainA).Drop()
//	// assert the order: p.Log.Find(finessetest.IsOnline(finessetest.DomainA, id)), p.Log.Find(finessetest.IsLogin(id))
//
// The simulator notifies its changes only after sign-in; a Site notifies the
// outcome of a LOGIN itself. Agents of SiteConfig.Accounts are registered
// in prosody with their passwords, as Finesse's XMPP accepts the agent's
// own credentials.
package finessetest
