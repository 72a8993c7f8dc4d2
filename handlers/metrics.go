package handlers

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ctibus/ctibus/session"
)

// Metrics are the Cisco channel's Prometheus metrics; a nil *Metrics
// records nothing.
type Metrics struct {
	logins *prometheus.CounterVec
}

// The results of a sign-in, as the metrics count them.
const (
	loginOK     = "ok"
	loginFailed = "failed"
	loginLocked = "locked"
	loginBusy   = "busy" // the password check could not start in time
)

// NewMetrics creates the sign-in metrics, with a gauge of the accounts
// lockout holds locked, and registers them with reg.
func NewMetrics(reg prometheus.Registerer, lockout *session.Lockout) *Metrics {
	m := &Metrics{logins: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ctibus_logins_total",
		Help: "Sign-ins (Cisco/Agent/SetUserInfo) by result: ok, failed (any refusal but those below), locked, busy (too many password checks waiting).",
	}, []string{"result"})}
	for _, result := range []string{loginOK, loginFailed, loginLocked, loginBusy} {
		m.logins.WithLabelValues(result) // so that every result shows, at zero
	}
	reg.MustRegister(m.logins, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ctibus_lockouts_active", Help: "Accounts locked now after too many failed sign-ins.",
	}, func() float64 { return float64(lockout.ActiveLocks()) }))
	return m
}

func (m *Metrics) login(result string) {
	if m != nil {
		m.logins.WithLabelValues(result).Inc()
	}
}
