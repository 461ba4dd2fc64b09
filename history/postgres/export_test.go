package postgres

// Freeze makes the store behave as the store of a process that died or
// froze: it no longer renews its lease nor adopts other nodes' runs, while
// everything else goes on (its engine's commits find it fenced once
// another node took over).
func (s *Store) Freeze() { s.frozen.Store(true) }
