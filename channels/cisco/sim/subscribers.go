package sim

import (
	"slices"

	"github.com/ctibus/ctibus/channels/cisco"
)

// Subscribers is a connector's list of Subscribe callbacks, called in the
// order they subscribed. It takes no lock: its owner guards it with the
// lock it holds while delivering, which makes the deliveries serial.
type Subscribers struct {
	list []subscriber
	last int // the id of the last callback added
}

// subscriber is one Subscribe callback.
type subscriber struct {
	id int
	f  func(cisco.Notification)
}

// Add appends f and returns its id, for Remove.
func (s *Subscribers) Add(f func(cisco.Notification)) (id int) {
	s.last++
	s.list = append(s.list, subscriber{id: s.last, f: f})
	return s.last
}

// Remove drops the callback that Add numbered id; a second Remove does
// nothing.
func (s *Subscribers) Remove(id int) {
	s.list = slices.DeleteFunc(s.list, func(sub subscriber) bool { return sub.id == id })
}

// Deliver calls every callback with n, in order.
func (s *Subscribers) Deliver(n cisco.Notification) {
	for _, sub := range s.list {
		sub.f(n)
	}
}
