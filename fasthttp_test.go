package boomer

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"
)

func newTestFastHTTPClient(t *testing.T, b *Boomer, opts ...HTTPOption) *FastHTTPClient {
	t.Helper()
	c, err := NewFastHTTPClient(b, opts...)
	require.NoError(t, err)
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func TestFastHTTPClientRecordsSuccess(t *testing.T) {
	target := newHTTPTarget(t)
	b := newHTTPTestBoomer(t)
	c := newTestFastHTTPClient(t, b)
	var body string
	var status int

	err := c.Get(context.Background(), target.URL+"/ok", FastCheck(func(resp *fasthttp.Response) error {
		body = string(resp.Body())
		status = resp.StatusCode()
		return nil
	}))

	require.NoError(t, err)
	assert.Equal(t, "hello", body)
	assert.Equal(t, http.StatusOK, status)
	snap := b.stats.snapshot()
	assert.Len(t, snap.requests, 1)
	assert.Empty(t, snap.errors)
	row := httpRow(t, snap, "GET", "/ok")
	assert.EqualValues(t, 1, row.numRequests)
	assert.EqualValues(t, 0, row.numFailures)
	assert.EqualValues(t, 5, row.totalContentLength)
	assert.Positive(t, row.totalResponseTime)
	assert.EqualValues(t, 1, target.requests.Load())
}

func TestFastHTTPClientStatusFailures(t *testing.T) {
	// The texts are those Locust 2.47.0's FastHttpUser records: the repr of
	// its LocustBadStatusCode exception.
	cases := []struct {
		path       string
		wantCode   int
		wantReason string
		wantText   string
	}{
		{"/fail", 500, "Internal Server Error", "LocustBadStatusCode(code=500)"},
		{"/missing", 404, "Not Found", "LocustBadStatusCode(code=404)"},
		{"/odd", 599, "It's Odd", "LocustBadStatusCode(code=599)"},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			target := newHTTPTarget(t)
			b := newHTTPTestBoomer(t)
			c := newTestFastHTTPClient(t, b)

			err := c.Get(context.Background(), target.URL+tc.path)

			var statusErr *StatusError
			require.ErrorAs(t, err, &statusErr)
			assert.Equal(t, tc.wantCode, statusErr.StatusCode)
			assert.Equal(t, tc.wantReason, statusErr.Reason)
			assert.Equal(t, tc.path, statusErr.Name)
			snap := b.stats.snapshot()
			row := httpRow(t, snap, "GET", tc.path)
			assert.EqualValues(t, 1, row.numRequests)
			assert.EqualValues(t, 1, row.numFailures)
			assert.Equal(t, map[string]int64{tc.wantText: 1}, httpErrorTexts(snap, "GET", tc.path))
		})
	}
}

func TestFastHTTPClientStatusErrorUsesName(t *testing.T) {
	target := newHTTPTarget(t)
	b := newHTTPTestBoomer(t)
	c := newTestFastHTTPClient(t, b)

	err := c.Get(context.Background(), target.URL+"/fail?id=3", Name("/fail/[id]"))

	var statusErr *StatusError
	require.ErrorAs(t, err, &statusErr)
	assert.Equal(t, "/fail/[id]", statusErr.Name)
	snap := b.stats.snapshot()
	assert.Equal(t, map[string]int64{"LocustBadStatusCode(code=500)": 1}, httpErrorTexts(snap, "GET", "/fail/[id]"))
}

func TestFastHTTPClientCheckAccepts404(t *testing.T) {
	target := newHTTPTarget(t)
	b := newHTTPTestBoomer(t)
	c := newTestFastHTTPClient(t, b)

	err := c.Get(context.Background(), target.URL+"/missing", FastCheck(func(resp *fasthttp.Response) error {
		if resp.StatusCode() != http.StatusNotFound {
			return fmt.Errorf("status %d, expected 404", resp.StatusCode())
		}
		return nil
	}))

	require.NoError(t, err)
	snap := b.stats.snapshot()
	row := httpRow(t, snap, "GET", "/missing")
	assert.EqualValues(t, 1, row.numRequests)
	assert.EqualValues(t, 0, row.numFailures)
	assert.EqualValues(t, len("no such thing\n"), row.totalContentLength)
	assert.Empty(t, snap.errors)
}

func TestFastHTTPClientCheckFailure(t *testing.T) {
	target := newHTTPTarget(t)
	b := newHTTPTestBoomer(t)
	c := newTestFastHTTPClient(t, b)
	errNoOK := errors.New(`body lacks "ok"`)

	err := c.Get(context.Background(), target.URL+"/ok", FastCheck(func(resp *fasthttp.Response) error {
		if !bytes.Contains(resp.Body(), []byte("ok")) {
			return errNoOK
		}
		return nil
	}))

	assert.ErrorIs(t, err, errNoOK)
	snap := b.stats.snapshot()
	row := httpRow(t, snap, "GET", "/ok")
	assert.EqualValues(t, 1, row.numRequests)
	assert.EqualValues(t, 1, row.numFailures)
	assert.Equal(t, map[string]int64{`body lacks "ok"`: 1}, httpErrorTexts(snap, "GET", "/ok"))
}

