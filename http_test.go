package boomer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newHTTPTestBoomer returns a Boomer that is never run, whose statistics
// the tests read with b.stats.snapshot().
func newHTTPTestBoomer(t *testing.T) *Boomer {
	t.Helper()
	b, err := New(WithTasks(&Task{Name: "t", Weight: 1, Fn: func() {}}), WithSignalHandling(false))
	require.NoError(t, err)
	return b
}

func newTestHTTPClient(t *testing.T, b *Boomer, opts ...HTTPOption) *HTTPClient {
	t.Helper()
	c, err := NewHTTPClient(b, opts...)
	require.NoError(t, err)
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// httpTarget is an HTTP server on 127.0.0.1 that counts the requests and
// connections it received.
type httpTarget struct {
	*httptest.Server
	requests    atomic.Int64
	connections atomic.Int64
	// release unblocks the handlers of /block when the test ends.
	release chan struct{}
}

func newHTTPTarget(t *testing.T) *httpTarget {
	t.Helper()
	target := &httpTarget{release: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	})
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "broken", http.StatusInternalServerError)
	})
	mux.HandleFunc("/missing", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no such thing", http.StatusNotFound)
	})
	mux.HandleFunc("/item/", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "item "+strings.TrimPrefix(r.URL.Path, "/item/"))
	})
	mux.HandleFunc("/json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id": 7, "name": "seven"}`)
	})
	echo := func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %s|%s|%s", r.Method, r.URL.RequestURI(), r.Header.Get("Content-Type"), r.Header.Get("X-Token"), body)
	}
	mux.HandleFunc("/echo", echo)
	mux.HandleFunc("/echo/", echo)
	mux.HandleFunc("/block", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-target.release:
		}
	})
	// /short declares 100 bytes and sends 5, then closes the connection.
	mux.HandleFunc("/short", func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")
		buf.Flush()
	})
	// /odd responds with status 599 and a reason phrase that no standard has.
	mux.HandleFunc("/odd", func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		buf.WriteString("HTTP/1.1 599 It's Odd\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		buf.Flush()
	})

	target.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target.requests.Add(1)
		mux.ServeHTTP(w, r)
	}))
	target.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			target.connections.Add(1)
		}
	}
	target.Start()
	t.Cleanup(target.Close)
	// Cleanups run last-in first-out: the blocked handlers return before
	// Close waits for them.
	t.Cleanup(func() { close(target.release) })
	return target
}

func httpRow(t *testing.T, snap statsSnapshot, method, name string) *requestStats {
	t.Helper()
	row := snap.requests[requestKey{method: method, name: name}]
	require.NotNil(t, row, "no statistics row for %s %s; rows: %v", method, name, snap.sortedKeys())
	return row
}

// httpErrorTexts returns the failure texts recorded for method and name,
// with their occurrences.
func httpErrorTexts(snap statsSnapshot, method, name string) map[string]int64 {
	texts := make(map[string]int64)
	for key, e := range snap.errors {
		if key.method == method && key.name == name {
			texts[key.text] += e.occurrences
		}
	}
	return texts
}

func TestHTTPClientRecordsSuccess(t *testing.T) {
	target := newHTTPTarget(t)
	b := newHTTPTestBoomer(t)
	c := newTestHTTPClient(t, b)

	resp, err := c.Get(context.Background(), target.URL+"/ok")

	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "hello", resp.Text())
	assert.Equal(t, http.NoBody, resp.Response.Body)
	assert.Positive(t, resp.Elapsed)
	snap := b.stats.snapshot()
	assert.Len(t, snap.requests, 1)
	assert.Empty(t, snap.errors)
	row := httpRow(t, snap, "GET", "/ok")
	assert.EqualValues(t, 1, row.numRequests)
	assert.EqualValues(t, 0, row.numFailures)
	assert.EqualValues(t, 5, row.totalContentLength)
	assert.Equal(t, durationMillis(resp.Elapsed), row.totalResponseTime)
}

func TestHTTPClientStatusFailures(t *testing.T) {
	// The texts are those Locust 2.47.0 records for requests' HTTPError,
	// checked with repr(HTTPError) from requests 2.34.2.
	cases := []struct {
		path     string
		wantCode int
		wantText string
	}{
		{"/fail", 500, `HTTPError('500 Server Error: Internal Server Error for url: /fail')`},
		{"/missing", 404, `HTTPError('404 Client Error: Not Found for url: /missing')`},
		{"/odd", 599, `HTTPError("599 Server Error: It's Odd for url: /odd")`},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			target := newHTTPTarget(t)
			b := newHTTPTestBoomer(t)
			c := newTestHTTPClient(t, b)

			resp, err := c.Get(context.Background(), target.URL+tc.path)

			var statusErr *StatusError
			require.ErrorAs(t, err, &statusErr)
			assert.Equal(t, tc.wantCode, statusErr.StatusCode)
			require.NotNil(t, resp)
			assert.Equal(t, tc.wantCode, resp.StatusCode)
			snap := b.stats.snapshot()
			row := httpRow(t, snap, "GET", tc.path)
			assert.EqualValues(t, 1, row.numRequests)
			assert.EqualValues(t, 1, row.numFailures)
			assert.Equal(t, map[string]int64{tc.wantText: 1}, httpErrorTexts(snap, "GET", tc.path))
		})
	}
}

func TestHTTPClientStatusErrorUsesName(t *testing.T) {
	target := newHTTPTarget(t)
	b := newHTTPTestBoomer(t)
	c := newTestHTTPClient(t, b)

	_, err := c.Get(context.Background(), target.URL+"/fail?id=3", Name("/fail/[id]"))

	require.Error(t, err)
	snap := b.stats.snapshot()
	want := `HTTPError('500 Server Error: Internal Server Error for url: /fail/[id]')`
	assert.Equal(t, map[string]int64{want: 1}, httpErrorTexts(snap, "GET", "/fail/[id]"))
}

func TestHTTPClientCheckAccepts404(t *testing.T) {
	target := newHTTPTarget(t)
	b := newHTTPTestBoomer(t)
	c := newTestHTTPClient(t, b)

	resp, err := c.Get(context.Background(), target.URL+"/missing", Check(func(r *Response) error {
		if r.StatusCode != http.StatusNotFound {
			return fmt.Errorf("status %d, expected 404", r.StatusCode)
		}
		return nil
	}))

	require.NoError(t, err)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	snap := b.stats.snapshot()
	row := httpRow(t, snap, "GET", "/missing")
	assert.EqualValues(t, 1, row.numRequests)
	assert.EqualValues(t, 0, row.numFailures)
	assert.EqualValues(t, len(resp.Body), row.totalContentLength)
	assert.Empty(t, snap.errors)
}

func TestHTTPClientCheckFailure(t *testing.T) {
	target := newHTTPTarget(t)
	b := newHTTPTestBoomer(t)
	c := newTestHTTPClient(t, b)
	errNoOK := errors.New(`body lacks "ok"`)

	resp, err := c.Get(context.Background(), target.URL+"/ok", Check(func(r *Response) error {
		if !bytes.Contains(r.Body, []byte("ok")) {
			return errNoOK
		}
		return nil
	}))

	assert.ErrorIs(t, err, errNoOK)
	require.NotNil(t, resp)
	assert.Equal(t, "hello", resp.Text())
	snap := b.stats.snapshot()
	row := httpRow(t, snap, "GET", "/ok")
	assert.EqualValues(t, 1, row.numRequests)
	assert.EqualValues(t, 1, row.numFailures)
	assert.Equal(t, map[string]int64{`body lacks "ok"`: 1}, httpErrorTexts(snap, "GET", "/ok"))
}

func TestHTTPClientCheckPanic(t *testing.T) {
	target := newHTTPTarget(t)
	b := newHTTPTestBoomer(t)
	c := newTestHTTPClient(t, b)

	resp, err := c.Get(context.Background(), target.URL+"/ok", Check(func(r *Response) error {
		panic("boom")
	}))

	var panicErr *CheckPanicError
	require.ErrorAs(t, err, &panicErr)
	assert.Equal(t, "boom", panicErr.Value)
	assert.Contains(t, string(panicErr.Stack), "TestHTTPClientCheckPanic")
	assert.NotNil(t, resp)
	snap := b.stats.snapshot()
	row := httpRow(t, snap, "GET", "/ok")
	assert.EqualValues(t, 1, row.numRequests)
	assert.EqualValues(t, 1, row.numFailures)
	assert.Equal(t, map[string]int64{"check panicked: boom": 1}, httpErrorTexts(snap, "GET", "/ok"))
}

func TestHTTPClientConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closedURL := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close())
	b := newHTTPTestBoomer(t)
	c := newTestHTTPClient(t, b)

	resp, err := c.Get(context.Background(), closedURL+"/down?x=1")

	assert.Nil(t, resp)
	var urlErr *url.Error
	require.ErrorAs(t, err, &urlErr)
	snap := b.stats.snapshot()
	row := httpRow(t, snap, "GET", "/down")
	assert.EqualValues(t, 1, row.numRequests)
	assert.EqualValues(t, 1, row.numFailures)
	texts := httpErrorTexts(snap, "GET", "/down")
	require.Len(t, texts, 1)
	for text := range texts {
		assert.Contains(t, text, "connection refused")
		assert.NotContains(t, text, "timed out")
		assert.NotContains(t, text, "/down", "the URL is left out so that URLs grouped by name share one row")
	}
}

func TestHTTPClientTimeout(t *testing.T) {
	target := newHTTPTarget(t)
	b := newHTTPTestBoomer(t)
	c := newTestHTTPClient(t, b, WithTimeout(50*time.Millisecond))

	resp, err := c.Get(context.Background(), target.URL+"/block")

	assert.Nil(t, resp)
	assert.True(t, isTimeout(err), "error %v is not a timeout", err)
	snap := b.stats.snapshot()
	row := httpRow(t, snap, "GET", "/block")
	assert.EqualValues(t, 1, row.numRequests)
	assert.EqualValues(t, 1, row.numFailures)
	texts := httpErrorTexts(snap, "GET", "/block")
	require.Len(t, texts, 1)
	for text := range texts {
		assert.True(t, strings.HasPrefix(text, "timed out: "), "failure text %q", text)
	}
}

func TestHTTPClientBodyReadError(t *testing.T) {
	target := newHTTPTarget(t)
	b := newHTTPTestBoomer(t)
	c := newTestHTTPClient(t, b)

	resp, err := c.Get(context.Background(), target.URL+"/short")

	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	require.NotNil(t, resp)
	assert.Equal(t, "short", resp.Text())
	snap := b.stats.snapshot()
	row := httpRow(t, snap, "GET", "/short")
	assert.EqualValues(t, 1, row.numRequests)
	assert.EqualValues(t, 1, row.numFailures)
	assert.Equal(t, map[string]int64{"read response body: unexpected EOF": 1}, httpErrorTexts(snap, "GET", "/short"))
}

func TestHTTPClientNameGroupsURLs(t *testing.T) {
	target := newHTTPTarget(t)
	b := newHTTPTestBoomer(t)
	c := newTestHTTPClient(t, b)

	for _, id := range []string{"1", "2"} {
		resp, err := c.Get(context.Background(), target.URL+"/item/"+id, Name("/item/[id]"))
		require.NoError(t, err)
		assert.Equal(t, "item "+id, resp.Text())
	}

	snap := b.stats.snapshot()
	assert.Len(t, snap.requests, 1)
	row := httpRow(t, snap, "GET", "/item/[id]")
	assert.EqualValues(t, 2, row.numRequests)
	assert.EqualValues(t, 0, row.numFailures)
}

func TestHTTPClientNameLeavesOutQuery(t *testing.T) {
	target := newHTTPTarget(t)
	b := newHTTPTestBoomer(t)
	c := newTestHTTPClient(t, b)

	for _, query := range []string{"?a=1", "?a=2&b=3"} {
		_, err := c.Get(context.Background(), target.URL+"/ok"+query)
		require.NoError(t, err)
	}

	snap := b.stats.snapshot()
	assert.Len(t, snap.requests, 1)
	row := httpRow(t, snap, "GET", "/ok")
	assert.EqualValues(t, 2, row.numRequests)
}

func TestHTTPClientBaseURL(t *testing.T) {
	target := newHTTPTarget(t)
	cases := []struct {
		base     string
		ref      string
		wantURI  string
		wantName string
	}{
		{target.URL, "/echo?q=1", "/echo?q=1", "/echo"},
		{target.URL + "/", "/echo", "/echo", "/echo"},
		{target.URL, "echo", "/echo", "/echo"},
		{target.URL + "/echo", "/x", "/echo/x", "/echo/x"},
		{target.URL + "/echo/", "x", "/echo/x", "/echo/x"},
		{"http://127.0.0.1:1", target.URL + "/echo", "/echo", "/echo"},
	}
	for _, tc := range cases {
		t.Run(tc.base+" "+tc.ref, func(t *testing.T) {
			b := newHTTPTestBoomer(t)
			c := newTestHTTPClient(t, b, WithBaseURL(tc.base))

			resp, err := c.Get(context.Background(), tc.ref)

			require.NoError(t, err)
			assert.Equal(t, "GET "+tc.wantURI+" ||", resp.Text())
			row := httpRow(t, b.stats.snapshot(), "GET", tc.wantName)
			assert.EqualValues(t, 1, row.numRequests)
		})
	}
}

func TestHTTPClientMasterHost(t *testing.T) {
	first := newHTTPTarget(t)
	second := newHTTPTarget(t)
	b := newHTTPTestBoomer(t)
	c := newTestHTTPClient(t, b)

	b.test.Store(&TestInfo{Host: first.URL})
	_, err := c.Get(context.Background(), "/ok")
	require.NoError(t, err)
	b.test.Store(&TestInfo{Host: second.URL + "/"})
	_, err = c.Get(context.Background(), "/ok")
	require.NoError(t, err)
	_, err = c.Get(context.Background(), "/ok")
	require.NoError(t, err)

	assert.EqualValues(t, 1, first.requests.Load())
	assert.EqualValues(t, 2, second.requests.Load())
	row := httpRow(t, b.stats.snapshot(), "GET", "/ok")
	assert.EqualValues(t, 3, row.numRequests)
	assert.EqualValues(t, 0, row.numFailures)
}

func TestHTTPClientNoBaseURL(t *testing.T) {
	b := newHTTPTestBoomer(t)
	c := newTestHTTPClient(t, b)

	resp, err := c.Get(context.Background(), "/ok?x=1")

	assert.Nil(t, resp)
	assert.ErrorIs(t, err, ErrNoBaseURL)
	assert.Contains(t, err.Error(), `"/ok?x=1"`)
	snap := b.stats.snapshot()
	row := httpRow(t, snap, "GET", "/ok")
	assert.EqualValues(t, 1, row.numRequests)
	assert.EqualValues(t, 1, row.numFailures)
	assert.Equal(t, map[string]int64{ErrNoBaseURL.Error(): 1}, httpErrorTexts(snap, "GET", "/ok"))
}

func TestHTTPClientInvalidMasterHost(t *testing.T) {
	b := newHTTPTestBoomer(t)
	c := newTestHTTPClient(t, b)
	b.test.Store(&TestInfo{Host: "example.com"})

	resp, err := c.Get(context.Background(), "/ok")

	assert.Nil(t, resp)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"example.com"`)
	assert.Contains(t, err.Error(), "--host")
	snap := b.stats.snapshot()
	row := httpRow(t, snap, "GET", "/ok")
	assert.EqualValues(t, 1, row.numFailures)
}

