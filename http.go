package boomer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// Defaults of NewHTTPClient.
const (
	// DefaultHTTPTimeout is the time limit of one request, body included.
	// It matches the 60 s network timeout of Locust's FastHttpUser, so a
	// target that stops responding cannot hold a user forever.
	DefaultHTTPTimeout = 60 * time.Second
	// DefaultMaxIdleConnsPerHost is high enough that every user keeps its
	// connection open between requests.
	DefaultMaxIdleConnsPerHost = 10000
)

// maxBodyPresize caps the buffer allocated up front from a response's
// Content-Length, so a wrong header cannot make the client allocate a huge
// buffer before any byte arrives. Longer bodies grow as they are read.
const maxBodyPresize = 1 << 20

// ErrNoBaseURL is returned, wrapped, for a relative request URL when the
// client has no base URL and the master sent no host for the current test.
var ErrNoBaseURL = errors.New("relative URL and no base URL: pass WithBaseURL to NewHTTPClient or NewFastHTTPClient, or set the host on the Locust master (--host or the web form)")

// HTTPClient sends HTTP requests and records each one in a Boomer, the way
// the client of Locust's HttpUser does. It is built on net/http: connections
// are kept open and reused, and redirects are followed (at most 10).
//
// One HTTPClient is safe for concurrent use by any number of users, and
// sharing one is the intended use, because users then share its connection
// pool. It keeps no cookies, unlike Locust's HttpUser, whose session stores
// them per user.
type HTTPClient struct {
	urlResolver
	client  *http.Client
	headers http.Header
}

// urlResolver turns relative request URLs into absolute ones, for
// HTTPClient and FastHTTPClient.
type urlResolver struct {
	b *Boomer
	// base is the WithBaseURL value without trailing slashes, or "" to use
	// the master's host.
	base string
	// masterBase caches the parsed master host, which changes only between
	// tests.
	masterBase atomic.Pointer[baseURL]
}

// baseURL is a base URL as validated by parseBaseURL.
type baseURL struct {
	raw    string
	prefix string
	err    error
}

// HTTPOption configures an HTTPClient in NewHTTPClient.
type HTTPOption func(*httpConfig) error

type httpConfig struct {
	baseURL         string
	timeout         time.Duration
	maxIdlePerHost  int
	maxIdleSet      bool
	maxConnsPerHost int
	maxConnsSet     bool
	keepAlive       bool
	keepAliveSet    bool
	transport       http.RoundTripper
	headers         http.Header
}

// WithBaseURL sets the URL that relative request URLs are appended to, for
// example "http://127.0.0.1:8080" or "https://example.com/api". It must be an
// absolute http or https URL without a query or fragment. Without it,
// relative URLs are appended to the host the master sent for the current
// test (see (*Boomer).Host).
func WithBaseURL(rawURL string) HTTPOption {
	return func(c *httpConfig) error {
		prefix, err := parseBaseURL(rawURL)
		if err != nil {
			return fmt.Errorf("WithBaseURL: invalid base URL: %w; pass one such as http://127.0.0.1:8080", err)
		}
		c.baseURL = prefix
		return nil
	}
}

// WithTimeout sets the time limit of one request, from sending it to reading
// the last byte of the response body, redirects included. Zero means no
// limit. The default is DefaultHTTPTimeout.
func WithTimeout(d time.Duration) HTTPOption {
	return func(c *httpConfig) error {
		if d < 0 {
			return fmt.Errorf("WithTimeout(%s): invalid negative timeout; pass a positive duration, or 0 for no limit", d)
		}
		c.timeout = d
		return nil
	}
}

// WithMaxIdleConnsPerHost sets how many idle connections the client keeps
// open per host for reuse. Set it to at least the number of users of this
// worker that share the client, or users open new connections. The default
// is DefaultMaxIdleConnsPerHost.
func WithMaxIdleConnsPerHost(n int) HTTPOption {
	return func(c *httpConfig) error {
		if n < 1 {
			return fmt.Errorf("WithMaxIdleConnsPerHost(%d): invalid count; pass 1 or more, or use WithKeepAlive(false) to open a new connection for every request", n)
		}
		c.maxIdlePerHost = n
		c.maxIdleSet = true
		return nil
	}
}