func TestFastHTTPClientCheckPanic(t *testing.T) {
	target := newHTTPTarget(t)
	b := newHTTPTestBoomer(t)
	c := newTestFastHTTPClient(t, b)

	err := c.Get(context.Background(), target.URL+"/ok", FastCheck(func(*fasthttp.Response) error {
		panic("boom")
	}))

	var panicErr *CheckPanicError
	require.ErrorAs(t, err, &panicErr)
	assert.Equal(t, "boom", panicErr.Value)
	assert.Contains(t, string(panicErr.Stack), "TestFastHTTPClientCheckPanic")
	snap := b.stats.snapshot()
	row := httpRow(t, snap, "GET", "/ok")
	assert.EqualValues(t, 1, row.numRequests)
	assert.EqualValues(t, 1, row.numFailures)
	assert.Equal(t, map[string]int64{"check panicked: boom": 1}, httpErrorTexts(snap, "GET", "/ok"))
}

func TestFastHTTPClientRejectsCheck(t *testing.T) {
	target := newHTTPTarget(t)
	b := newHTTPTestBoomer(t)
	c := newTestFastHTTPClient(t, b)

	err := c.Get(context.Background(), target.URL+"/ok", Check(func(*Response) error { return nil }))

	assert.ErrorIs(t, err, errCheckOnFastHTTPClient)
	assert.Contains(t, err.Error(), "FastCheck")
	assert.Zero(t, target.requests.Load(), "the request was sent")
	snap := b.stats.snapshot()
	row := httpRow(t, snap, "GET", "/ok")
	assert.EqualValues(t, 1, row.numFailures)
	assert.Zero(t, row.totalResponseTime)
	assert.Equal(t, map[string]int64{errCheckOnFastHTTPClient.Error(): 1}, httpErrorTexts(snap, "GET", "/ok"))
}

func TestHTTPClientRejectsFastCheck(t *testing.T) {
	target := newHTTPTarget(t)
	b := newHTTPTestBoomer(t)
	c := newTestHTTPClient(t, b)

	resp, err := c.Get(context.Background(), target.URL+"/ok", FastCheck(func(*fasthttp.Response) error { return nil }))

	assert.Nil(t, resp)
	assert.ErrorIs(t, err, errFastCheckOnHTTPClient)
	assert.Zero(t, target.requests.Load(), "the request was sent")
	snap := b.stats.snapshot()
	row := httpRow(t, snap, "GET", "/ok")
	assert.EqualValues(t, 1, row.numFailures)
	assert.Equal(t, map[string]int64{errFastCheckOnHTTPClient.Error(): 1}, httpErrorTexts(snap, "GET", "/ok"))
}

