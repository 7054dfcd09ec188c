package boomer

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// WaitTime decides how long a user pauses after a task, as a locustfile's
// wait_time does. Implementations must be safe for concurrent use: one
// WaitTime serves every user of a class.
type WaitTime interface {
	// Next returns the pause after a task that started at start and ended
	// at end.
	Next(start, end time.Time) time.Duration
}

// WaitFunc adapts a function to WaitTime.
type WaitFunc func(start, end time.Time) time.Duration

// Next calls f.
func (f WaitFunc) Next(start, end time.Time) time.Duration {
	return f(start, end)
}

// Between returns a wait time drawn uniformly from [min, max], like Locust's
// between. It panics if min > max or min < 0, which is a programming error.
func Between(min, max time.Duration) WaitTime {
	if min < 0 || min > max {
		panic(fmt.Sprintf("boomer.Between(%s, %s): need 0 <= min <= max", min, max))
	}
	span := int64(max - min)
	return WaitFunc(func(_, _ time.Time) time.Duration {
		if span == 0 {
			return min
		}
		return min + time.Duration(rand.Int64N(span+1))
	})
}

// Constant returns a fixed wait time, like Locust's constant.
func Constant(d time.Duration) WaitTime {
	if d < 0 {
		panic(fmt.Sprintf("boomer.Constant(%s): need a duration of 0 or more", d))
	}
	return WaitFunc(func(_, _ time.Time) time.Duration { return d })
}

// ConstantPacing returns a wait time that starts one task every period,
// whatever the task took, like Locust's constant_pacing: the pause is the
// period minus the task's run time. A task that takes longer than the period
// is followed by no pause.
func ConstantPacing(period time.Duration) WaitTime {
	if period <= 0 {
		panic(fmt.Sprintf("boomer.ConstantPacing(%s): need a positive period", period))
	}
	return WaitFunc(func(start, end time.Time) time.Duration {
		return max(0, period-end.Sub(start))
	})
}

// ConstantThroughput returns a wait time that runs perSecond tasks a second
// per user, like Locust's constant_throughput. It is ConstantPacing with a
// period of 1/perSecond seconds.
func ConstantThroughput(perSecond float64) WaitTime {
	if !(perSecond > 0) {
		panic(fmt.Sprintf("boomer.ConstantThroughput(%v): need a positive rate", perSecond))
	}
	return ConstantPacing(time.Duration(float64(time.Second) / perSecond))
}
