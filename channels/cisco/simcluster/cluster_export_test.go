package simcluster

// SetBeforeReply has the leader run f(method) after applying a request from
// another node and before answering it, so that tests can make an answer
// slow.
func SetBeforeReply(c *Cluster, f func(method string)) { c.beforeReply.Store(&f) }