func TestFastHTTPClientConnectionRefused(t *testing.T) {
	b := newHTTPTestBoomer(t)
	c := newTestFastHTTPClient(t, b)
	checked := false

	err := c.Get(context.Background(), closedPortURL(t)+"?x=1", FastCheck(func(*fasthttp.Response) error {
		checked = true
		return nil
	}))

	require.Error(t, err)
	assert.False(t, checked, "the check ran without a response")
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

func TestFastHTTPClientTimeout(t *testing.T) {
	target := newHTTPTarget(t)
	b := newHTTPTestBoomer(t)
	c := newTestFastHTTPClient(t, b, WithTimeout(50*time.Millisecond))

	err := c.Get(context.Background(), target.URL+"/block")

	assert.ErrorIs(t, err, fasthttp.ErrTimeout)
	assert.NotErrorIs(t, err, context.DeadlineExceeded)
	snap := b.stats.snapshot()
	row := httpRow(t, snap, "GET", "/block")
	assert.EqualValues(t, 1, row.numRequests)
	assert.EqualValues(t, 1, row.numFailures)
	texts := httpErrorTexts(snap, "GET", "/block")
	require.Len(t, texts, 1)
	for text := range texts {
		assert.True(t, strings.HasPrefix(text, "timed out: "), "failure text %q", text)
	}
	// The timeout is no reason to send the request again.
	assert.EqualValues(t, 1, target.requests.Load())
}

func TestFastHTTPClientContextDeadline(t *testing.T) {
	target := newHTTPTarget(t)
	b := newHTTPTestBoomer(t)
	c := newTestFastHTTPClient(t, b)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()

	err := c.Get(ctx, target.URL+"/block")

	assert.ErrorIs(t, err, fasthttp.ErrTimeout)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	snap := b.stats.snapshot()
	row := httpRow(t, snap, "GET", "/block")
	assert.EqualValues(t, 1, row.numRequests)
	assert.EqualValues(t, 1, row.numFailures)
	assert.Positive(t, row.totalResponseTime)
	for text := range httpErrorTexts(snap, "GET", "/block") {
		assert.True(t, strings.HasPrefix(text, "timed out: "), "failure text %q", text)
	}
}

func TestFastHTTPClientExpiredContext(t *testing.T) {
	target := newHTTPTarget(t)
	b := newHTTPTestBoomer(t)
	c := newTestFastHTTPClient(t, b)
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()

	err := c.Get(ctx, target.URL+"/ok")

	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Zero(t, target.requests.Load(), "the request was sent")
	snap := b.stats.snapshot()
	row := httpRow(t, snap, "GET", "/ok")
	assert.EqualValues(t, 1, row.numFailures)
	assert.Zero(t, row.totalResponseTime)
	assert.Equal(t, map[string]int64{"timed out: context deadline exceeded": 1}, httpErrorTexts(snap, "GET", "/ok"))
}

func TestFastHTTPClientCanceledContext(t *testing.T) {
	target := newHTTPTarget(t)
	b := newHTTPTestBoomer(t)
	c := newTestFastHTTPClient(t, b)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	err := c.Get(ctx, target.URL+"/ok")

	assert.ErrorIs(t, err, context.Canceled)
	assert.Zero(t, target.requests.Load(), "the request was sent")
	// A request whose context is cancelled before it is sent, as a stopped
	// user's is, is not recorded at all.
	snap := b.stats.snapshot()
	assert.True(t, snap.empty(), "cancelled request was recorded: %v", snap.sortedKeys())
}

func TestFastHTTPClientCancelInFlight(t *testing.T) {
	arrived := make(chan struct{})
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-release
		io.WriteString(w, "late")
	}))
	t.Cleanup(srv.Close)
	b := newHTTPTestBoomer(t)
	c := newTestFastHTTPClient(t, b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	done := make(chan error, 1)
	go func() { done <- c.Get(ctx, srv.URL+"/slow") }()
	<-arrived
	cancel()
	close(release)
	err := <-done

	// fasthttp cannot interrupt the request, so it completes and is
	// recorded like any other: the server counted it.
	require.NoError(t, err)
	row := httpRow(t, b.stats.snapshot(), "GET", "/slow")
	assert.EqualValues(t, 1, row.numRequests)
	assert.EqualValues(t, 0, row.numFailures)
	assert.EqualValues(t, 4, row.totalContentLength)
}

func TestFastHTTPClientBodyReadError(t *testing.T) {
	target := newHTTPTarget(t)
	b := newHTTPTestBoomer(t)
	c := newTestFastHTTPClient(t, b)

	err := c.Get(context.Background(), target.URL+"/short")

	require.Error(t, err)
	snap := b.stats.snapshot()
	row := httpRow(t, snap, "GET", "/short")
	assert.EqualValues(t, 1, row.numRequests)
	assert.EqualValues(t, 1, row.numFailures)
	assert.Len(t, httpErrorTexts(snap, "GET", "/short"), 1)
	// A response cut short is no stale connection, so it is not sent again.
	assert.EqualValues(t, 1, target.requests.Load())
}

func TestFastHTTPClientNameGroupsURLs(t *testing.T) {
	target := newHTTPTarget(t)
	b := newHTTPTestBoomer(t)
	c := newTestFastHTTPClient(t, b)

	for _, id := range []string{"1", "2"} {
		var body string
		err := c.Get(context.Background(), target.URL+"/item/"+id, Name("/item/[id]"), FastCheck(func(resp *fasthttp.Response) error {
			body = string(resp.Body())
			return nil
		}))
		require.NoError(t, err)
		assert.Equal(t, "item "+id, body)
	}

	snap := b.stats.snapshot()
	assert.Len(t, snap.requests, 1)
	row := httpRow(t, snap, "GET", "/item/[id]")
	assert.EqualValues(t, 2, row.numRequests)
	assert.EqualValues(t, 0, row.numFailures)
}

// storeBody returns a FastCheck option that stores the response body in dst.
func storeBody(dst *string) RequestOption {
	return FastCheck(func(resp *fasthttp.Response) error {
		*dst = string(resp.Body())
		return nil
	})
}

func TestFastHTTPClientBaseURL(t *testing.T) {
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
			c := newTestFastHTTPClient(t, b, WithBaseURL(tc.base))
			var body string

			err := c.Get(context.Background(), tc.ref, storeBody(&body))

			require.NoError(t, err)
			assert.Equal(t, "GET "+tc.wantURI+" ||", body)
			row := httpRow(t, b.stats.snapshot(), "GET", tc.wantName)
			assert.EqualValues(t, 1, row.numRequests)
		})
	}
}