func TestHTTPClientReusesConnection(t *testing.T) {
	target := newHTTPTarget(t)
	b := newHTTPTestBoomer(t)
	c := newTestHTTPClient(t, b)

	for i := 0; i < 100; i++ {
		_, err := c.Get(context.Background(), target.URL+"/ok")
		require.NoError(t, err)
	}

	assert.EqualValues(t, 100, target.requests.Load())
	assert.EqualValues(t, 1, target.connections.Load())
}

func TestHTTPClientKeepAliveOff(t *testing.T) {
	target := newHTTPTarget(t)
	b := newHTTPTestBoomer(t)
	c := newTestHTTPClient(t, b, WithKeepAlive(false))

	for i := 0; i < 3; i++ {
		_, err := c.Get(context.Background(), target.URL+"/ok")
		require.NoError(t, err)
	}

	assert.EqualValues(t, 3, target.connections.Load())
}

func TestHTTPClientConcurrentUsers(t *testing.T) {
	const users, requestsPerUser = 50, 100
	target := newHTTPTarget(t)
	b := newHTTPTestBoomer(t)
	c := newTestHTTPClient(t, b, WithBaseURL(target.URL))

	var wg sync.WaitGroup
	var errorCount atomic.Int64
	for u := 0; u < users; u++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < requestsPerUser; i++ {
				if _, err := c.Get(context.Background(), "/item/"+fmt.Sprint(i), Name("/item/[id]")); err != nil {
					errorCount.Add(1)
				}
			}
		}()
	}
	wg.Wait()

	assert.Zero(t, errorCount.Load())
	assert.EqualValues(t, users*requestsPerUser, target.requests.Load())
	snap := b.stats.snapshot()
	assert.Len(t, snap.requests, 1)
	row := httpRow(t, snap, "GET", "/item/[id]")
	assert.EqualValues(t, users*requestsPerUser, row.numRequests)
	assert.EqualValues(t, 0, row.numFailures)
}

