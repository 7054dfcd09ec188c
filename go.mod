module github.com/locust-go/boomer

go 1.22

require (
	github.com/HdrHistogram/hdrhistogram-go v1.1.2
	github.com/go-zeromq/zmq4 v0.17.0
	github.com/prometheus/client_model v0.6.1
	github.com/prometheus/common v0.55.0
	github.com/stretchr/testify v1.12.1
	github.com/valyala/fasthttp v1.59.0
	github.com/vmihailenco/msgpack/v5 v5.4.1
	github.com/zeromq/goczmq v4.1.0+incompatible
	golang.org/x/time v0.5.0
)

require (
	github.com/andybalholm/brotli v1.1.1 // indirect
	github.com/go-zeromq/goczmq/v4 v4.2.2 // indirect
	github.com/klauspost/compress v1.17.11 // indirect
	github.com/munnerz/goautoneg v0.0.0-20191010083416-a7dc8b61c822 // indirect
	github.com/valyala/bytebufferpool v1.0.0 // indirect
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/sync v0.11.0 // indirect
	golang.org/x/text v0.22.0 // indirect
	google.golang.org/protobuf v1.34.2 // indirect
)
