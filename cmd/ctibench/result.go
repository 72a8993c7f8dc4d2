package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Result is one run's outcome: named values in a fixed order, printed as
// key=value pairs or a JSON object with the same keys. Durations are in
// milliseconds (keys end in _ms), rates per second (_per_s), sizes in KiB or
// MiB (_kb, _mb), CPU in percent of one core (_pct).
type Result struct {
	keys   []string
	values map[string]any   // int, float64 or string
	hists  map[string]*hist // the latency histograms, by key prefix: what workers' results merge
}

func newResult(scenario string) Result {
	r := Result{values: map[string]any{}}
	r.set("scenario", scenario)
	return r
}

// set records a value; a key set twice keeps its first place.
func (r *Result) set(key string, v any) {
	if _, ok := r.values[key]; !ok {
		r.keys = append(r.keys, key)
	}
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			x = 0
		}
		v = math.Round(x*1000) / 1000
	case int64:
		v = int(x)
	}
	r.values[key] = v
}

// get returns a numeric value, or 0.
func (r Result) get(key string) float64 {
	switch v := r.values[key].(type) {
	case int:
		return float64(v)
	case float64:
		return v
	}
	return 0
}

// line renders the result as "key=value key=value ...".
func (r Result) line() string {
	var b strings.Builder
	for i, k := range r.keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%s", k, formatValue(r.values[k]))
	}
	return b.String()
}

func formatValue(v any) string {
	switch x := v.(type) {
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case int:
		return strconv.Itoa(x)
	default:
		return fmt.Sprint(x)
	}
}

// MarshalJSON writes the keys in their order.
func (r Result) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range r.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		key, _ := json.Marshal(k)
		val, err := json.Marshal(r.values[k])
		if err != nil {
			return nil, err
		}
		b.Write(key)
		b.WriteByte(':')
		b.Write(val)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func (r Result) print(w io.Writer, asJSON bool) error {
	if asJSON {
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	_, err := fmt.Fprintln(w, r.line())
	return err
}

// summary writes the result for a person: one value per line.
func (r Result) summary(w io.Writer) {
	fmt.Fprintf(w, "--- %s\n", r.values["scenario"])
	for _, k := range r.keys[1:] {
		fmt.Fprintf(w, "  %-24s %s\n", strings.ReplaceAll(k, "_", " "), formatValue(r.values[k]))
	}
}

// parseLine reads a line written by line; tests use it.
func parseLine(line string) (map[string]string, error) {
	out := map[string]string{}
	for _, field := range strings.Fields(line) {
		k, v, ok := strings.Cut(field, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("field %q is not key=value", field)
		}
		out[k] = v
	}
	return out, nil
}

// median returns a result whose numeric values are the medians of the
// runs' and whose other values are the first run's.
func median(runs []Result) Result {
	med := Result{values: map[string]any{}}
	for _, k := range runs[0].keys {
		switch runs[0].values[k].(type) {
		case int, float64:
			xs := make([]float64, 0, len(runs))
			for _, r := range runs {
				xs = append(xs, r.get(k))
			}
			slices.Sort(xs)
			m := xs[len(xs)/2]
			if len(xs)%2 == 0 {
				m = (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
			}
			if _, isInt := runs[0].values[k].(int); isInt && m == math.Trunc(m) {
				med.set(k, int(m))
			} else {
				med.set(k, m)
			}
		default:
			med.set(k, runs[0].values[k])
		}
	}
	return med
}
