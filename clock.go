package boomer

import (
	"sync"
	"sync/atomic"
	"time"
)

const (
	// coarseTick is how often a ticking coarseClock reads the system clock,
	// and so how far behind its time can be while the CPUs have time for
	// the tick goroutine. When they do not, refresh calls from the
	// recording path keep it current.
	coarseTick = 10 * time.Millisecond
	// coarseIdleTicks is how many ticks without a reader stop the ticking,
	// so that a worker without load does not wake up every tick.
	coarseIdleTicks = 10
)

// coarseClock gives the recording path the time of day at the cost of an
// atomic load. Reading the system clock costs 40 to 80 ns on some virtual
// machines, more than the rest of a recording. The time stamps decide the
// per-second bucket and the last request time of a record, for which 10 ms
// is precise enough. Response times are measured by the caller and are not
// affected.
//
// The clock ticks only while it is started and read. Otherwise now reads the
// system clock, and the first such read while started wakes the ticking
// up, so a Boomer that records without running, or rarely, gets exact times.
type coarseClock struct {
	// unixNanos is the time of the last tick or refresh. It is current
	// while ticking is true.
	unixNanos atomic.Int64
	ticking   atomic.Bool
	// read is set by readers and cleared by every tick.
	read atomic.Bool
	// wakeup signals the tick goroutine to start ticking.
	wakeup chan struct{}

	mu     sync.Mutex
	starts int
	stop   chan struct{}
	done   chan struct{}
}

func newCoarseClock() *coarseClock {
	return &coarseClock{wakeup: make(chan struct{}, 1)}
}

// now returns the Unix time in seconds.
func (c *coarseClock) now() float64 {
	if c.ticking.Load() {
		if !c.read.Load() {
			c.read.Store(true)
		}
		return float64(c.unixNanos.Load()) / 1e9
	}
	return c.readSystemClock()
}

// refresh reads the system clock and returns it in Unix seconds. When the
// clock's time is more than a tick behind, refresh moves it forward. It
// writes nothing otherwise, so that the cores reading the clock keep its
// cache line.
func (c *coarseClock) refresh() float64 {
	now := time.Now().UnixNano()
	for {
		last := c.unixNanos.Load()
		if now-last <= int64(coarseTick) || c.unixNanos.CompareAndSwap(last, now) {
			break
		}
	}
	if !c.ticking.Load() {
		c.wake()
	}
	return float64(now) / 1e9
}

func (c *coarseClock) readSystemClock() float64 {
	now := unixSeconds(time.Now())
	c.wake()
	return now
}

// wake signals the tick goroutine, if it runs, to start ticking.
func (c *coarseClock) wake() {
	select {
	case c.wakeup <- struct{}{}:
	default:
	}
}

// start runs the tick goroutine until every start has been matched by a call
// of the function it returns.
func (c *coarseClock) start() (release func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.starts++
	if c.starts == 1 {
		c.stop = make(chan struct{})
		c.done = make(chan struct{})
		go c.tick(c.stop, c.done)
	}
	var once sync.Once
	return func() { once.Do(c.release) }
}

func (c *coarseClock) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.starts--
	if c.starts > 0 {
		return
	}
	close(c.stop)
	<-c.done
}

// tick waits for a reader, then ticks until coarseIdleTicks ticks pass
// without one, and so on until stop is closed.
func (c *coarseClock) tick(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	defer c.ticking.Store(false)
	ticker := time.NewTicker(coarseTick)
	ticker.Stop()
	for {
		select {
		case <-stop:
			return
		case <-c.wakeup:
		}
		c.unixNanos.Store(time.Now().UnixNano())
		c.read.Store(true)
		c.ticking.Store(true)
		ticker.Reset(coarseTick)
		for idle := 0; idle < coarseIdleTicks; {
			select {
			case <-stop:
				ticker.Stop()
				return
			case <-ticker.C:
			}
			c.unixNanos.Store(time.Now().UnixNano())
			if c.read.Swap(false) {
				idle = 0
			} else {
				idle++
			}
		}
		ticker.Stop()
		c.ticking.Store(false)
	}
}