// WithMaxConnsPerHost sets the maximum number of connections per host,
// idle and in use. A request that finds them all in use waits for one until
// its timeout. HTTPClient has no limit by default, and FastHTTPClient's
// default is DefaultMaxConnsPerHost.
func WithMaxConnsPerHost(n int) HTTPOption {
	return func(c *httpConfig) error {
		if n < 1 {
			return fmt.Errorf("WithMaxConnsPerHost(%d): invalid count; pass 1 or more", n)
		}
		c.maxConnsPerHost = n
		c.maxConnsSet = true
		return nil
	}
}

// WithKeepAlive sets whether connections are reused between requests, which
// they are by default. With false, every request opens a new connection.
func WithKeepAlive(on bool) HTTPOption {
	return func(c *httpConfig) error {
		c.keepAlive = on
		c.keepAliveSet = true
		return nil
	}
}

// WithTransport sets the RoundTripper that sends the requests, for custom
// TLS settings or for tests. It replaces the client's own *http.Transport,
// so WithMaxIdleConnsPerHost and WithKeepAlive cannot be combined with it.
// The RoundTripper must be safe for concurrent use.
func WithTransport(rt http.RoundTripper) HTTPOption {
	return func(c *httpConfig) error {
		if rt == nil {
			return errors.New("WithTransport: the RoundTripper is nil; pass one, or leave the option out to use the default transport")
		}
		c.transport = rt
		return nil
	}
}

// WithHeader adds a header to every request that does not set it itself.
// A later WithHeader with the same key replaces the value.
func WithHeader(key, value string) HTTPOption {
	return func(c *httpConfig) error {
		if err := validateHeader(key, value); err != nil {
			return fmt.Errorf("WithHeader: %w", err)
		}
		if c.headers == nil {
			c.headers = make(http.Header)
		}
		c.headers.Set(key, value)
		return nil
	}
}

// NewHTTPClient returns a client that records its requests in b. It
// validates every option before it returns.
func NewHTTPClient(b *Boomer, opts ...HTTPOption) (*HTTPClient, error) {
	if b == nil {
		return nil, errors.New("NewHTTPClient: the Boomer is nil; pass the *Boomer returned by New")
	}
	cfg := httpConfig{
		timeout:        DefaultHTTPTimeout,
		maxIdlePerHost: DefaultMaxIdleConnsPerHost,
		keepAlive:      true,
	}
	for _, opt := range opts {
		if opt == nil {
			return nil, errors.New("NewHTTPClient: an option is nil; pass options built by the With functions")
		}
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}

	transport := cfg.transport
	if transport != nil {
		if cfg.maxIdleSet || cfg.maxConnsSet || cfg.keepAliveSet {
			return nil, errors.New("NewHTTPClient: WithMaxIdleConnsPerHost, WithMaxConnsPerHost and WithKeepAlive configure the default transport and have no effect with WithTransport; set them on your transport instead")
		}
	} else {
		t := newHTTPTransport(cfg.maxIdlePerHost, cfg.keepAlive)
		t.MaxConnsPerHost = cfg.maxConnsPerHost
		transport = t
	}

	return &HTTPClient{
		urlResolver: urlResolver{b: b, base: cfg.baseURL},
		client:      &http.Client{Transport: transport, Timeout: cfg.timeout},
		headers:     cfg.headers,
	}, nil
}

// newHTTPTransport returns a copy of http.DefaultTransport that keeps up to
// maxIdlePerHost idle connections per host, with no total limit. Like the
// default, it takes its proxy from the environment and tries HTTP/2 over TLS.
func newHTTPTransport(maxIdlePerHost int, keepAlive bool) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 0
	t.MaxIdleConnsPerHost = maxIdlePerHost
	t.DisableKeepAlives = !keepAlive
	return t
}