func TestFastHTTPClientSendsPathAsWritten(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.RequestURI)
	}))
	t.Cleanup(srv.Close)
	cases := []struct {
		base     string
		ref      string
		wantURI  string
		wantName string
	}{
		{"", srv.URL, "/", "/"},
		{"", srv.URL + "?q=1", "/?q=1", "/"},
		{srv.URL, "", "/", "/"},
		{srv.URL, "?q=1", "/?q=1", "/"},
		{"", srv.URL + "/a//b/./c", "/a//b/./c", "/a//b/./c"},
		{srv.URL, "/a%2Fb?q=%20", "/a%2Fb?q=%20", "/a%2Fb"},
	}
	for _, tc := range cases {
		t.Run(tc.base+" "+tc.ref, func(t *testing.T) {
			b := newHTTPTestBoomer(t)
			var opts []HTTPOption
			if tc.base != "" {
				opts = append(opts, WithBaseURL(tc.base))
			}
			c := newTestFastHTTPClient(t, b, opts...)
			var body string

			err := c.Get(context.Background(), tc.ref, storeBody(&body))

			require.NoError(t, err)
			assert.Equal(t, tc.wantURI, body)
			row := httpRow(t, b.stats.snapshot(), "GET", tc.wantName)
			assert.EqualValues(t, 1, row.numRequests)
		})
	}
}

func TestFastHTTPClientMasterHost(t *testing.T) {
	first := newHTTPTarget(t)
	second := newHTTPTarget(t)
	b := newHTTPTestBoomer(t)
	c := newTestFastHTTPClient(t, b)

	b.test.Store(&TestInfo{Host: first.URL})
	require.NoError(t, c.Get(context.Background(), "/ok"))
	b.test.Store(&TestInfo{Host: second.URL + "/"})
	require.NoError(t, c.Get(context.Background(), "/ok"))
	require.NoError(t, c.Get(context.Background(), "/ok"))

	assert.EqualValues(t, 1, first.requests.Load())
	assert.EqualValues(t, 2, second.requests.Load())
	row := httpRow(t, b.stats.snapshot(), "GET", "/ok")
	assert.EqualValues(t, 3, row.numRequests)
	assert.EqualValues(t, 0, row.numFailures)
}

func TestFastHTTPClientNoBaseURL(t *testing.T) {
	b := newHTTPTestBoomer(t)
	c := newTestFastHTTPClient(t, b)

	err := c.Get(context.Background(), "/ok?x=1")

	assert.ErrorIs(t, err, ErrNoBaseURL)
	assert.Contains(t, err.Error(), `"/ok?x=1"`)
	snap := b.stats.snapshot()
	row := httpRow(t, snap, "GET", "/ok")
	assert.EqualValues(t, 1, row.numRequests)
	assert.EqualValues(t, 1, row.numFailures)
	assert.Zero(t, row.totalResponseTime)
	assert.Equal(t, map[string]int64{ErrNoBaseURL.Error(): 1}, httpErrorTexts(snap, "GET", "/ok"))
}

func TestFastHTTPClientInvalidMasterHost(t *testing.T) {
	b := newHTTPTestBoomer(t)
	c := newTestFastHTTPClient(t, b)
	b.test.Store(&TestInfo{Host: "example.com"})

	err := c.Get(context.Background(), "/ok")

	require.Error(t, err)
	assert.Contains(t, err.Error(), `"example.com"`)
	assert.Contains(t, err.Error(), "--host")
	row := httpRow(t, b.stats.snapshot(), "GET", "/ok")
	assert.EqualValues(t, 1, row.numFailures)
}

func TestFastHTTPClientHeaders(t *testing.T) {
	target := newHTTPTarget(t)
	b := newHTTPTestBoomer(t)
	c := newTestFastHTTPClient(t, b, WithBaseURL(target.URL), WithHeader("X-Token", "default"))
	ctx := context.Background()
	var body string

	require.NoError(t, c.Get(ctx, "/echo", storeBody(&body)))
	assert.Equal(t, "GET /echo |default|", body)

	require.NoError(t, c.Get(ctx, "/echo", Header("X-Token", "per-request"), storeBody(&body)))
	assert.Equal(t, "GET /echo |per-request|", body)

	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(target.URL + "/echo")
	req.Header.Set("X-Token", "own")
	require.NoError(t, c.Do(ctx, req, resp))
	assert.Equal(t, "GET /echo |own|", string(resp.Body()))
}

