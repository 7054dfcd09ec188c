// Command simple is a minimal worker in the original boomer style: two tasks
// that sleep and report through the Events bus. foo always succeeds and bar
// always fails.
//
//	locust -f examples/locustfile.py --master
//	go run ./examples/simple --master-host 127.0.0.1
package main

import (
	"time"

	"github.com/locust-go/boomer"
)

func foo() {
	start := boomer.Now()
	time.Sleep(100 * time.Millisecond)
	elapsed := boomer.Now() - start

	// The same as a Python locustfile's
	// events.request.fire(request_type="http", name="foo", response_time=elapsed, response_length=10).
	boomer.Events.Publish("request_success", "http", "foo", elapsed, int64(10))
}

func bar() {
	start := boomer.Now()
	time.Sleep(100 * time.Millisecond)
	elapsed := boomer.Now() - start

	boomer.Events.Publish("request_failure", "udp", "bar", elapsed, "udp error")
}

func main() {
	task1 := &boomer.Task{
		Name:   "foo",
		Weight: 10,
		Fn:     foo,
	}
	task2 := &boomer.Task{
		Name:   "bar",
		Weight: 20,
		Fn:     bar,
	}

	boomer.Run(task1, task2)
}