// CloseIdleConnections closes the connections that no request is using.
func (c *HTTPClient) CloseIdleConnections() {
	c.client.CloseIdleConnections()
}

// RequestOption configures one request.
type RequestOption func(*requestConfig)

type requestConfig struct {
	name   string
	check  func(*Response) error
	header http.Header
	// fastCheck is set by FastCheck, for FastHTTPClient only.
	fastCheck func(*fasthttp.Response) error
}

// Name sets the request's name in the statistics, in place of the URL path.
// Requests with the same method and name share one row, so use it to group
// URLs that differ in an id: Name("/item/[id]"). An empty name keeps the
// URL path.
func Name(name string) RequestOption {
	return func(c *requestConfig) {
		c.name = name
	}
}

// Check makes check decide whether the request succeeded, in place of the
// status rule. It runs after the whole body is read, and only when a
// response arrived. A nil error records a success, even for a status of 400
// or more. An error records a failure with the error's text, and the request
// method returns that error. A check that panics records a failure with the
// text "check panicked: <value>", and the request method returns a
// *CheckPanicError. The check's run time is not part of the response time.
func Check(check func(r *Response) error) RequestOption {
	return func(c *requestConfig) {
		c.check = check
	}
}

// Header sets a header on this request only, replacing a WithHeader default
// of the same key. An invalid key or value makes the request fail, recorded
// as such, before anything is sent.
func Header(key, value string) RequestOption {
	return func(c *requestConfig) {
		if c.header == nil {
			c.header = make(http.Header)
		}
		c.header[http.CanonicalHeaderKey(key)] = []string{value}
	}
}

// Response is a response whose body was read in full. The embedded
// *http.Response has the status, headers and request; its Body is
// http.NoBody, because the body's bytes are in the Body field, which
// shadows it.
type Response struct {
	*http.Response
	// Body is the response body, decompressed when the server sent it
	// with gzip. Its length is the response length recorded.
	Body []byte
	// Elapsed is the response time recorded: from before the request was
	// sent to after the last byte of the body was read.
	Elapsed time.Duration
}

// Text returns the body as a string.
func (r *Response) Text() string {
	return string(r.Body)
}

// JSON decodes the body as JSON into v.
func (r *Response) JSON(v any) error {
	if err := json.Unmarshal(r.Body, v); err != nil {
		return fmt.Errorf("decode JSON body of %s %s: %w", r.Request.Method, r.Request.URL.Redacted(), err)
	}
	return nil
}

// StatusError is returned for a response with a status of 400 or more when
// the request has no Check. Its text has the wording of the HTTPError that
// Python's requests library raises. HTTPClient records the failure as
// HTTPError('<text>'), as Locust 2.47.0's HttpUser records it, so failures
// from Go and Python workers fall into the same row of the master's failure
// table. FastHTTPClient records the text of Locust's FastHttpUser instead
// (see FastHTTPClient.Request).
//
// Unlike requests, which accepts statuses of 600 and more, both clients
// record them as failures too.
type StatusError struct {
	// StatusCode is the response's status code, for example 500.
	StatusCode int
	// Reason is the reason phrase the server sent, for example
	// "Internal Server Error". It may be empty.
	Reason string
	// Name is the request's name in the statistics.
	Name string
}

func (e *StatusError) Error() string {
	kind := "Server Error"
	if e.StatusCode < 500 {
		kind = "Client Error"
	}
	// Locust replaces the URL with the request's name, so requests grouped
	// by Name share one failure row.
	return fmt.Sprintf("%d %s: %s for url: %s", e.StatusCode, kind, e.Reason, e.Name)
}

// CheckPanicError is returned when a Check function panics. The request is
// recorded as a failure with the text "check panicked: <Value>".
type CheckPanicError struct {
	// Value is the value the check panicked with.
	Value any
	// Stack is the goroutine's stack trace at the panic.
	Stack []byte
}

