package finesse

// MostMoving returns the most agents that ever moved to the other side at
// once.
func (c *Connector) MostMoving() int64 { return c.mostMoving.Load() }