func TestHTTPClientHeaders(t *testing.T) {
	target := newHTTPTarget(t)
	b := newHTTPTestBoomer(t)
	c := newTestHTTPClient(t, b, WithBaseURL(target.URL), WithHeader("X-Token", "default"))
	ctx := context.Background()

	resp, err := c.Get(ctx, "/echo")
	require.NoError(t, err)
	assert.Equal(t, "GET /echo |default|", resp.Text())

	resp, err = c.Get(ctx, "/echo", Header("X-Token", "per-request"))
	require.NoError(t, err)
	assert.Equal(t, "GET /echo |per-request|", resp.Text())

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target.URL+"/echo", nil)
	require.NoError(t, err)
	req.Header.Set("X-Token", "own")
	resp, err = c.Do(req)
	require.NoError(t, err)
	assert.Equal(t, "GET /echo |own|", resp.Text())
}

func TestHTTPClientInvalidRequestHeader(t *testing.T) {
	target := newHTTPTarget(t)
	b := newHTTPTestBoomer(t)
	c := newTestHTTPClient(t, b)

	resp, err := c.Get(context.Background(), target.URL+"/ok", Header("X-Token", "a\r\nInjected: yes"))

	assert.Nil(t, resp)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "X-Token")
	assert.Zero(t, target.requests.Load())
	row := httpRow(t, b.stats.snapshot(), "GET", "/ok")
	assert.EqualValues(t, 1, row.numFailures)
}

