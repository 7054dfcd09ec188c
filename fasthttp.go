package boomer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// DefaultMaxConnsPerHost is FastHTTPClient's default limit of connections
// per host, high enough that every user of a worker keeps a connection of
// its own.
const DefaultMaxConnsPerHost = 10000

const (
	// maxRedirects is how many redirects a request follows, the limit that
	// net/http applies for HTTPClient.
	maxRedirects = 10
	// fastReadBufferSize is the read buffer of each request in flight, which
	// also caps the size of a response's header section. fasthttp's default
	// of 4 KiB rejects the large Set-Cookie and security headers that some
	// sites send.
	fastReadBufferSize = 16 << 10
)

var (
	errCheckOnFastHTTPClient = errors.New("Check takes the *Response of HTTPClient; use FastCheck with FastHTTPClient")
	errFastCheckOnHTTPClient = errors.New("FastCheck applies to FastHTTPClient only; use Check with HTTPClient")
	errTooManyRedirects      = fmt.Errorf("stopped after %d redirects", maxRedirects)
)

// FastHTTPClient sends HTTP/1.1 requests with github.com/valyala/fasthttp and
// records each one in a Boomer, the way the client of Locust's FastHttpUser
// does. It is HTTPClient's counterpart for workers that need the most
// requests per CPU-second: requests and responses come from pools, and a
// request without request options allocates nothing in the client. In
// exchange it lacks some of net/http's features: HTTP/2, proxies from the
// environment, transparent gzip, and cancelling a request in flight (see
// Request).
//
// It keeps connections open and reuses them, and it follows redirects (at
// most 10). Response headers larger than 16 KiB make the request fail.
//
// One FastHTTPClient is safe for concurrent use by any number of users, and
// sharing one is the intended use, because users then share its connection
// pool. It keeps no cookies.
type FastHTTPClient struct {
	urlResolver
	client    *fasthttp.Client
	headers   []fastHeader
	timeout   time.Duration
	keepAlive bool
}

// fastHeader is a default header from WithHeader.
type fastHeader struct {
	key   string
	value string
}