func TestFastHTTPClientInvalidRequestHeader(t *testing.T) {
	target := newHTTPTarget(t)
	b := newHTTPTestBoomer(t)
	c := newTestFastHTTPClient(t, b)

	err := c.Get(context.Background(), target.URL+"/ok", Header("X-Token", "a\r\nInjected: yes"))

	require.Error(t, err)
	assert.Contains(t, err.Error(), "X-Token")
	assert.Zero(t, target.requests.Load(), "the request was sent")
	row := httpRow(t, b.stats.snapshot(), "GET", "/ok")
	assert.EqualValues(t, 1, row.numFailures)
	assert.Zero(t, row.totalResponseTime)
}

func TestFastHTTPClientPost(t *testing.T) {
	target := newHTTPTarget(t)
	b := newHTTPTestBoomer(t)
	c := newTestFastHTTPClient(t, b, WithBaseURL(target.URL))
	var body string

	err := c.Post(context.Background(), "/echo", "text/plain", []byte("payload"), storeBody(&body))

	require.NoError(t, err)
	assert.Equal(t, "POST /echo text/plain||payload", body)
	row := httpRow(t, b.stats.snapshot(), "POST", "/echo")
	assert.EqualValues(t, 1, row.numRequests)
	assert.EqualValues(t, len(body), row.totalContentLength)
}

func TestFastHTTPClientRequestMethod(t *testing.T) {
	target := newHTTPTarget(t)
	b := newHTTPTestBoomer(t)
	c := newTestFastHTTPClient(t, b, WithBaseURL(target.URL))
	var body string

	err := c.Request(context.Background(), http.MethodPut, "/echo", []byte("x"), storeBody(&body))

	require.NoError(t, err)
	assert.Equal(t, "PUT /echo ||x", body)
	row := httpRow(t, b.stats.snapshot(), "PUT", "/echo")
	assert.EqualValues(t, 1, row.numRequests)
}

func TestFastHTTPClientDo(t *testing.T) {
	target := newHTTPTarget(t)
	b := newHTTPTestBoomer(t)
	c := newTestFastHTTPClient(t, b, WithBaseURL(target.URL), WithHeader("X-Token", "default"))
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(http.MethodDelete)
	req.SetRequestURI("/echo?id=4")

	err := c.Do(context.Background(), req, resp, Name("/echo/[id]"))

	require.NoError(t, err)
	assert.Equal(t, "DELETE /echo?id=4 |default|", string(resp.Body()))
	assert.Equal(t, target.URL+"/echo?id=4", req.URI().String(), "Do leaves the resolved URL in req")
	row := httpRow(t, b.stats.snapshot(), "DELETE", "/echo/[id]")
	assert.EqualValues(t, 1, row.numRequests)

	// Sent again, the request goes to the same URL.
	require.NoError(t, c.Do(context.Background(), req, nil))
	row = httpRow(t, b.stats.snapshot(), "DELETE", "/echo")
	assert.EqualValues(t, 1, row.numRequests)
	assert.EqualValues(t, 2, target.requests.Load())
}

func TestFastHTTPClientDoNilRequest(t *testing.T) {
	b := newHTTPTestBoomer(t)
	c := newTestFastHTTPClient(t, b)

	err := c.Do(context.Background(), nil, nil)

	require.Error(t, err)
	assert.Contains(t, err.Error(), "AcquireRequest")
	assert.True(t, b.stats.snapshot().empty())
}

func TestFastHTTPClientReusesConnection(t *testing.T) {
	target := newHTTPTarget(t)
	b := newHTTPTestBoomer(t)
	c := newTestFastHTTPClient(t, b)

	for i := 0; i < 100; i++ {
		require.NoError(t, c.Get(context.Background(), target.URL+"/ok"))
	}

	assert.EqualValues(t, 100, target.requests.Load())
	assert.EqualValues(t, 1, target.connections.Load())
}

func TestFastHTTPClientKeepAliveOff(t *testing.T) {
	target := newHTTPTarget(t)
	b := newHTTPTestBoomer(t)
	c := newTestFastHTTPClient(t, b, WithKeepAlive(false))

	for i := 0; i < 3; i++ {
		require.NoError(t, c.Get(context.Background(), target.URL+"/ok"))
	}

	assert.EqualValues(t, 3, target.connections.Load())
	row := httpRow(t, b.stats.snapshot(), "GET", "/ok")
	assert.EqualValues(t, 3, row.numRequests)
	assert.EqualValues(t, 0, row.numFailures)
}

func TestFastHTTPClientMaxConnsPerHost(t *testing.T) {
	const users, requestsPerUser = 8, 20
	target := newHTTPTarget(t)
	b := newHTTPTestBoomer(t)
	c := newTestFastHTTPClient(t, b, WithBaseURL(target.URL), WithMaxConnsPerHost(1))

	var wg sync.WaitGroup
	var errorCount atomic.Int64
	for u := 0; u < users; u++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < requestsPerUser; i++ {
				if err := c.Get(context.Background(), "/ok"); err != nil {
					errorCount.Add(1)
				}
			}
		}()
	}
	wg.Wait()

	// Users wait for the one connection instead of failing.
	assert.Zero(t, errorCount.Load())
	assert.EqualValues(t, 1, target.connections.Load())
	assert.EqualValues(t, users*requestsPerUser, target.requests.Load())
}

