package boomer

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/locust-go/boomer/internal/locusttest"
)

// closedPort returns a port on 127.0.0.1 where nothing listens.
func closedPort(t *testing.T) int {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := listener.Addr().(*net.TCPAddr).Port
	require.NoError(t, listener.Close())
	return port
}

// closedPortURL returns a URL on 127.0.0.1 where nothing listens.
func closedPortURL(t *testing.T) string {
	t.Helper()
	return fmt.Sprintf("http://127.0.0.1:%d/down", closedPort(t))
}

func TestHTTPClientResultsInMasterCSV(t *testing.T) {
	skipIfShort(t)
	server := locusttest.NewCountingServer(t)
	server.SetStatus("/fail", http.StatusInternalServerError)
	down := closedPortURL(t)

	master := locusttest.StartMaster(t, locusttest.MasterOptions{
		Locustfile: locusttest.WriteLocustfile(t, "Shopper"),
		Headless:   true,
		Users:      2,
		SpawnRate:  2,
		RunTime:    "5s",
		Host:       server.URL,
	})

	// The client is created before Run; relative URLs resolve against the
	// master's --host, which arrives with the first spawn.
	var client atomic.Pointer[HTTPClient]
	var item atomic.Int64
	shopper := &UserClass{
		Name:     "Shopper",
		WaitTime: Constant(5 * time.Millisecond),
		Tasks: []*Task{
			{Name: "all", Weight: 1, Run: func(u *User) {
				c := client.Load()
				ctx := u.Context()
				c.Get(ctx, "/ok")
				c.Get(ctx, "/fail")
				c.Get(ctx, down)
				c.Get(ctx, "/body", Check(func(r *Response) error {
					if !strings.Contains(r.Text(), "expected text") {
						return errors.New("body lacks the expected text")
					}
					return nil
				}))
				c.Get(ctx, fmt.Sprintf("/item/%d", item.Add(1)%3), Name("/item/[id]"))
			}},
		},
	}
	worker := startClassWorker(t, master.Port, WithUserClasses(shopper))
	c, err := NewHTTPClient(worker.b, WithTimeout(5*time.Second))
	require.NoError(t, err)
	client.Store(c)

	code, err := master.Wait(60 * time.Second)
	require.NoError(t, err)
	assert.Equal(t, 1, code, "master exit code with failures; log:\n%s", master.Log())

	rows, ok, _, downRow, _, items := shopperRows(t, master)
	// The quit cancels the requests in flight, so each of the 2 users may
	// have sent /ok but not yet its /item request.
	assert.GreaterOrEqual(t, ok.RequestCount, items.RequestCount, "more item requests than /ok requests")
	assert.LessOrEqual(t, ok.RequestCount-items.RequestCount, int64(2), "grouped item requests missing")
	for _, path := range []string{"/item/0", "/item/1", "/item/2"} {
		_, found := locusttest.FindStatsRow(rows, "GET", path)
		assert.False(t, found, "%s has its own row despite Name", path)
	}

	// Every request the server received is in the master's totals.
	total, found := locusttest.FindStatsRow(rows, "", "Aggregated")
	require.True(t, found)
	// The quit cancels requests in flight, which the client does not
	// record, so the server may count one more request per user (2 users).
	counted := total.RequestCount - downRow.RequestCount
	assert.LessOrEqual(t, counted, server.Count(), "master total (without the closed port) above the server's count")
	assert.LessOrEqual(t, server.Count()-counted, int64(2), "master total (without the closed port) more than one request per user below the server's count")

	texts := failureTexts(t, master)
	assert.Equal(t, "HTTPError('500 Server Error: Internal Server Error for url: /fail')", texts["/fail"])
	assert.Contains(t, texts["/down"], "connection refused")
	assert.Equal(t, "body lacks the expected text", texts["/body"])

	assert.ErrorIs(t, worker.stopAndWait(t), ErrMasterQuit)
}

// shopperRows reads the master's CSV of a shopper test, which both HTTP
// clients run, and checks what the clients have in common: successes,
// failing statuses, transport errors, failed checks and grouped names.
// It returns all rows and the rows of /ok, /fail, /down, /body and
// /item/[id].
func shopperRows(t *testing.T, master *locusttest.Master) (rows []locusttest.StatsRow, ok, fail, down, body, items locusttest.StatsRow) {
	t.Helper()
	rows, err := master.StatsCSV()
	require.NoError(t, err)
	row := func(name string) locusttest.StatsRow {
		r, found := locusttest.FindStatsRow(rows, "GET", name)
		require.True(t, found, "no GET %s row in %+v", name, rows)
		return r
	}
	ok, fail, down, body, items = row("/ok"), row("/fail"), row("/down"), row("/body"), row("/item/[id]")

	assert.Positive(t, ok.RequestCount)
	assert.Zero(t, ok.FailureCount, "200 responses counted as failures")
	assert.Equal(t, fail.RequestCount, fail.FailureCount, "500 responses not all failures")
	assert.Equal(t, down.RequestCount, down.FailureCount, "transport errors not all failures")
	assert.Equal(t, body.RequestCount, body.FailureCount, "failed body checks not all failures")
	assert.Zero(t, items.FailureCount)
	return rows, ok, fail, down, body, items
}

// failureTexts returns the error text of each name in the master's
// failures CSV.
func failureTexts(t *testing.T, master *locusttest.Master) map[string]string {
	t.Helper()
	failures, err := master.FailuresCSV()
	require.NoError(t, err)
	texts := map[string]string{}
	for _, f := range failures {
		texts[f.Name] = f.Error
	}
	return texts
}
