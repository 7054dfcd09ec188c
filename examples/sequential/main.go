// Command sequential runs ordered game flows, as a game client does: log in,
// play rounds, log out, each step timed on its own. Each flow is a
// sequential TaskSet whose last step calls Interrupt, so the user goes back
// to the top level and picks its next flow there: a short session (weight
// 10) or a long one (weight 20).
//
//	locust -f examples/locustfile.py --master
//	go run ./examples/sequential
//	go run ./examples/sequential --run-tasks short-session
package main

import (
	"math/rand/v2"
	"time"

	"github.com/locust-go/boomer"
)

// step returns a task body standing for one request of the flow: it takes
// between min and max and ends early when the user is stopped.
func step(name string, min, max time.Duration) func(u *boomer.User) {
	return func(u *boomer.User) {
		start := time.Now()
		select {
		case <-time.After(min + rand.N(max-min)):
			u.RecordSuccess("game", name, time.Since(start), 0)
		case <-u.Context().Done():
		}
	}
}

func login() *boomer.Task {
	return &boomer.Task{Name: "login", Run: step("login", 10*time.Millisecond, 30*time.Millisecond)}
}

func playRound() *boomer.Task {
	return &boomer.Task{Name: "play-round", Run: step("play round", 50*time.Millisecond, 150*time.Millisecond)}
}

func logout() *boomer.Task {
	logoutStep := step("logout", 5*time.Millisecond, 15*time.Millisecond)
	return &boomer.Task{Name: "logout", Run: func(u *boomer.User) {
		logoutStep(u)
		u.Interrupt()
	}}
}

func main() {
	shortSession := &boomer.TaskSet{
		Sequential: true,
		Tasks:      []*boomer.Task{login(), playRound(), logout()},
	}
	longSession := &boomer.TaskSet{
		Sequential: true,
		Tasks:      []*boomer.Task{login(), playRound(), playRound(), playRound(), logout()},
	}
	boomer.Run(
		&boomer.Task{Name: "short-session", Weight: 10, Set: shortSession},
		&boomer.Task{Name: "long-session", Weight: 20, Set: longSession},
	)
}