func TestHTTPClientPost(t *testing.T) {
	target := newHTTPTarget(t)
	b := newHTTPTestBoomer(t)
	c := newTestHTTPClient(t, b, WithBaseURL(target.URL))

	resp, err := c.Post(context.Background(), "/echo", "text/plain", strings.NewReader("payload"))

	require.NoError(t, err)
	assert.Equal(t, "POST /echo text/plain||payload", resp.Text())
	row := httpRow(t, b.stats.snapshot(), "POST", "/echo")
	assert.EqualValues(t, 1, row.numRequests)
	assert.EqualValues(t, len(resp.Body), row.totalContentLength)
}

func TestHTTPClientRequestMethod(t *testing.T) {
	target := newHTTPTarget(t)
	b := newHTTPTestBoomer(t)
	c := newTestHTTPClient(t, b, WithBaseURL(target.URL))

	resp, err := c.Request(context.Background(), http.MethodPut, "/echo", strings.NewReader("x"))

	require.NoError(t, err)
	assert.Equal(t, "PUT /echo ||x", resp.Text())
	row := httpRow(t, b.stats.snapshot(), "PUT", "/echo")
	assert.EqualValues(t, 1, row.numRequests)
}

func TestHTTPClientDoKeepsRequest(t *testing.T) {
	target := newHTTPTarget(t)
	b := newHTTPTestBoomer(t)
	c := newTestHTTPClient(t, b, WithBaseURL(target.URL), WithHeader("X-Token", "default"))
	req, err := http.NewRequestWithContext(context.Background(), http.MethodDelete, "/echo?id=4", nil)
	require.NoError(t, err)

	resp, err := c.Do(req, Name("/echo/[id]"))

	require.NoError(t, err)
	assert.Equal(t, "DELETE /echo?id=4 |default|", resp.Text())
	assert.Equal(t, "/echo?id=4", req.URL.String())
	assert.Empty(t, req.Header.Get("X-Token"))
	row := httpRow(t, b.stats.snapshot(), "DELETE", "/echo/[id]")
	assert.EqualValues(t, 1, row.numRequests)
}