func TestFastHTTPClientConcurrentUsers(t *testing.T) {
	const users, requestsPerUser = 50, 100
	target := newHTTPTarget(t)
	b := newHTTPTestBoomer(t)
	c := newTestFastHTTPClient(t, b, WithBaseURL(target.URL))

	var wg sync.WaitGroup
	var errorCount atomic.Int64
	for u := 0; u < users; u++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < requestsPerUser; i++ {
				if err := c.Get(context.Background(), "/item/"+fmt.Sprint(i), Name("/item/[id]")); err != nil {
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

// newRedirectTarget returns a server whose /to-echo redirects with the
// status in the query (?status=303) to /echo, and whose /loop redirects to
// itself.
func newRedirectTarget(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var requests atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/to-echo", func(w http.ResponseWriter, r *http.Request) {
		status := http.StatusFound
		fmt.Sscan(r.URL.Query().Get("status"), &status)
		http.Redirect(w, r, "/echo", status)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop", http.StatusFound)
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %s|%s", r.Method, r.URL.RequestURI(), r.Header.Get("Content-Type"), body)
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &requests
}

func TestFastHTTPClientFollowsRedirects(t *testing.T) {
	cases := []struct {
		name     string
		method   string
		status   int
		wantBody string
	}{
		{"GET after 302", http.MethodGet, http.StatusFound, "GET /echo |"},
		{"POST after 303 becomes GET", http.MethodPost, http.StatusSeeOther, "GET /echo |"},
		{"POST after 302 becomes GET", http.MethodPost, http.StatusFound, "GET /echo |"},
		{"POST after 307 stays POST", http.MethodPost, http.StatusTemporaryRedirect, "POST /echo text/plain|payload"},
		{"PUT after 308 stays PUT", http.MethodPut, http.StatusPermanentRedirect, "PUT /echo text/plain|payload"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, requests := newRedirectTarget(t)
			b := newHTTPTestBoomer(t)
			c := newTestFastHTTPClient(t, b, WithBaseURL(srv.URL))
			var body string

			err := c.Request(context.Background(), tc.method, fmt.Sprintf("/to-echo?status=%d", tc.status), []byte("payload"),
				Header("Content-Type", "text/plain"), storeBody(&body))

			require.NoError(t, err)
			assert.Equal(t, tc.wantBody, body)
			assert.EqualValues(t, 2, requests.Load())
			// One request in the statistics, under the first URL.
			snap := b.stats.snapshot()
			assert.Len(t, snap.requests, 1)
			row := httpRow(t, snap, tc.method, "/to-echo")
			assert.EqualValues(t, 1, row.numRequests)
			assert.EqualValues(t, 0, row.numFailures)
		})
	}
}

func TestFastHTTPClientTooManyRedirects(t *testing.T) {
	srv, requests := newRedirectTarget(t)
	b := newHTTPTestBoomer(t)
	c := newTestFastHTTPClient(t, b, WithBaseURL(srv.URL))

	err := c.Get(context.Background(), "/loop")

	assert.ErrorIs(t, err, errTooManyRedirects)
	assert.EqualValues(t, maxRedirects+1, requests.Load())
	snap := b.stats.snapshot()
	assert.Equal(t, map[string]int64{"stopped after 10 redirects": 1}, httpErrorTexts(snap, "GET", "/loop"))
}

func TestFastHTTPClientRedirectDropsCredentials(t *testing.T) {
	other := newHTTPTarget(t)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/echo", http.StatusFound)
	}))
	t.Cleanup(origin.Close)
	var authorization, cookie string
	otherMux := other.Config.Handler
	other.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		authorization, cookie = r.Header.Get("Authorization"), r.Header.Get("Cookie")
		otherMux.ServeHTTP(w, r)
	})
	b := newHTTPTestBoomer(t)
	c := newTestFastHTTPClient(t, b, WithHeader("Authorization", "Bearer secret"))

	err := c.Get(context.Background(), origin.URL+"/go", Header("Cookie", "session=1"))

	require.NoError(t, err)
	assert.EqualValues(t, 1, other.requests.Load())
	assert.Empty(t, authorization, "Authorization sent to another host")
	assert.Empty(t, cookie, "Cookie sent to another host")
}