func (e *CheckPanicError) Error() string {
	return fmt.Sprintf("check panicked: %v", e.Value)
}

// Get sends a GET request; see Request.
func (c *HTTPClient) Get(ctx context.Context, rawURL string, opts ...RequestOption) (*Response, error) {
	return c.Request(ctx, http.MethodGet, rawURL, nil, opts...)
}

// Post sends a POST request with the given Content-Type (left out when
// empty) and body; see Request.
func (c *HTTPClient) Post(ctx context.Context, rawURL, contentType string, body io.Reader, opts ...RequestOption) (*Response, error) {
	if contentType != "" {
		opts = append(opts[:len(opts):len(opts)], Header("Content-Type", contentType))
	}
	return c.Request(ctx, http.MethodPost, rawURL, body, opts...)
}

// Request sends a request, reads and closes the response body, and records
// the request exactly once in the client's Boomer. It is safe for concurrent
// use.
//
// rawURL is absolute ("http://host/path") or relative to the base URL
// ("/path"); see WithBaseURL. body may be nil, and a body that is an
// io.Closer is closed, as http.Client.Do closes it, even on errors. The request's row in the
// statistics has the method as its type and, as its name, the URL path
// without the query string, or the name given with Name. Locust's HttpUser
// keeps the query string in its default name; leaving it out here keeps
// URLs that differ only in their query in one row.
//
// A request fails when it cannot be sent or no response arrives (the
// recorded text says "timed out" for a timeout), when the body cannot be
// read, or, without a Check, when the status is 400 or more. With a Check,
// the check decides once the body is read.
//
// The error is non-nil exactly when the request was recorded as a failure,
// so a task can stop at the first failed request with `if err != nil`. The
// *Response is non-nil whenever a response arrived:
//
//   - nothing sent: nil and an error, which wraps ErrNoBaseURL for a
//     relative URL without a base;
//   - sent, but no response (connection refused, timeout before the
//     headers): nil and the *url.Error from net/http;
//   - body read failed: the response with the bytes read so far, and an
//     error wrapping the read error;
//   - status 400 or more without a Check: the response and a *StatusError;
//   - check failed: the response and the check's error, or a
//     *CheckPanicError;
//   - success: the response and nil.
//
// Failures before anything is sent, such as an invalid URL or a relative
// URL without a base, are recorded with a response time of 0. A request
// cut off because its ctx was canceled is not recorded, and the error wraps
// context.Canceled.
func (c *HTTPClient) Request(ctx context.Context, method, rawURL string, body io.Reader, opts ...RequestOption) (*Response, error) {
	if method == "" {
		method = http.MethodGet
	}
	cfg := requestConfig{}
	for _, opt := range opts {
		if opt != nil {
			opt(&cfg)
		}
	}

	fullURL, err := c.resolve(rawURL)
	if err != nil {
		closeRequestBody(body)
		name := cfg.nameOr(pathOf(rawURL))
		c.b.recordFailure(method, name, 0, err.Error())
		return nil, fmt.Errorf("%s %q: %w", method, rawURL, err)
	}
	req, err := http.NewRequestWithContext(ctx, method, fullURL, body)
	if err != nil {
		closeRequestBody(body)
		name := cfg.nameOr(pathOf(rawURL))
		c.b.recordFailure(method, name, 0, err.Error())
		return nil, err
	}
	c.addHeaders(req, &cfg)
	return c.send(req, &cfg)
}