func TestHTTPClientDoNilRequest(t *testing.T) {
	b := newHTTPTestBoomer(t)
	c := newTestHTTPClient(t, b)

	resp, err := c.Do(nil)

	assert.Nil(t, resp)
	assert.Error(t, err)
	assert.True(t, b.stats.snapshot().empty())
}

func TestHTTPClientResponseJSON(t *testing.T) {
	target := newHTTPTarget(t)
	b := newHTTPTestBoomer(t)
	c := newTestHTTPClient(t, b, WithBaseURL(target.URL))
	var item struct {
		ID   int    `json:"id"`
		Name string `json:"name"`
	}
	var items []int

	resp, err := c.Get(context.Background(), "/json")
	require.NoError(t, err)

	require.NoError(t, resp.JSON(&item))
	assert.Equal(t, 7, item.ID)
	assert.Equal(t, "seven", item.Name)
	err = resp.JSON(&items)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "/json")
}

func TestHTTPClientRunTasksPrints(t *testing.T) {
	target := newHTTPTarget(t)
	var client *HTTPClient
	task := &Task{Name: "get", Weight: 1, Fn: func() {
		client.Get(context.Background(), "/ok")
		client.Get(context.Background(), "/fail")
	}}
	cfg := DefaultConfig()
	cfg.RunTasks = []string{"get"}
	b, err := New(WithConfig(cfg), WithTasks(task), WithSignalHandling(false))
	require.NoError(t, err)
	var out bytes.Buffer
	b.stdout = &out
	client = newTestHTTPClient(t, b, WithBaseURL(target.URL))

	require.NoError(t, b.Run(context.Background()))

	assert.Contains(t, out.String(), "success: GET /ok, ")
	assert.Contains(t, out.String(), ", 5 bytes")
	assert.Contains(t, out.String(), "failure: GET /fail, ")
	assert.Contains(t, out.String(), "error: HTTPError('500 Server Error: Internal Server Error for url: /fail')")
	assert.Contains(t, out.String(), "2 request(s) recorded")
}

