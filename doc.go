// Package boomer turns Go code into a worker for Locust, the load-testing
// tool. A Locust master (locust --master, version 2.0 or later) dispatches
// users to its workers; a worker built with this package runs those users as
// goroutines executing Go tasks and reports every request back to the
// master, which shows them in its web UI, CSV files and summary.
//
// A worker program registers tasks and calls Run:
//
//	func get() {
//		start := time.Now()
//		resp, err := http.Get("http://127.0.0.1:8080/")
//		if err != nil {
//			boomer.RecordFailure("GET", "/", time.Since(start), err.Error())
//			return
//		}
//		n, _ := io.Copy(io.Discard, resp.Body)
//		resp.Body.Close()
//		boomer.RecordSuccess("GET", "/", time.Since(start), n)
//	}
//
//	func main() {
//		boomer.Run(&boomer.Task{Name: "get", Weight: 1, Fn: get})
//	}
//
// Run defines the flags --master-host, --master-port, --master-timeout,
// --run-tasks and --rpc on flag.CommandLine and blocks until the master
// sends quit or the process receives SIGINT or SIGTERM. Programs that want
// no package-level state use New and (*Boomer).Run with a context instead.
//
// # Standalone runs
//
// With --standalone (Config.Standalone) the same program runs a test
// without a master, with Locust's flags: -u users, -r spawn rate, -t run
// time, --iterations per user, --csv, --json and --html reports, and
// --exit-code-on-error. It prints a live table on a terminal and a summary
// with HDR percentiles at the end.
//
// In both modes, --max-rps and --global-max-rps limit the task start rate,
// evenly spaced, with an optional ramp (--max-rps-ramp). --arrival-rate
// runs the open model, which starts tasks at a fixed rate and records how
// late each start was. --metrics-addr serves Prometheus metrics.
//
// The master needs a locustfile whose User class names are the classes it
// dispatches; examples/locustfile.py has one class. With plain tasks, every
// class runs the worker's tasks, and the worker reports the users it runs
// per class.
//
// # User classes
//
// For users with state and a lifecycle, give the worker UserClass values
// named like the master's classes (WithUserClasses). Each user is a *User
// with its own State, a context that ends when the user is stopped, OnStart
// and OnStop hooks, a WaitTime between tasks (Between, Constant,
// ConstantPacing, ConstantThroughput), and tasks that may be nested,
// weighted or sequential TaskSets filtered by the master's tags.
// HTTPClient records HTTP requests by itself. WithTestStart, WithTestStop,
// RegisterMessage and SendMessage connect to the master's test events and
// custom messages.
//
// # Protocol
//
// The worker speaks Locust's master/worker protocol over a ZeroMQ DEALER
// socket: goczmq (cgo and libczmq) by default, or the pure-Go
// go-zeromq/zmq4 with the build tag purego. It sends client_ready at start and
// after every stop, a heartbeat every second, statistics every 3 seconds as
// deltas, spawning and spawning_complete for every spawn, client_stopped
// after a stop, and quit when it ends. Response times travel as float
// milliseconds, so sub-millisecond latencies are kept.
//
// When a master that answered heartbeats (Locust 2.19 and later) falls
// silent for Config.MasterTimeout, the worker stops its users, drops the
// statistics not yet sent, and registers again, so it rejoins a restarted
// master by itself.
package boomer