// Do sends req, reads and closes the response body, and records the request
// exactly once. Request describes what is recorded and returned. A relative
// req.URL is resolved against the base URL as in Request. Do leaves req's URL
// and headers unchanged, because it sends a copy when it adds headers or
// resolves the URL. A nil req returns an error and records nothing. Do is
// safe for concurrent use.
func (c *HTTPClient) Do(req *http.Request, opts ...RequestOption) (*Response, error) {
	if req == nil {
		return nil, errors.New("HTTPClient.Do: the request is nil; build one with http.NewRequestWithContext")
	}
	cfg := requestConfig{}
	for _, opt := range opts {
		if opt != nil {
			opt(&cfg)
		}
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	if req.URL == nil {
		closeRequestBody(req.Body)
		c.b.recordFailure(method, cfg.nameOr("/"), 0, "request has no URL")
		return nil, errors.New("HTTPClient.Do: req.URL is nil; build the request with http.NewRequestWithContext")
	}

	if !req.URL.IsAbs() {
		fullURL, err := c.resolve(req.URL.String())
		if err != nil {
			closeRequestBody(req.Body)
			name := cfg.nameOr(pathOf(req.URL.String()))
			c.b.recordFailure(method, name, 0, err.Error())
			return nil, fmt.Errorf("%s %q: %w", method, req.URL.String(), err)
		}
		u, err := url.Parse(fullURL)
		if err != nil {
			closeRequestBody(req.Body)
			name := cfg.nameOr(pathOf(req.URL.String()))
			c.b.recordFailure(method, name, 0, err.Error())
			return nil, fmt.Errorf("%s %q: %w", method, fullURL, err)
		}
		req = req.Clone(req.Context())
		req.URL = u
		req.Host = ""
	} else if c.needsHeaders(req, &cfg) {
		req = req.Clone(req.Context())
	}
	c.addHeaders(req, &cfg)
	return c.send(req, &cfg)
}

func (cfg *requestConfig) nameOr(name string) string {
	if cfg.name != "" {
		return cfg.name
	}
	return name
}

// needsHeaders reports whether addHeaders would change req.
func (c *HTTPClient) needsHeaders(req *http.Request, cfg *requestConfig) bool {
	if len(cfg.header) > 0 {
		return true
	}
	for key := range c.headers {
		if _, ok := req.Header[key]; !ok {
			return true
		}
	}
	return false
}

// addHeaders sets the default headers that req lacks, then the request's own.
func (c *HTTPClient) addHeaders(req *http.Request, cfg *requestConfig) {
	if len(c.headers) == 0 && len(cfg.header) == 0 {
		return
	}
	if req.Header == nil {
		req.Header = make(http.Header)
	}
	for key, values := range c.headers {
		if _, ok := req.Header[key]; !ok {
			req.Header[key] = append([]string(nil), values...)
		}
	}
	for key, values := range cfg.header {
		req.Header[key] = values
	}
}

// send sends req and records it: every path through send records exactly
// one success or one failure.
func (c *HTTPClient) send(req *http.Request, cfg *requestConfig) (*Response, error) {
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	name := cfg.nameOr(requestPath(req.URL))
	if err := validateHeaders(cfg.header); err != nil {
		closeRequestBody(req.Body)
		c.b.recordFailure(method, name, 0, err.Error())
		return nil, fmt.Errorf("%s %s: %w", method, req.URL.Redacted(), err)
	}
	if cfg.fastCheck != nil {
		closeRequestBody(req.Body)
		c.b.recordFailure(method, name, 0, errFastCheckOnHTTPClient.Error())
		return nil, fmt.Errorf("%s %s: %w", method, req.URL.Redacted(), errFastCheckOnHTTPClient)
	}

	start := time.Now()
	httpResp, err := c.client.Do(req)
	if err != nil {
		// A request cut off because its context was cancelled, as a stopped
		// user's is, is not recorded, as Locust records no request of a
		// killed user. A timeout is a failure.
		if errors.Is(err, context.Canceled) && req.Context().Err() != nil {
			return nil, err
		}
		c.b.recordFailure(method, name, durationMillis(time.Since(start)), transportErrorText(err))
		return nil, err
	}
	body, readErr := readBody(httpResp.Body, httpResp.ContentLength)
	httpResp.Body.Close()
	elapsed := time.Since(start)
	httpResp.Body = http.NoBody
	resp := &Response{Response: httpResp, Body: body, Elapsed: elapsed}

	if readErr != nil {
		c.b.recordFailure(method, name, durationMillis(elapsed), errorText("read response body: ", readErr))
		return resp, fmt.Errorf("%s %s: read response body: %w", method, req.URL.Redacted(), readErr)
	}
	if cfg.check != nil {
		if err := runCheck(cfg.check, resp); err != nil {
			c.b.recordFailure(method, name, durationMillis(elapsed), err.Error())
			return resp, err
		}
		c.b.recordSuccess(method, name, durationMillis(elapsed), int64(len(body)))
		return resp, nil
	}
	if httpResp.StatusCode >= 400 {
		statusErr := &StatusError{StatusCode: httpResp.StatusCode, Reason: reasonPhrase(httpResp), Name: name}
		c.b.recordFailure(method, name, durationMillis(elapsed), "HTTPError("+pythonRepr(statusErr.Error())+")")
		return resp, statusErr
	}
	c.b.recordSuccess(method, name, durationMillis(elapsed), int64(len(body)))
	return resp, nil
}

// closeRequestBody closes a request body that is an io.Closer, for a
// request that fails before http.Client.Do, which would have closed it.
func closeRequestBody(body io.Reader) {
	if closer, ok := body.(io.Closer); ok && closer != nil {
		closer.Close()
	}
}

// runCheck calls check and turns a panic into a *CheckPanicError.
func runCheck(check func(*Response) error, resp *Response) (err error) {
	defer func() {
		if value := recover(); value != nil {
			err = &CheckPanicError{Value: value, Stack: debug.Stack()}
		}
	}()
	return check(resp)
}

// resolve returns rawURL when it has a scheme, and otherwise appends it to
// the base URL: the client's, or else the master's host.
func (c *urlResolver) resolve(rawURL string) (string, error) {
	if hasScheme(rawURL) {
		return rawURL, nil
	}
	prefix := c.base
	if prefix == "" {
		var err error
		prefix, err = c.masterPrefix()
		if err != nil {
			return "", err
		}
	}
	return joinURL(prefix, rawURL), nil
}

// masterPrefix returns the master's host for the current test as a base URL
// prefix. The parsed host is cached until the master sends another one.
func (c *urlResolver) masterPrefix() (string, error) {
	host := c.b.Host()
	if cached := c.masterBase.Load(); cached != nil && cached.raw == host {
		return cached.prefix, cached.err
	}
	entry := &baseURL{raw: host}
	if host == "" {
		entry.err = ErrNoBaseURL
	} else if prefix, err := parseBaseURL(host); err != nil {
		entry.err = fmt.Errorf("invalid host on the Locust master: %w; set --host on the master to one such as http://example.com, or pass WithBaseURL to NewHTTPClient or NewFastHTTPClient", err)
	} else {
		entry.prefix = prefix
	}
	c.masterBase.Store(entry)
	return entry.prefix, entry.err
}

// parseBaseURL checks that raw is an absolute http or https URL without a
// query or fragment and returns it without trailing slashes.
func parseBaseURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			err = urlErr.Err
		}
		return "", fmt.Errorf("%q does not parse: %v", raw, err)
	}
	scheme := strings.ToLower(u.Scheme)
	if (scheme != "http" && scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%q is not an absolute http or https URL", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return "", fmt.Errorf("%q has a query or fragment, which belong in the request URL", raw)
	}
	return strings.TrimRight(raw, "/"), nil
}