func TestNewHTTPClientRejectsInvalidOptions(t *testing.T) {
	b := newHTTPTestBoomer(t)
	cases := []struct {
		name string
		opts []HTTPOption
		want []string
	}{
		{"empty base URL", []HTTPOption{WithBaseURL("")}, []string{`""`, "http://"}},
		{"base URL without scheme", []HTTPOption{WithBaseURL("example.com")}, []string{`"example.com"`, "http://"}},
		{"base URL of another scheme", []HTTPOption{WithBaseURL("ftp://example.com")}, []string{`"ftp://example.com"`, "http"}},
		{"base URL without host", []HTTPOption{WithBaseURL("http://")}, []string{`"http://"`}},
		{"base URL with query", []HTTPOption{WithBaseURL("http://example.com/?a=1")}, []string{`"http://example.com/?a=1"`, "query", "http://127.0.0.1:8080"}},
		{"base URL that does not parse", []HTTPOption{WithBaseURL("http://a b")}, []string{`"http://a b"`}},
		{"negative timeout", []HTTPOption{WithTimeout(-time.Second)}, []string{"-1s", "0 for no limit"}},
		{"zero idle connections", []HTTPOption{WithMaxIdleConnsPerHost(0)}, []string{"(0)", "1 or more", "WithKeepAlive(false)"}},
		{"nil transport", []HTTPOption{WithTransport(nil)}, []string{"nil"}},
		{"transport and idle connections", []HTTPOption{WithTransport(http.DefaultTransport), WithMaxIdleConnsPerHost(5)}, []string{"WithTransport"}},
		{"transport and keep-alive", []HTTPOption{WithKeepAlive(false), WithTransport(http.DefaultTransport)}, []string{"WithTransport"}},
		{"empty header name", []HTTPOption{WithHeader("", "v")}, []string{"empty"}},
		{"header name with space", []HTTPOption{WithHeader("X Token", "v")}, []string{`"X Token"`}},
		{"header value with newline", []HTTPOption{WithHeader("X-Token", "a\nb")}, []string{`"X-Token"`, "line breaks"}},
		{"nil option", []HTTPOption{nil}, []string{"nil"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewHTTPClient(b, tc.opts...)

			assert.Nil(t, c)
			require.Error(t, err)
			for _, want := range tc.want {
				assert.Contains(t, err.Error(), want)
			}
		})
	}
}

func TestNewHTTPClientRejectsNilBoomer(t *testing.T) {
	c, err := NewHTTPClient(nil)

	assert.Nil(t, c)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "New")
}

