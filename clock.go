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
	// stamp is 0 while the clock does not tick. While it ticks, it holds
	// the Unix time (ns) of the last tick or refresh, with the lowest bit
	// set once a reader has read it. So one load gives a reader the time
	// and whether it is current, and the tick goroutine learns from the
	// bit whether the clock still has readers.
	stamp atomic.Int64
	// wakeup signals the tick goroutine to start ticking.
	wakeup chan struct{}

	mu     sync.Mutex
	starts int
	stop   chan struct{}
	done   chan struct{}
}

// stampRead marks a stamp as read.
const stampRead = 1

func newCoarseClock() *coarseClock {
	return &coarseClock{wakeup: make(chan struct{}, 1)}
}

// ticking reports whether the clock ticks.
func (c *coarseClock) ticking() bool {
	return c.stamp.Load() != 0
}

// now returns the Unix time in nanoseconds.
func (c *coarseClock) now() int64 {
	if now := c.current(); now != 0 {
		return now
	}
	return c.firstRead()
}

// current returns the time of the last tick while the clock ticks and has
// been read since that tick, or else 0. It has no calls, so that the
// compiler inlines it.
func (c *coarseClock) current() int64 {
	if now := c.stamp.Load(); now&stampRead != 0 {
		return now
	}
	return 0
}

// firstRead returns the time for a read that is the first since the last
// tick, or while the clock does not tick.
func (c *coarseClock) firstRead() int64 {
	if now := c.stamp.Load(); now != 0 {
		c.stamp.CompareAndSwap(now, now|stampRead)
		return now
	}
	return c.readSystemClock()
}

// refresh reads the system clock and returns it in Unix nanoseconds. When the
// ticking clock's time is more than a tick behind, refresh moves it forward.
// It writes nothing otherwise, so that the cores reading the clock keep its
// cache line.
func (c *coarseClock) refresh() int64 {
	now := time.Now().UnixNano()
	for {
		last := c.stamp.Load()
		if last == 0 {
			c.wake()
			break
		}
		if now-last <= int64(coarseTick) || c.stamp.CompareAndSwap(last, now|stampRead) {
			break
		}
	}
	return now
}

func (c *coarseClock) readSystemClock() int64 {
	now := time.Now().UnixNano()
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
	defer c.stamp.Store(0)
	ticker := time.NewTicker(coarseTick)
	ticker.Stop()
	for {
		select {
		case <-stop:
			return
		case <-c.wakeup:
		}
		// The reader that woke the clock up counts as a read.
		c.stamp.Store(c.tickStamp() | stampRead)
		ticker.Reset(coarseTick)
		for idle := 0; idle < coarseIdleTicks; {
			select {
			case <-stop:
				ticker.Stop()
				return
			case <-ticker.C:
			}
			if c.stamp.Swap(c.tickStamp())&stampRead != 0 {
				idle = 0
			} else {
				idle++
			}
		}
		ticker.Stop()
		c.stamp.Store(0)
	}
}

// tickStamp returns the system clock's time as an unread stamp.
func (c *coarseClock) tickStamp() int64 {
	return time.Now().UnixNano() &^ stampRead
}