// staleConnectionServer accepts connections on 127.0.0.1 and responds to one
// request per connection with a keep-alive response, then closes the
// connection, as a server whose idle timeout ran out does. It returns the
// base URL and the counts of connections and requests.
func staleConnectionServer(t *testing.T) (string, *atomic.Int64, *atomic.Int64) {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { listener.Close() })
	var connections, requests atomic.Int64
	go func() {
		for {
			conn, err := listener.Accept()
			if err != nil {
				return
			}
			connections.Add(1)
			go func() {
				defer conn.Close()
				req, err := http.ReadRequest(bufio.NewReader(conn))
				if err != nil {
					return
				}
				io.Copy(io.Discard, req.Body)
				requests.Add(1)
				io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			}()
		}
	}()
	return "http://" + listener.Addr().String(), &connections, &requests
}

func TestFastHTTPClientRetriesStaleConnection(t *testing.T) {
	base, connections, requests := staleConnectionServer(t)
	b := newHTTPTestBoomer(t)
	c := newTestFastHTTPClient(t, b, WithBaseURL(base))

	for i := 0; i < 3; i++ {
		require.NoError(t, c.Get(context.Background(), "/idem"), "GET %d", i+1)
	}

	// Each GET after the first found its kept-alive connection closed and
	// was sent again on a new one.
	assert.EqualValues(t, 3, requests.Load())
	assert.EqualValues(t, 3, connections.Load())
	row := httpRow(t, b.stats.snapshot(), "GET", "/idem")
	assert.EqualValues(t, 3, row.numRequests)
	assert.EqualValues(t, 0, row.numFailures)
}

func TestFastHTTPClientDoesNotRetryPost(t *testing.T) {
	base, _, requests := staleConnectionServer(t)
	b := newHTTPTestBoomer(t)
	c := newTestFastHTTPClient(t, b, WithBaseURL(base))

	require.NoError(t, c.Post(context.Background(), "/once", "text/plain", []byte("a")))
	err := c.Post(context.Background(), "/once", "text/plain", []byte("b"))

	// A POST is not sent twice, because the server may have handled it.
	require.Error(t, err)
	assert.EqualValues(t, 1, requests.Load())
	row := httpRow(t, b.stats.snapshot(), "POST", "/once")
	assert.EqualValues(t, 2, row.numRequests)
	assert.EqualValues(t, 1, row.numFailures)
}

func TestFastHTTPClientIPv6Loopback(t *testing.T) {
	listener, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback on this machine: %v", err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "six")
	}))
	srv.Listener = listener
	srv.Start()
	t.Cleanup(srv.Close)
	b := newHTTPTestBoomer(t)
	c := newTestFastHTTPClient(t, b)
	var body string

	err = c.Get(context.Background(), srv.URL+"/v6", storeBody(&body))

	require.NoError(t, err)
	assert.Equal(t, "six", body)
}

func TestFastHTTPRequestNameMatchesHTTPClient(t *testing.T) {
	urls := []string{
		"http://h",
		"http://h/",
		"http://h?q=1",
		"http://h#frag",
		"http://h:8080/a/b?q=1#f",
		"https://user:pw@h/a",
		"http://[::1]:80/v6",
		"http://h/a%20b",
		"http://h/a b",
		"http://h/caf\u00e9",
		"http://h/a;b=c,d:e@f",
		"http://h/%zz",
		"/a/b?u=http://x/y",
		"/",
		"/a%2Fb",
	}
	for _, rawURL := range urls {
		t.Run(rawURL, func(t *testing.T) {
			assert.Equal(t, pathOf(rawURL), requestNameOf(rawURL))
		})
	}
}

func TestNewFastHTTPClientRejectsInvalidOptions(t *testing.T) {
	b := newHTTPTestBoomer(t)
	cases := []struct {
		name string
		opts []HTTPOption
		want []string
	}{
		{"transport", []HTTPOption{WithTransport(http.DefaultTransport)}, []string{"WithTransport", "NewHTTPClient"}},
		{"idle connections", []HTTPOption{WithMaxIdleConnsPerHost(5)}, []string{"WithMaxIdleConnsPerHost", "WithMaxConnsPerHost"}},
		{"zero connections", []HTTPOption{WithMaxConnsPerHost(0)}, []string{"(0)", "1 or more"}},
		{"base URL without scheme", []HTTPOption{WithBaseURL("example.com")}, []string{`"example.com"`, "http://"}},
		{"negative timeout", []HTTPOption{WithTimeout(-time.Second)}, []string{"-1s"}},
		{"header value with newline", []HTTPOption{WithHeader("X-Token", "a\nb")}, []string{`"X-Token"`, "line breaks"}},
		{"nil option", []HTTPOption{nil}, []string{"nil"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewFastHTTPClient(b, tc.opts...)

			assert.Nil(t, c)
			require.Error(t, err)
			for _, want := range tc.want {
				assert.Contains(t, err.Error(), want)
			}
		})
	}
}