func TestHTTPClientCustomTransport(t *testing.T) {
	target := newHTTPTarget(t)
	b := newHTTPTestBoomer(t)
	var roundTrips atomic.Int64
	transport := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		roundTrips.Add(1)
		return http.DefaultTransport.RoundTrip(req)
	})
	c := newTestHTTPClient(t, b, WithTransport(transport))

	_, err := c.Get(context.Background(), target.URL+"/ok")

	require.NoError(t, err)
	assert.EqualValues(t, 1, roundTrips.Load())
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) {
	return f(req)
}

func TestHTTPErrorText(t *testing.T) {
	local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 54321}
	remote := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}
	reset := errors.New("connection reset by peer")
	cases := []struct {
		name   string
		prefix string
		err    error
		want   string
	}{
		{"plain", "", errors.New("EOF"), "EOF"},
		{"prefix", "read response body: ", io.ErrUnexpectedEOF, "read response body: unexpected EOF"},
		{
			"local port left out",
			"",
			&net.OpError{Op: "read", Net: "tcp", Source: local, Addr: remote, Err: reset},
			"read tcp 127.0.0.1:8080: connection reset by peer",
		},
		{
			"wrapped local port left out",
			"read response body: ",
			fmt.Errorf("wrapped: %w", &net.OpError{Op: "read", Net: "tcp", Source: local, Addr: remote, Err: reset}),
			"read response body: wrapped: read tcp 127.0.0.1:8080: connection reset by peer",
		},
		{"deadline", "", fmt.Errorf("waiting: %w", context.DeadlineExceeded), "timed out: waiting: context deadline exceeded"},
		{"canceled", "", context.Canceled, "context canceled"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, errorText(tc.prefix, tc.err))
		})
	}
}

func TestHTTPURLJoin(t *testing.T) {
	cases := []struct {
		prefix string
		ref    string
		want   string
	}{
		{"http://h", "/a", "http://h/a"},
		{"http://h", "a", "http://h/a"},
		{"http://h", "", "http://h"},
		{"http://h", "?q=1", "http://h?q=1"},
		{"http://h/api", "/a?q=1", "http://h/api/a?q=1"},
	}
	for _, tc := range cases {
		t.Run(tc.prefix+" "+tc.ref, func(t *testing.T) {
			assert.Equal(t, tc.want, joinURL(tc.prefix, tc.ref))
		})
	}
}

func TestHTTPHasScheme(t *testing.T) {
	cases := map[string]bool{
		"http://h/a":    true,
		"HTTPS://h":     true,
		"ftp://h":       true,
		"svn+ssh://h":   true,
		"/a":            false,
		"a":             false,
		"/a?u=http://h": false,
		"://h":          false,
		"1http://h":     false,
	}
	for ref, want := range cases {
		t.Run(ref, func(t *testing.T) {
			assert.Equal(t, want, hasScheme(ref))
		})
	}
}

func TestHTTPClientCheckSkippedWithoutResponse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closedURL := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close())
	b := newHTTPTestBoomer(t)
	c := newTestHTTPClient(t, b)
	checked := false

	_, err = c.Get(context.Background(), closedURL+"/down", Check(func(*Response) error {
		checked = true
		return nil
	}))

	require.Error(t, err)
	assert.False(t, checked)
	row := httpRow(t, b.stats.snapshot(), "GET", "/down")
	assert.EqualValues(t, 1, row.numFailures)
}

func TestHTTPClientCanceledContext(t *testing.T) {
	target := newHTTPTarget(t)
	b := newHTTPTestBoomer(t)
	c := newTestHTTPClient(t, b)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	resp, err := c.Get(ctx, target.URL+"/ok")

	assert.Nil(t, resp)
	assert.ErrorIs(t, err, context.Canceled)
	// A request cancelled through its context, as a stopped user's is, is
	// not recorded at all.
	snap := b.stats.snapshot()
	assert.True(t, snap.empty(), "cancelled request was recorded: %v", snap.sortedKeys())
}

// closeRecorder is a request body that records whether it was closed.
type closeRecorder struct {
	io.Reader
	closed bool
}

func (r *closeRecorder) Close() error {
	r.closed = true
	return nil
}

func TestHTTPClientClosesBodyOnEarlyFailure(t *testing.T) {
	b := newHTTPTestBoomer(t)
	c := newTestHTTPClient(t, b)
	body := &closeRecorder{Reader: strings.NewReader("payload")}

	_, err := c.Post(context.Background(), "/upload", "text/plain", body)

	assert.ErrorIs(t, err, ErrNoBaseURL)
	assert.True(t, body.closed)
}