// NewFastHTTPClient returns a client that records its requests in b. It takes
// the options of NewHTTPClient except WithTransport and
// WithMaxIdleConnsPerHost, which configure net/http, and it validates every
// option before it returns. The timeout defaults to DefaultHTTPTimeout and the
// connection limit to DefaultMaxConnsPerHost.
func NewFastHTTPClient(b *Boomer, opts ...HTTPOption) (*FastHTTPClient, error) {
	if b == nil {
		return nil, errors.New("NewFastHTTPClient: the Boomer is nil; pass the *Boomer returned by New")
	}
	cfg := httpConfig{
		timeout:         DefaultHTTPTimeout,
		maxConnsPerHost: DefaultMaxConnsPerHost,
		keepAlive:       true,
	}
	for _, opt := range opts {
		if opt == nil {
			return nil, errors.New("NewFastHTTPClient: an option is nil; pass options built by the With functions")
		}
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	if cfg.transport != nil {
		return nil, errors.New("NewFastHTTPClient: WithTransport sets a net/http RoundTripper, which FastHTTPClient does not use; leave it out, or use NewHTTPClient")
	}
	if cfg.maxIdleSet {
		return nil, errors.New("NewFastHTTPClient: WithMaxIdleConnsPerHost configures HTTPClient only, because FastHTTPClient keeps every connection it opened for reuse; use WithMaxConnsPerHost to limit them")
	}

	// A request that finds every connection in use waits for one until its
	// deadline. Without a timeout the wait has no limit either.
	connWait := cfg.timeout
	if connWait == 0 {
		connWait = math.MaxInt64
	}
	client := &fasthttp.Client{
		MaxConnsPerHost:    cfg.maxConnsPerHost,
		MaxConnWaitTimeout: connWait,
		ReadBufferSize:     fastReadBufferSize,
		// Dial IPv6 addresses too, such as http://[::1]:8080.
		DialDualStack: true,
		// Send the path as the caller wrote it, as net/http does.
		DisablePathNormalizing:    true,
		MaxIdemponentCallAttempts: 2,
		RetryIfErr:                retryOnStaleConnection,
		// Keep the response's bytes out of fasthttp's parse errors, which
		// become failure texts: a header that differs per request, such as
		// a cookie, would make a failure row per request and put the
		// cookie into the master's reports.
		ConfigureClient: func(hc *fasthttp.HostClient) error {
			hc.SecureErrorLogMessage = true
			return nil
		},
	}

	headers := make([]fastHeader, 0, len(cfg.headers))
	for key, values := range cfg.headers {
		headers = append(headers, fastHeader{key: key, value: values[0]})
	}
	return &FastHTTPClient{
		urlResolver: urlResolver{b: b, base: cfg.baseURL},
		client:      client,
		headers:     headers,
		timeout:     cfg.timeout,
		keepAlive:   cfg.keepAlive,
	}, nil
}

// retryOnStaleConnection lets fasthttp send a GET, HEAD or PUT request once
// more when its connection broke before a response arrived. That is what a
// kept-alive connection does when the server closed it while it was idle.
// Other failures are recorded as they are, because Locust's FastHttpUser
// does not retry either.
//
// NOTE: a server that closes or resets the connection after it handled the
// request gets the request twice, and the worker records it once.
func retryOnStaleConnection(req *fasthttp.Request, attempts int, err error) (resetTimeout, retry bool) {
	if !req.Header.IsGet() && !req.Header.IsHead() && !req.Header.IsPut() {
		return false, false
	}
	stale := errors.Is(err, io.EOF) || errors.Is(err, fasthttp.ErrConnectionClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
	return false, stale
}

// CloseIdleConnections closes the connections that no request is using.
func (c *FastHTTPClient) CloseIdleConnections() {
	c.client.CloseIdleConnections()
}

// FastCheck makes check decide whether a FastHTTPClient request succeeded, in
// place of the status rule, as Check does for HTTPClient. It runs after the
// whole body is read, and only when a response arrived. A nil error records a
// success, even for a status of 400 or more. An error records a failure with
// the error's text, and the request method returns that error. A check that
// panics records a failure with the text "check panicked: <value>", and the
// request method returns a *CheckPanicError. The check's run time is not part
// of the response time.
//
// resp is valid only until check returns, because Get, Post and Request put
// it back into fasthttp's pool afterwards. Copy what you keep, for example
// with string(resp.Body()). resp.Body() is the body as it arrived: the client
// asks for no compression and decompresses nothing. Use
// resp.BodyUncompressed() when a request sets Accept-Encoding.
func FastCheck(check func(resp *fasthttp.Response) error) RequestOption {
	return func(c *requestConfig) {
		c.fastCheck = check
	}
}

// Get sends a GET request; see Request.
func (c *FastHTTPClient) Get(ctx context.Context, rawURL string, opts ...RequestOption) error {
	return c.request(ctx, fasthttp.MethodGet, rawURL, "", nil, opts)
}

// Post sends a POST request with the given Content-Type (left out when
// empty) and body; see Request.
func (c *FastHTTPClient) Post(ctx context.Context, rawURL, contentType string, body []byte, opts ...RequestOption) error {
	return c.request(ctx, fasthttp.MethodPost, rawURL, contentType, body, opts)
}

// Request sends a request, reads the whole response, and records the request
// exactly once in the client's Boomer. It is safe for concurrent use. The
// client reads body only during the call and keeps no reference to it.
//
// rawURL is absolute ("http://host/path") or relative to the base URL
// ("/path"), as in HTTPClient.Request. The request's row in the statistics
// has the method as its type and, as its name, the URL path without the
// query string, or the name given with Name. Header and Name work as with
// HTTPClient. FastCheck takes the place of Check, which makes the request
// fail before it is sent.
//
// A request fails when it cannot be sent or no complete response arrives
// before its deadline (the recorded text then starts with "timed out"),
// when a FastCheck returns an error, or, without a FastCheck, when the
// status is 400 or more. The failure text for such a status is the one
// Locust's FastHttpUser records, "LocustBadStatusCode(code=500)", so that
// failures from Go and Python workers fall into one row of the master's
// failure table. FastHttpUser also fails a few statuses below 400, such as
// 300, 305 and 306, which this client records as successes, as HTTPClient
// does.
//
// The error is non-nil exactly when the request was recorded as a failure,
// or when ctx was cancelled before the request was sent. It is a
// *StatusError for a status of 400 or more without a FastCheck, the check's
// error or a *CheckPanicError for a failed FastCheck, and otherwise wraps
// the cause, such as ErrNoBaseURL or fasthttp.ErrTimeout.
//
// Failures before anything is sent, such as a relative URL without a base
// or an invalid Header, are recorded with a response time of 0.
//
// fasthttp has no contexts, so the client applies ctx at two points. The
// request's deadline is the earlier of ctx's deadline and the client's
// timeout. And just before sending, a cancelled ctx makes the method return
// ctx.Err() without sending or recording anything, as Locust records no
// request of a stopped user, while a ctx past its deadline records a
// timed-out failure with a response time of 0. A cancel while the request is
// in flight does not interrupt it. The request runs until its response or
// its deadline and is recorded as usual. At a quit the worker waits up to
// 200 ms for tasks in flight, so a request that ends later is not reported
// to the master.
func (c *FastHTTPClient) Request(ctx context.Context, method, rawURL string, body []byte, opts ...RequestOption) error {
	return c.request(ctx, method, rawURL, "", body, opts)
}

func (c *FastHTTPClient) request(ctx context.Context, method, rawURL, contentType string, body []byte, opts []RequestOption) error {
	if method == "" {
		method = fasthttp.MethodGet
	}
	cfg := applyRequestOptions(opts)

	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)

	name, err := c.setRequestURI(req, rawURL)
	if err != nil {
		c.b.recordFailure(method, cfg.nameOr(pathOf(rawURL)), 0, err.Error())
		return fmt.Errorf("%s %q: %w", method, rawURL, err)
	}
	name = cfg.nameOr(name)
	if err := cfg.validateForFastHTTP(); err != nil {
		c.b.recordFailure(method, name, 0, err.Error())
		return fmt.Errorf("%s %q: %w", method, rawURL, err)
	}

	req.Header.SetMethod(method)
	// Like net/http, send a Content-Type only when one is given.
	req.Header.SetNoDefaultContentType(true)
	c.setHeaders(req, &cfg)
	if contentType != "" {
		req.Header.SetContentType(contentType)
	}
	if len(body) > 0 {
		req.SetBodyRaw(body)
	}
	return c.send(ctx, req, resp, method, name, &cfg)
}

// Do sends req and reads the response into resp, recording the request
// exactly once, as Request describes. The caller owns both, for example from
// fasthttp.AcquireRequest and fasthttp.AcquireResponse, and may read resp
// after Do returns. A nil resp makes Do use one of its own. A nil req returns
// an error and records nothing.
//
// Do changes req so that it is ready to be sent again: a relative request
// URI ("/path", with no Host header) is replaced with the URL resolved
// against the base URL, the default headers that req lacks and the Header
// options are set, and a redirect leaves req pointing at its target. It
// also turns off fasthttp's default Content-Type, so that, as with Request,
// a request carries a Content-Type only when one is set.
func (c *FastHTTPClient) Do(ctx context.Context, req *fasthttp.Request, resp *fasthttp.Response, opts ...RequestOption) error {
	if req == nil {
		return errors.New("FastHTTPClient.Do: the request is nil; get one with fasthttp.AcquireRequest")
	}
	if resp == nil {
		resp = fasthttp.AcquireResponse()
		defer fasthttp.ReleaseResponse(resp)
	}
	cfg := applyRequestOptions(opts)
	method := methodString(req.Header.Method())

	var name string
	if len(req.Header.Host()) == 0 && len(req.URI().Host()) == 0 {
		rawURL := string(req.RequestURI())
		resolved, err := c.setRequestURI(req, rawURL)
		if err != nil {
			c.b.recordFailure(method, cfg.nameOr(pathOf(rawURL)), 0, err.Error())
			return fmt.Errorf("%s %q: %w", method, rawURL, err)
		}
		name = cfg.nameOr(resolved)
	} else if cfg.name != "" {
		name = cfg.name
	} else {
		name = requestNameOf(string(req.URI().PathOriginal()))
	}
	if err := cfg.validateForFastHTTP(); err != nil {
		c.b.recordFailure(method, name, 0, err.Error())
		return fmt.Errorf("%s %s: %w", method, redactedURL(req.URI().String()), err)
	}

	req.Header.SetNoDefaultContentType(true)
	c.setHeaders(req, &cfg)
	return c.send(ctx, req, resp, method, name, &cfg)
}

// applyRequestOptions returns the configuration that opts set. A request
// without options allocates nothing here, because only the options escape
// the configuration to the heap.
func applyRequestOptions(opts []RequestOption) requestConfig {
	if len(opts) == 0 {
		return requestConfig{}
	}
	cfg := new(requestConfig)
	for _, opt := range opts {
		if opt != nil {
			opt(cfg)
		}
	}
	return *cfg
}

// validateForFastHTTP checks the options of a FastHTTPClient request.
func (cfg *requestConfig) validateForFastHTTP() error {
	if cfg.check != nil {
		return errCheckOnFastHTTPClient
	}
	return validateHeaders(cfg.header)
}

// uriBuffers holds the buffers in which relative URLs are joined to their
// base, so that resolving one allocates nothing.
var uriBuffers = sync.Pool{New: func() any {
	buf := make([]byte, 0, 256)
	return &buf
}}

// setRequestURI sets req's URI to rawURL, resolved against the base URL when
// it is relative, and returns the request's default name in the statistics.
func (c *FastHTTPClient) setRequestURI(req *fasthttp.Request, rawURL string) (string, error) {
	if hasScheme(rawURL) {
		req.SetRequestURI(rawURL)
		if err := checkURL(rawURL, req.URI()); err != nil {
			return "", err
		}
		ensurePath(req.URI())
		return requestNameOf(rawURL), nil
	}
	prefix := c.base
	if prefix == "" {
		var err error
		if prefix, err = c.masterPrefix(); err != nil {
			return "", err
		}
	}

	buf := uriBuffers.Get().(*[]byte)
	defer uriBuffers.Put(buf)
	joined := append((*buf)[:0], prefix...)
	if rawURL != "" && rawURL[0] != '/' && rawURL[0] != '?' {
		joined = append(joined, '/')
	}
	joined = append(joined, rawURL...)
	*buf = joined
	req.SetRequestURIBytes(joined)
	if strings.ContainsRune(rawURL, '%') {
		if err := checkURL(string(joined), req.URI()); err != nil {
			return "", err
		}
	}
	ensurePath(req.URI())

	// The usual case, a base URL without a path and a URL path such as
	// "/items", takes the name from rawURL without an allocation.
	if rawURL != "" && rawURL[0] == '/' && !hasPath(prefix) {
		return requestNameOf(rawURL), nil
	}
	return requestNameOf(string(joined)), nil
}

// checkURL rejects an absolute URL, parsed into uri, that net/http would
// reject too, with its error: one without a host, with an unclosed IPv6 bracket or with an
// invalid percent escape. fasthttp would send such a URL as written, or
// dial a wrong address. Only a URL with one of those signs is parsed, so
// the usual request allocates nothing here.
func checkURL(rawURL string, uri *fasthttp.URI) error {
	if len(uri.Host()) > 0 && !strings.ContainsAny(rawURL, "%[") {
		return nil
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return err
	}
	if u.Host == "" {
		return fmt.Errorf("invalid URL %q: no host; use an absolute URL such as http://127.0.0.1:8080/path", rawURL)
	}
	return nil
}

// hasPath reports whether the absolute URL prefix has a path after its host.
func hasPath(prefix string) bool {
	_, rest, _ := strings.Cut(prefix, "://")
	return strings.IndexByte(rest, '/') >= 0
}

// requestNameOf returns the default statistics name of a request to rawURL,
// which is absolute or starts with "/": the path without the query string,
// or "/" when the path is empty. It is the name HTTPClient gives the same
// URL. For a path of plain characters it returns a substring of rawURL,
// which allocates nothing.
func requestNameOf(rawURL string) string {
	path := rawURL
	if hasScheme(rawURL) {
		_, rest, _ := strings.Cut(rawURL, "://")
		i := strings.IndexAny(rest, "/?#")
		if i < 0 || rest[i] != '/' {
			return "/"
		}
		path = rest[i:]
	}
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	if path == "" {
		return "/"
	}
	for i := 0; i < len(path); i++ {
		if !isPlainPathChar(path[i]) {
			// net/url escapes or decodes such a path, so the name comes
			// from its parser.
			return pathOf(rawURL)
		}
	}
	return path
}

// isPlainPathChar reports whether ch appears in a URL path as it is, with
// no percent-encoding: an unreserved or sub-delims character, ":", "@" or
// "/" (RFC 3986, section 3.3).
func isPlainPathChar(ch byte) bool {
	switch {
	case 'a' <= ch && ch <= 'z', 'A' <= ch && ch <= 'Z', '0' <= ch && ch <= '9':
		return true
	}
	return strings.IndexByte("-._~!$&'()*+,;=:@/", ch) >= 0
}

// setHeaders sets the default headers that req lacks, then the Header
// options of the request.
func (c *FastHTTPClient) setHeaders(req *fasthttp.Request, cfg *requestConfig) {
	for _, h := range c.headers {
		if _, ok := cfg.header[h.key]; ok {
			continue
		}
		if len(req.Header.Peek(h.key)) == 0 {
			req.Header.Set(h.key, h.value)
		}
	}
	for key, values := range cfg.header {
		req.Header.Set(key, values[0])
	}
}

// send sends req, following redirects, and records it: every path through
// send records exactly one success or one failure, except a ctx cancelled
// before sending, which records nothing.
func (c *FastHTTPClient) send(ctx context.Context, req *fasthttp.Request, resp *fasthttp.Response, method, name string, cfg *requestConfig) error {
	if err := ctx.Err(); err != nil {
		if errors.Is(err, context.Canceled) {
			return err
		}
		c.b.recordFailure(method, name, 0, errorText("", err))
		return fmt.Errorf("%s %s: %w", method, redactedURL(req.URI().String()), err)
	}
	if !c.keepAlive {
		req.SetConnectionClose()
	}

	start := time.Now()
	deadline, ctxDeadline := c.deadline(ctx, start)
	err := c.doFollowingRedirects(req, resp, deadline)
	elapsed := time.Since(start)

	if err != nil {
		c.b.recordFailure(method, name, durationMillis(elapsed), fastErrorText(err))
		if ctxDeadline && errors.Is(err, fasthttp.ErrTimeout) {
			return fmt.Errorf("%s %s: %w: %w", method, redactedURL(req.URI().String()), err, context.DeadlineExceeded)
		}
		return fmt.Errorf("%s %s: %w", method, redactedURL(req.URI().String()), err)
	}
	bodyLength := int64(len(resp.Body()))
	if cfg.fastCheck != nil {
		if err := runFastCheck(cfg.fastCheck, resp); err != nil {
			c.b.recordFailure(method, name, durationMillis(elapsed), err.Error())
			return err
		}
		c.b.recordSuccess(method, name, durationMillis(elapsed), bodyLength)
		return nil
	}
	if status := resp.StatusCode(); status >= 400 {
		c.b.recordFailure(method, name, durationMillis(elapsed), locustBadStatusText(status))
		return &StatusError{StatusCode: status, Reason: string(resp.Header.StatusMessage()), Name: name}
	}
	c.b.recordSuccess(method, name, durationMillis(elapsed), bodyLength)
	return nil
}

// deadline returns the earlier of ctx's deadline and start plus the client's
// timeout, or the zero time when there is neither, and whether it is ctx's.
func (c *FastHTTPClient) deadline(ctx context.Context, start time.Time) (deadline time.Time, fromContext bool) {
	if c.timeout > 0 {
		deadline = start.Add(c.timeout)
	}
	if ctxDeadline, ok := ctx.Deadline(); ok && (deadline.IsZero() || ctxDeadline.Before(deadline)) {
		return ctxDeadline, true
	}
	return deadline, false
}

// doFollowingRedirects sends req and follows up to maxRedirects redirects,
// all within deadline. A redirect response without a Location header is
// returned as it is, as net/http does.
func (c *FastHTTPClient) doFollowingRedirects(req *fasthttp.Request, resp *fasthttp.Response, deadline time.Time) error {
	for redirects := 0; ; redirects++ {
		var err error
		if deadline.IsZero() {
			err = c.client.Do(req, resp)
		} else {
			err = c.client.DoDeadline(req, resp, deadline)
		}
		if err != nil {
			return err
		}
		status := resp.StatusCode()
		if !fasthttp.StatusCodeIsRedirect(status) {
			return nil
		}
		location := resp.Header.Peek(fasthttp.HeaderLocation)
		if len(location) == 0 {
			return nil
		}
		if redirects == maxRedirects {
			return errTooManyRedirects
		}
		prepareRedirect(req, status, location)
	}
}

// prepareRedirect points req at location, resolved against req's URL, and
// changes it the way net/http changes a redirected request. After a 301, 302
// or 303 the body and the headers that describe it are dropped, and a
// request other than GET or HEAD becomes a GET. A redirect to another host
// drops the credential headers.
func prepareRedirect(req *fasthttp.Request, status int, location []byte) {
	uri := req.URI()
	oldHost := string(uri.Host())
	uri.UpdateBytes(location)
	ensurePath(uri)

	if status == http.StatusMovedPermanently || status == http.StatusFound || status == http.StatusSeeOther {
		if !req.Header.IsGet() && !req.Header.IsHead() {
			req.Header.SetMethod(fasthttp.MethodGet)
		}
		req.ResetBody()
		for _, key := range bodyHeaders {
			req.Header.Del(key)
		}
	}
	if string(uri.Host()) != oldHost {
		for _, key := range credentialHeaders {
			req.Header.Del(key)
		}
	}
}

// Headers that net/http drops on a redirect: those of the body, when the
// body is dropped, and those with credentials, for another host.
var (
	bodyHeaders = []string{
		fasthttp.HeaderContentLength, fasthttp.HeaderContentType, fasthttp.HeaderContentEncoding,
		fasthttp.HeaderContentLanguage, fasthttp.HeaderContentLocation,
	}
	credentialHeaders = []string{
		fasthttp.HeaderAuthorization, fasthttp.HeaderWWWAuthenticate, fasthttp.HeaderCookie, "Cookie2",
		fasthttp.HeaderProxyAuthorization, fasthttp.HeaderProxyAuthenticate,
	}
)

// ensurePath sets an empty path to "/". fasthttp sends the path as it is,
// because the client disables path normalizing, and an empty one would make
// a request line such as "GET ?q=1 HTTP/1.1".
func ensurePath(uri *fasthttp.URI) {
	if len(uri.PathOriginal()) == 0 {
		uri.SetPath("/")
	}
}

// runFastCheck calls check and turns a panic into a *CheckPanicError.
func runFastCheck(check func(*fasthttp.Response) error, resp *fasthttp.Response) (err error) {
	defer func() {
		if value := recover(); value != nil {
			err = &CheckPanicError{Value: value, Stack: debug.Stack()}
		}
	}()
	return check(resp)
}

// locustBadStatusText returns the failure text that Locust 2.47.0's
// FastHttpUser records for a rejected status, such as
// "LocustBadStatusCode(code=500)": the repr of its LocustBadStatusCode
// exception, which leaves out the URL.
//
// NOTE: Locust's repr garbles URLs that contain ")", and its text then
// differs from this one.
func locustBadStatusText(status int) string {
	return "LocustBadStatusCode(code=" + strconv.Itoa(status) + ")"
}

// fastErrorText returns the text recorded for an error from fasthttp. A
// timeout's text starts with "timed out", as HTTPClient's does.
func fastErrorText(err error) string {
	switch {
	case errors.Is(err, fasthttp.ErrTimeout):
		return "timed out: no complete response before the deadline (WithTimeout or the context's deadline)"
	case errors.Is(err, fasthttp.ErrDialTimeout):
		return "timed out: " + err.Error()
	}
	var small *fasthttp.ErrSmallBuffer
	if errors.As(err, &small) {
		return fmt.Sprintf("response headers larger than %d KiB, the most FastHTTPClient reads; use HTTPClient for this target", fastReadBufferSize>>10)
	}
	return errorText("", err)
}

// methodString returns method as a string, without an allocation for the
// standard methods. fasthttp sends an empty method as GET.
func methodString(method []byte) string {
	switch string(method) {
	case "", fasthttp.MethodGet:
		return fasthttp.MethodGet
	case fasthttp.MethodHead:
		return fasthttp.MethodHead
	case fasthttp.MethodPost:
		return fasthttp.MethodPost
	case fasthttp.MethodPut:
		return fasthttp.MethodPut
	case fasthttp.MethodPatch:
		return fasthttp.MethodPatch
	case fasthttp.MethodDelete:
		return fasthttp.MethodDelete
	case fasthttp.MethodOptions:
		return fasthttp.MethodOptions
	}
	return string(method)
}

// redactedURL returns rawURL with any password replaced by "xxxxx", for
// error messages.
func redactedURL(rawURL string) string {
	if u, err := url.Parse(rawURL); err == nil {
		return u.Redacted()
	}
	return rawURL
}