// hasScheme reports whether rawURL starts with "scheme://", so it is used as
// it is. Locust's HttpSession treats only http:// and https:// URLs as
// absolute; other schemes pass through here so that net/http rejects them
// with a clear error.
func hasScheme(rawURL string) bool {
	i := strings.Index(rawURL, "://")
	if i <= 0 {
		return false
	}
	for j := 0; j < i; j++ {
		ch := rawURL[j]
		switch {
		case 'a' <= ch && ch <= 'z', 'A' <= ch && ch <= 'Z':
		case j > 0 && ('0' <= ch && ch <= '9' || ch == '+' || ch == '-' || ch == '.'):
		default:
			return false
		}
	}
	return true
}

// joinURL appends ref to prefix, which has no trailing slash, as Locust's
// HttpSession does, with exactly one slash between a base path and a
// relative path.
func joinURL(prefix, ref string) string {
	if ref == "" || ref[0] == '/' || ref[0] == '?' {
		return prefix + ref
	}
	return prefix + "/" + ref
}

// requestPath returns u's escaped path, the default request name; "/" when
// it is empty.
func requestPath(u *url.URL) string {
	if p := u.EscapedPath(); p != "" {
		return p
	}
	return "/"
}

// pathOf returns the path of a URL that may not parse, for naming a request
// that failed before it was built.
func pathOf(rawURL string) string {
	if u, err := url.Parse(rawURL); err == nil {
		return requestPath(u)
	}
	if i := strings.IndexAny(rawURL, "?#"); i >= 0 {
		rawURL = rawURL[:i]
	}
	if rawURL == "" {
		return "/"
	}
	return rawURL
}

