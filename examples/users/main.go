// Command users is a worker with a user class: each user logs in once in
// OnStart and keeps its session token in User.State, then browses the item
// list three times as often as it opens one item, pausing 0.5 to 2 s between
// tasks, and logs out in OnStop. Requests go through boomer.HTTPClient,
// which records each one by itself.
//
//	locust -f examples/users/locustfile.py --master --host http://127.0.0.1:8080
//	go run ./examples/users
//
// The base URL is --url, or else the host set on the master. With --demo the
// worker starts a small site of its own on 127.0.0.1 and uses it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/locust-go/boomer"
)

// client is set in main before the worker runs; the user class uses it.
var client *boomer.HTTPClient

// session is the per-user state that OnStart creates.
type session struct {
	token string
}

var websiteUser = &boomer.UserClass{
	Name:     "WebsiteUser",
	WaitTime: boomer.Between(500*time.Millisecond, 2*time.Second),

	OnStart: func(u *boomer.User) error {
		resp, err := client.Post(u.Context(), "/login", "text/plain", strings.NewReader("demo"))
		if err != nil {
			return err
		}
		u.State = &session{token: strings.TrimSpace(resp.Text())}
		return nil
	},

	Tasks: []*boomer.Task{
		{Name: "browse", Weight: 3, Run: func(u *boomer.User) {
			client.Get(u.Context(), "/items", authorization(u))
		}},
		{Name: "view-item", Weight: 1, Run: func(u *boomer.User) {
			// Every item id shares one row of the statistics.
			client.Get(u.Context(), fmt.Sprintf("/items/%d", rand.IntN(100)),
				boomer.Name("/items/[id]"),
				authorization(u),
				boomer.Check(func(r *boomer.Response) error {
					if !strings.HasPrefix(r.Text(), "item ") {
						return errors.New("item page without an item")
					}
					return nil
				}))
		}},
	},

	OnStop: func(u *boomer.User) {
		if s, ok := u.State.(*session); ok {
			client.Post(u.Context(), "/logout", "text/plain", strings.NewReader(s.token))
		}
	},
}

// authorization returns the user's session header. --run-tasks runs tasks
// without OnStart, so a user may have no session.
func authorization(u *boomer.User) boomer.RequestOption {
	token := "none"
	if s, ok := u.State.(*session); ok {
		token = s.token
	}
	return boomer.Header("Authorization", "Bearer "+token)
}

func main() {
	os.Exit(run())
}

// run runs the worker and returns the process's exit status.
func run() int {
	cfg := boomer.DefaultConfig()
	cfg.RegisterFlags(flag.CommandLine)
	baseURL := flag.String("url", "", "base URL of the site; empty uses the host set on the master, or --host in a standalone run")
	demo := flag.Bool("demo", false, "start a demo site on 127.0.0.1 and send the requests there")
	flag.Parse()

	b, err := boomer.New(boomer.WithConfig(cfg), boomer.WithUserClasses(websiteUser))
	if err != nil {
		fmt.Fprintf(os.Stderr, "users: %v\n", err)
		return 2
	}
	if *demo {
		*baseURL = startDemoSite()
	}
	var opts []boomer.HTTPOption
	if *baseURL != "" {
		opts = append(opts, boomer.WithBaseURL(*baseURL))
	}
	if client, err = boomer.NewHTTPClient(b, opts...); err != nil {
		fmt.Fprintf(os.Stderr, "users: %v\n", err)
		return 2
	}

	err = b.Run(context.Background())
	if err != nil {
		log.Printf("worker stopped: %v", err)
	}
	return boomer.ExitCode(err)
}

// startDemoSite serves /login, /logout, /items and /items/{id} on 127.0.0.1
// and returns its base URL.
func startDemoSite() string {
	var sessions atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "token-%d\n", sessions.Add(1))
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "bye\n")
	})
	mux.HandleFunc("GET /items", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "item 1\nitem 2\nitem 3\n")
	})
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "item %s\n", r.PathValue("id"))
	})
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatalf("users: start demo site: %v", err)
	}
	go func() {
		log.Printf("demo site stopped: %v", http.Serve(listener, mux))
	}()
	base := "http://" + listener.Addr().String()
	log.Printf("demo site at %s", base)
	return base
}
