package broker

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Metrics are the broker's Prometheus metrics. A nil *Metrics records
// nothing, so that the broker works without them.
type Metrics struct {
	connections    prometheus.Gauge
	framesIn       *prometheus.CounterVec
	framesOut      *prometheus.CounterVec
	deliveries     prometheus.Counter
	slowConsumers  prometheus.Counter
	rateLimited    prometheus.Counter
	handlerSeconds *prometheus.HistogramVec
	handlerPanics  *prometheus.CounterVec
}

// appChannel labels the frames of channels without handlers: their names
// are chosen by apps, and a label per name would let apps grow the metrics
// without bound.
const appChannel = "app"

// invalidChannel labels frames that could not be read as envelopes.
const invalidChannel = "invalid"

// NewMetrics creates the broker's metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ctibus_connections_open", Help: "WebSocket connections open.",
		}),
		framesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ctibus_frames_in_total",
			Help: `Frames received, by channel: a channel with handlers by name, "app" for app-to-app channels, "invalid" for frames that could not be read.`,
		}, []string{"channel"}),
		framesOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ctibus_frames_out_total",
			Help: `Frames queued for apps, by channel (as for ctibus_frames_in_total).`,
		}, []string{"channel"}),
		deliveries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ctibus_fanout_deliveries_total", Help: "Published events queued for a recipient.",
		}),
		slowConsumers: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ctibus_slow_consumer_disconnects_total", Help: "Connections closed because their send queue was full.",
		}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ctibus_rate_limited_frames_total", Help: "Frames refused by the per-connection rate limit.",
		}),
		handlerSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ctibus_handler_duration_seconds",
			Help:    "Time handlers take, by API (Channel/Topic/Subtopic).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"api"}),
		handlerPanics: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ctibus_handler_panics_total",
			Help: `Panics recovered: requests answered Internal Error, by API ("app" for app-to-app channels), and callbacks of timers ("timer") and of closed connections ("close").`,
		}, []string{"api"}),
	}
	reg.MustRegister(m.connections, m.framesIn, m.framesOut, m.deliveries, m.slowConsumers, m.rateLimited, m.handlerSeconds, m.handlerPanics)
	return m
}

func (m *Metrics) connectionOpened(delta float64) {
	if m != nil {
		m.connections.Add(delta)
	}
}

func (m *Metrics) frameIn(channel string) {
	if m != nil {
		m.framesIn.WithLabelValues(channel).Inc()
	}
}

func (m *Metrics) delivered(channel string, n int) {
	if m != nil && n > 0 {
		m.framesOut.WithLabelValues(channel).Add(float64(n))
		m.deliveries.Add(float64(n))
	}
}

func (m *Metrics) sent(channel string) {
	if m != nil {
		m.framesOut.WithLabelValues(channel).Inc()
	}
}

func (m *Metrics) slowConsumer() {
	if m != nil {
		m.slowConsumers.Inc()
	}
}

func (m *Metrics) limited() {
	if m != nil {
		m.rateLimited.Inc()
	}
}

func (m *Metrics) handled(api string, took time.Duration) {
	if m != nil {
		m.handlerSeconds.WithLabelValues(api).Observe(took.Seconds())
	}
}

func (m *Metrics) panicked(api string) {
	if m != nil {
		m.handlerPanics.WithLabelValues(api).Inc()
	}
}

// Totals are the broker's counters since it started, as /metrics shows
// them.
type Totals struct {
	FramesIn      uint64 // frames received, invalid ones included
	FramesOut     uint64 // frames queued for apps
	Invalid       uint64 // frames received that could not be read as envelopes
	SlowConsumers uint64 // connections closed because their send queue was full
	RateLimited   uint64 // frames refused by the per-connection rate limit
}

// Totals reads the counters; a nil *Metrics reads zeros. It costs a walk
// over the counters' labels (a few channels), not over connections, so a
// sampler may call it every second.
func (m *Metrics) Totals() Totals {
	if m == nil {
		return Totals{}
	}
	return Totals{
		FramesIn:      sum(m.framesIn, ""),
		FramesOut:     sum(m.framesOut, ""),
		Invalid:       sum(m.framesIn, invalidChannel),
		SlowConsumers: sum(m.slowConsumers, ""),
		RateLimited:   sum(m.rateLimited, ""),
	}
}

// sum adds up the counters c collects, or only those labelled channel
// if channel is not "".
func sum(c prometheus.Collector, channel string) uint64 {
	metrics := make(chan prometheus.Metric, 16)
	go func() {
		c.Collect(metrics)
		close(metrics)
	}()
	var total float64
	for metric := range metrics {
		var m dto.Metric
		if metric.Write(&m) != nil || m.Counter == nil || !labelled(&m, channel) {
			continue
		}
		total += m.Counter.GetValue()
	}
	return uint64(total)
}

func labelled(m *dto.Metric, channel string) bool {
	if channel == "" {
		return true
	}
	for _, l := range m.GetLabel() {
		if l.GetName() == "channel" && l.GetValue() == channel {
			return true
		}
	}
	return false
}