func TestNewFastHTTPClientRejectsNilBoomer(t *testing.T) {
	c, err := NewFastHTTPClient(nil)

	assert.Nil(t, c)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "New")
}

func TestHTTPClientMaxConnsPerHost(t *testing.T) {
	const users, requestsPerUser = 8, 20
	target := newHTTPTarget(t)
	b := newHTTPTestBoomer(t)
	c := newTestHTTPClient(t, b, WithBaseURL(target.URL), WithMaxConnsPerHost(1))

	var wg sync.WaitGroup
	var errorCount atomic.Int64
	for u := 0; u < users; u++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < requestsPerUser; i++ {
				if _, err := c.Get(context.Background(), "/ok"); err != nil {
					errorCount.Add(1)
				}
			}
		}()
	}
	wg.Wait()

	assert.Zero(t, errorCount.Load())
	assert.EqualValues(t, 1, target.connections.Load())
	assert.EqualValues(t, users*requestsPerUser, target.requests.Load())
}

func TestNewHTTPClientRejectsMaxConnsWithTransport(t *testing.T) {
	b := newHTTPTestBoomer(t)

	c, err := NewHTTPClient(b, WithTransport(http.DefaultTransport), WithMaxConnsPerHost(2))

	assert.Nil(t, c)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "WithMaxConnsPerHost")
}

// rawResponseServer responds to every request on 127.0.0.1 with the bytes that
// respond returns for the n-th request, then closes the connection.
func rawResponseServer(t *testing.T, respond func(n int64) string) string {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { listener.Close() })
	var requests atomic.Int64
	go func() {
		for {
			conn, err := listener.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				if _, err := http.ReadRequest(bufio.NewReader(conn)); err != nil {
					return
				}
				io.WriteString(conn, respond(requests.Add(1)))
			}()
		}
	}()
	return "http://" + listener.Addr().String()
}

func TestFastHTTPClientLargeHeadersKeepResponseOut(t *testing.T) {
	// A cookie that differs per request and makes the headers exceed the
	// client's 16 KiB read buffer.
	url := rawResponseServer(t, func(n int64) string {
		return fmt.Sprintf("HTTP/1.1 200 OK\r\nSet-Cookie: session=secret-%d; %s\r\nContent-Length: 2\r\n\r\nok",
			n, strings.Repeat("x", 17000))
	})
	b := newHTTPTestBoomer(t)
	c := newTestFastHTTPClient(t, b)

	for i := 0; i < 3; i++ {
		require.Error(t, c.Get(context.Background(), url+"/big"))
	}

	snap := b.stats.snapshot()
	row := httpRow(t, snap, "GET", "/big")
	assert.EqualValues(t, 3, row.numFailures)
	texts := httpErrorTexts(snap, "GET", "/big")
	require.Len(t, texts, 1, "one failure row for every cookie value")
	for text, occurrences := range texts {
		assert.EqualValues(t, 3, occurrences)
		assert.NotContains(t, text, "secret")
		assert.Contains(t, text, "response headers larger than 16 KiB")
	}
}

func TestFastHTTPClientMalformedResponseKeepsBytesOut(t *testing.T) {
	url := rawResponseServer(t, func(n int64) string {
		return fmt.Sprintf("NOT HTTP token-%d\r\n\r\n", n)
	})
	b := newHTTPTestBoomer(t)
	c := newTestFastHTTPClient(t, b)

	for i := 0; i < 2; i++ {
		require.Error(t, c.Get(context.Background(), url+"/garbage"))
	}

	snap := b.stats.snapshot()
	texts := httpErrorTexts(snap, "GET", "/garbage")
	require.Len(t, texts, 1, "one failure row for both responses")
	for text := range texts {
		assert.NotContains(t, text, "token-")
	}
}

func TestFastHTTPClientRejectsInvalidURLs(t *testing.T) {
	target := newHTTPTarget(t)
	cases := []struct {
		url  string
		want string
	}{
		{"http://", "no host"},
		{"http://[::1", "missing ']' in host"},
		{target.URL + "/bad%zz", `invalid URL escape "%zz"`},
		{"/relative%zz", `invalid URL escape "%zz"`},
	}
	for _, tc := range cases {
		t.Run(tc.url, func(t *testing.T) {
			b := newHTTPTestBoomer(t)
			c := newTestFastHTTPClient(t, b, WithBaseURL(target.URL))
			before := target.requests.Load()

			err := c.Get(context.Background(), tc.url)

			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Equal(t, before, target.requests.Load(), "nothing is sent")
			snap := b.stats.snapshot()
			require.Len(t, snap.errors, 1, "the failure is recorded once")
			for key, e := range snap.errors {
				assert.Contains(t, key.text, tc.want)
				assert.EqualValues(t, 1, e.occurrences)
			}
		})
	}
}
