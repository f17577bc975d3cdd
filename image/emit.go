package image

// emitter puts the workers' results back in job order and numbers chunks.
type emitter struct {
	next    int
	index   int
	pending map[int]*result
	sawLast bool
}

type emitFunc func(index int, c []byte, last bool, span Range, raw int, stored bool) error

func (e *emitter) add(r *result, emit emitFunc, slots chan struct{}) error {
	e.pending[r.seq] = r
	for {
		r, ok := e.pending[e.next]
		if !ok {
			return nil
		}
		delete(e.pending, e.next)
		e.next++
		<-slots
		for i, c := range r.chunks {
			last := r.last && i == len(r.chunks)-1
			if err := emit(e.index, c.data, last, c.span, c.raw, c.stored); err != nil {
				return err
			}
			e.index++
			if last {
				e.sawLast = true
			}
		}
	}
}
