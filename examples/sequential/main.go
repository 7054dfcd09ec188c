// Command sequential runs an ordered flow, as a game client does: each
// iteration logs in, then plays a round, and times each step on its own.
// The same flow is registered as two tasks with weights 10 and 20, so the
// master shows how a weighted mix of one flow adds up.
//
//	go run ./examples/sequential --run-tasks login-and-play,login-and-play-again
package main

import (
	"math/rand/v2"
	"time"

	"github.com/locust-go/boomer"
)

// step stands for one request of the flow: it takes between min and max.
func step(name string, min, max time.Duration) {
	start := time.Now()
	time.Sleep(min + rand.N(max-min))
	boomer.RecordSuccess("game", name, time.Since(start), 0)
}

func loginAndPlay() {
	step("login", 10*time.Millisecond, 30*time.Millisecond)
	step("play round", 50*time.Millisecond, 150*time.Millisecond)
}

func main() {
	boomer.Run(
		&boomer.Task{Name: "login-and-play", Weight: 10, Fn: loginAndPlay},
		&boomer.Task{Name: "login-and-play-again", Weight: 20, Fn: loginAndPlay},
	)
}
