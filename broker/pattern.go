package broker

import (
	"fmt"
	"strings"
)

// Wildcard matches any one whole segment of a triple in a Pattern.
const Wildcard = "*"

// Pattern selects events by channel, topic and subtopic. A segment is either
// a name, matched ignoring case, or Wildcard. "Cisco/Agent/*" matches every
// Agent event of the Cisco channel; "*/*/*" matches everything in scope.
type Pattern struct {
	Channel, Topic, Subtopic string
}

// ParsePattern checks p and returns it with its segments lowered for matching.
func ParsePattern(channel, topic, subtopic string) (Pattern, error) {
	segments := [3]struct{ key, value string }{
		{"channel", channel}, {"topic", topic}, {"subtopic", subtopic},
	}
	for _, s := range segments {
		if s.value == Wildcard {
			continue
		}
		if why := checkName(s.value); why != "" {
			if strings.Contains(s.value, Wildcard) {
				why = `"*" must stand alone as a whole segment`
			}
			return Pattern{}, fmt.Errorf("%s: %s", s.key, why)
		}
	}
	return Pattern{
		Channel:  strings.ToLower(channel),
		Topic:    strings.ToLower(topic),
		Subtopic: strings.ToLower(subtopic),
	}, nil
}

// String writes p as Channel/Topic/Subtopic.
func (p Pattern) String() string { return p.Channel + "/" + p.Topic + "/" + p.Subtopic }

// matches reports whether p matches a triple already lowered.
func (p Pattern) matches(t triple) bool {
	return segmentMatches(p.Channel, t.channel) &&
		segmentMatches(p.Topic, t.topic) &&
		segmentMatches(p.Subtopic, t.subtopic)
}

func segmentMatches(pattern, name string) bool { return pattern == Wildcard || pattern == name }

// triple is a routing key in lower case: matching ignores case because the
// published samples spell one subtopic "SetAnswer" and "SetANSWER".
type triple struct{ channel, topic, subtopic string }

func lowerTriple(channel, topic, subtopic string) triple {
	return triple{strings.ToLower(channel), strings.ToLower(topic), strings.ToLower(subtopic)}
}