// reasonPhrase returns the reason phrase from the status line, which
// net/http keeps in Status after the code.
func reasonPhrase(resp *http.Response) string {
	code := strconv.Itoa(resp.StatusCode)
	if reason, ok := strings.CutPrefix(resp.Status, code+" "); ok {
		return reason
	}
	if resp.Status == code {
		return ""
	}
	return http.StatusText(resp.StatusCode)
}

// readBody reads r to the end. It allocates the buffer from contentLength
// when that is known, plus one byte so that the read which returns io.EOF
// needs no new buffer.
func readBody(r io.Reader, contentLength int64) ([]byte, error) {
	size := int64(512)
	if contentLength >= 0 && contentLength < maxBodyPresize {
		size = contentLength + 1
	}
	buf := make([]byte, 0, size)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// transportErrorText returns the text recorded for an error from
// http.Client.Do. It leaves out the URL that *url.Error adds, so requests
// grouped by Name share one failure row.
func transportErrorText(err error) string {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		err = urlErr.Err
	}
	return errorText("", err)
}

// errorText returns prefix and err's text, led by "timed out: " for a
// timeout. It drops the local address of a *net.OpError, whose ephemeral
// port would otherwise give every connection its own failure row.
func errorText(prefix string, err error) string {
	text := err.Error()
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Source != nil {
		text = strings.Replace(text, opErr.Source.String()+"->", "", 1)
	}
	if isTimeout(err) {
		return "timed out: " + prefix + text
	}
	return prefix + text
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var netErr net.Error
	return errors.As(err, &netErr) && netErr.Timeout()
}

// validateHeaders checks the headers given with the Header request option.
func validateHeaders(h http.Header) error {
	for key, values := range h {
		for _, value := range values {
			if err := validateHeader(key, value); err != nil {
				return err
			}
		}
	}
	return nil
}

// validateHeader checks a header field name against the token rule of
// RFC 9110 and the value for the bytes that would break the message.
func validateHeader(key, value string) error {
	if key == "" {
		return fmt.Errorf("header name is empty (value %q); pass a name such as \"Authorization\"", value)
	}
	for i := 0; i < len(key); i++ {
		if !isTokenChar(key[i]) {
			return fmt.Errorf("invalid header name %q: byte %q is not allowed; use letters, digits and !#$%%&'*+-.^_`|~ only", key, key[i])
		}
	}
	if i := strings.IndexAny(value, "\r\n\x00"); i >= 0 {
		return fmt.Errorf("invalid value %q for header %q: it contains %q; remove line breaks and NUL bytes", value, key, value[i])
	}
	return nil
}

func isTokenChar(ch byte) bool {
	switch {
	case 'a' <= ch && ch <= 'z', 'A' <= ch && ch <= 'Z', '0' <= ch && ch <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", ch) >= 0
}
